"""Rendering: HTML escapes what users typed; long messages split without breaking markup."""

from __future__ import annotations

import re

from bot.render import html_text, plain_text, split_message
from core.replies import Button, Line, Reply, Section


def test_user_typed_text_is_escaped():
    reply = Reply("Added #1 (<b>me</b> & co)", (Section("x<y", (Line("a&b", "<script>"),)),), usage="/add <x>")
    html = html_text(reply)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; co" in html
    assert html.startswith("<b>Added #1 (&lt;b&gt;me&lt;/b&gt; &amp; co)</b>")


def test_plain_text_shows_buttons_and_usage():
    text = plain_text(Reply("t", usage="/x", buttons=(Button("Yes", "/remove 1 yes"), Button("No", None))))
    assert "Usage: /x" in text and "[Yes: /remove 1 yes]  [No]" in text


def test_long_messages_split_on_lines_and_keep_markup_whole():
    lines = [f"<b>line {i}</b>: " + "x&amp;y " * 20 for i in range(400)]
    parts = split_message("\n".join(lines), limit=4000)
    assert len(parts) > 1 and all(len(p) <= 4000 for p in parts)
    for part in parts:
        assert part.count("<b>") == part.count("</b>")
    monster = "<b>t</b>: " + "&amp;" * 5000
    for part in split_message(monster, limit=4000):
        assert len(part) <= 4000 and not re.search(r"&[a-z]*$", part)
