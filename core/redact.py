"""Secrets masked in everything the bot writes: logs, the outbox's errors, the database, the line printed at a stop."""

from __future__ import annotations

from typing import overload
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
_secrets: list[str] = []


def _forms(value: str) -> list[str]:
    """The value and the forms it may be echoed in: URL-encoded or decoded, and a URL's path and query alone."""
    forms = {value, quote(value, safe=":/?&=@"), unquote(value)}
    if value.startswith(("http://", "https://")):
        parts = urlsplit(value)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        if len(tail.strip("/")) >= 8:  # a webhook's key usually lives in its path ("/services/T0/B0/XXXX")
            forms |= {tail, unquote(tail)}
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)  # longest first: a URL before its path


def remember(*values: str | None) -> None:
    """Mask these values from now on, wherever scrub() is applied."""
    for value in values:
        for form in _forms(value) if value else ():
            if form not in _secrets:
                _secrets.append(form)
    _secrets.sort(key=len, reverse=True)


@overload
def scrub(text: str) -> str: ...
@overload
def scrub(text: None) -> None: ...
def scrub(text: str | None) -> str | None:
    """`text` with every remembered secret replaced by ***."""
    if not text:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def remembered() -> tuple[str, ...]:
    """What is masked now (for the log filter)."""
    return tuple(_secrets)
