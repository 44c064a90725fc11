"""Cleaning names that come from a platform (a Telegram first name, a Discord nick, a group's title) before they are shown."""

from __future__ import annotations

import unicodedata

MAX_NAME = 40
_HIDDEN = ("Cc", "Cf", "Cs", "Co", "Cn")  # controls, formats (bidi overrides, zero-width), surrogates, private, unassigned


def clean_name(text: str | None, limit: int = MAX_NAME) -> str:
    """NFKC, without control or invisible characters (a right-to-left override would reverse what follows), one space
    between words, at most `limit` characters; '' when nothing visible is left."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    visible = "".join(" " if ch.isspace() else ch for ch in text if unicodedata.category(ch) not in _HIDDEN)
    return " ".join(visible.split())[:limit].strip()
