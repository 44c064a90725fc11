"""Reply -> text: plain for the console, HTML for Telegram (split to its limit), the parts of a Discord embed."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape, unescape

from discord.utils import escape_markdown

from core.replies import Line, Reply, Section
from core.watch.notices import Notice, notice_reply


def _section_text(section: Section) -> list[str]:
    out = []
    if section.title:
        out.append(section.title)
    width = max((len(line.label) for line in section.lines if line.label), default=0)
    for line in section.lines:
        out.append(_line_text(line, width))
    return out


def _line_text(line: Line, width: int) -> str:
    if not line.label:
        # In a labelled section an unlabelled line continues the one above, so it aligns with values.
        return f"  {' ' * (width + 2) if width else ''}{line.value}"
    return f"  {line.label.ljust(width)}  {line.value}".rstrip()


def plain_text(reply: Reply) -> str:
    """Plain text with aligned labels; errors start with 'Sorry:' and end with the usage line."""
    lines = [("Sorry: " if reply.error else "") + reply.title]
    for section in reply.sections:
        lines.extend(_section_text(section))
    if reply.usage:
        lines.append(f"Usage: {reply.usage}")
    if reply.footer:
        lines.append(reply.footer)
    if reply.buttons:
        lines.append("  ".join(f"[{b.label}{': ' + b.command if b.command else ''}]" for b in reply.buttons))
    if reply.attachment is not None and reply.attachment.mime in ("application/json", "text/plain"):
        lines.append(reply.attachment.content.decode())
    return "\n".join(lines)


def html_text(reply: Reply) -> str:
    """Telegram HTML: bold title and labels, code for usage; everything else escaped (users typed it)."""
    out = [("⚠️ " if reply.error else "") + f"<b>{escape(reply.title)}</b>"]
    for section in reply.sections:
        if section.title:
            out.append(f"\n<b>{escape(section.title)}</b>")
        for line in section.lines:
            if line.label:
                out.append(f"<b>{escape(line.label)}</b>: {escape(line.value)}")
            else:
                out.append(escape(line.value))
    if reply.usage:
        out.append(f"\nUsage: <code>{escape(reply.usage)}</code>")
    if reply.footer:
        out.append(f"\n<i>{escape(reply.footer)}</i>")
    return "\n".join(out)


def split_message(text: str, limit: int = 4000) -> list[str]:
    """Cut a long message at line breaks so each part fits the platform's limit."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        if len(line) > limit:  # one overlong line: drop its markup and cut its text where no tag or entity breaks
            if current:
                parts.append(current)
                current = ""
            plain = unescape(re.sub(r"<[^>]+>", "", line))
            step = limit // 6  # escaping can grow text up to 6 times (& -> &amp;)
            parts.extend(escape(plain[i : i + step]) for i in range(0, len(plain), step))
            continue
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


SEVERITY_COLOURS = {0: 0x5865F2, 1: 0x2ECC71, 2: 0xF1C40F, 3: 0xE67E22, 4: 0xE74C3C}  # info, ok, warning, danger, liquidatable
ERROR_COLOUR = 0x95A5A6


def embed_parts(reply: Reply) -> dict:
    """A Discord embed as a dict (title, description, colour, fields, footer), within Discord's limits.

    Markdown characters users typed are escaped; embeds never ping anyone.
    """
    def md(text: str) -> str:
        return escape_markdown(text)

    description, fields, cut = [], [], False
    for section in reply.sections:
        lines = [f"**{md(line.label)}**: {md(line.value)}" if line.label else md(line.value) for line in section.lines]
        if section.title or description or fields:
            value = "\n".join(lines) or "\u200b"
            cut = cut or len(value) > 1024
            fields.append({"name": md(section.title or "\u200b")[:256], "value": value[:1024]})
        else:
            description = lines
    if reply.usage:
        fields.append({"name": "Usage", "value": f"`{reply.usage}`"[:1024]})
    colour = ERROR_COLOUR if reply.error else SEVERITY_COLOURS.get(int(reply.severity), SEVERITY_COLOURS[0])
    text = "\n".join(description)
    cut = cut or len(text) > 4096 or len(fields) > 25
    return {"title": md(reply.title)[:256], "description": text[:4096], "colour": colour,
            "fields": fields[:25], "footer": (reply.footer or "")[:2048], "cut": cut}


def fitted_notice(notice: Notice, fits: Callable[[Reply], bool]) -> Reply:
    """The notice as one message: the least urgent items give way (and are counted) until `fits` holds."""
    reply = notice_reply(notice)
    shown = len(notice.items)
    while shown > 1 and not fits(reply):
        shown -= 1
        reply = notice_reply(notice, shown)
    return reply
