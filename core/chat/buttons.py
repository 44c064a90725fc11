"""Buttons the bot issued: one opaque token per button, tied to its chat, message, command, position and presser.

A platform carries only the token (Telegram's callback data, Discord's custom id), so a press of data
the bot never put on that message, a replayed token on another message, or a confirmation pressed by
someone else or after it went stale, finds nothing to run.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace

from core.lending.models import ChatRef, Owner
from core.ports import Clock
from core.replies import Button
from core.storage.store import Store

CONFIRM_TTL = 3600.0  # a confirmation answers the question just asked
BUTTON_TTL = 7 * 86400.0  # a warning's Details and Snooze stay useful for days
PRUNE_EVERY = 3600.0
TOKEN_CHARS = 22  # 16 random bytes, URL-safe: fits Telegram's 64 bytes and Discord's 100 characters
EXPIRED = "That button has expired or does not belong to this message. Send the command again."


@dataclass(frozen=True)
class Issued:
    """What a token stands for."""

    token: str
    chat_key: str
    message_id: str | None
    command: str | None  # None: it only dismisses the message
    presser: str | None  # the one user key allowed to press it (None: anyone in the chat; the command checks rights)
    position_id: int | None  # the position the command must act on, whatever its number is by then
    scope: str | None  # whose plain ids the command means on platforms where that is chosen ("g" group, "u" user)

    @property
    def confirms(self) -> bool:
        """A confirmation ('/remove 1 yes', '/forget yes'): pressed once, then gone."""
        return self.command is not None and self.command.endswith(" yes")


class Refused(Exception):
    """A press that must change nothing; the message says why, for the presser alone."""


def is_token(data: str) -> bool:
    """Whether button data has the form of a token (anything else was never issued)."""
    return len(data) == TOKEN_CHARS and all(c.isalnum() or c in "-_" for c in data)


class ButtonBook:
    """Issues, binds and redeems button tokens, in the database so they outlive a restart."""

    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock
        self._pruned_at = 0.0

    def issue(self, chat: ChatRef, buttons: Iterable[Button], asker: Owner | None = None, scope: str | None = None) -> tuple[str, ...]:
        """A token for each button, in order. A confirmation, its 'Keep it', and anything in a private chat may be
        pressed only by `asker`; the rest by anyone in the chat."""
        buttons = list(buttons)
        now = self.clock.time()
        confirming = any(b.command and b.command.endswith(" yes") for b in buttons)
        rows, tokens = [], []
        for b in buttons:
            token = secrets.token_urlsafe(16)
            personal = asker is not None and (confirming or b.command is None or not chat.is_group)
            holder = asker.key if asker is not None and personal else None
            ttl = CONFIRM_TTL if confirming else BUTTON_TTL
            rows.append((token, chat.key, b.command, holder, b.position, scope, now + ttl))
            tokens.append(token)
        if rows:
            self.store.db.executemany(
                "INSERT INTO buttons (token, chat_key, command, presser, position_id, scope, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows)
        self._prune(now)
        return tuple(tokens)

    def bind(self, tokens: Iterable[str], message_id: object) -> None:
        """The message the tokens were sent on (known only once the platform accepted it)."""
        tokens = list(tokens)
        if tokens and message_id is not None:
            self.store.db.executemany("UPDATE buttons SET message_id = ? WHERE token = ? AND message_id IS NULL",
                                      [(str(message_id), t) for t in tokens])

    def confirms(self, token: str) -> bool:
        """Whether this token would confirm something (adapters pick how to acknowledge a slow press)."""
        row = self.store.db.execute("SELECT command FROM buttons WHERE token = ?", [token]).fetchone() if is_token(token) else None
        return bool(row and row[0] and row[0].endswith(" yes"))

    def redeem(self, token: str, chat: ChatRef, message_id: object, presser: Owner) -> Issued:
        """What a press may run; raises Refused for anything the bot did not issue for this message and person."""
        if not is_token(token):
            raise Refused(EXPIRED)
        row = self.store.db.execute(
            "SELECT token, chat_key, message_id, command, presser, position_id, scope, expires_at FROM buttons WHERE token = ?",
            [token]).fetchone()
        if row is None or row[7] < self.clock.time() or row[1] != chat.key:
            raise Refused(EXPIRED)
        issued = Issued(*row[:7])
        mid = None if message_id is None else str(message_id)
        if issued.message_id is not None and mid is not None and issued.message_id != mid:
            raise Refused(EXPIRED)  # a token copied onto another message
        if issued.presser is not None and issued.presser != presser.key:
            raise Refused("This button is for the person who asked.")
        if issued.message_id is None and mid is not None:
            self.bind([token], mid)  # sent before its id was recorded (a crash between the two): the first press binds it
            issued = replace(issued, message_id=mid)
        return issued

    def spend(self, issued: Issued) -> None:
        """The message's buttons are done with (a confirmation answered, or dismissed): none of them works again."""
        with self.store.transaction() as db:
            if issued.message_id is not None:
                db.execute("DELETE FROM buttons WHERE chat_key = ? AND message_id = ?", [issued.chat_key, issued.message_id])
            db.execute("DELETE FROM buttons WHERE token = ?", [issued.token])

    def _prune(self, now: float) -> None:
        if now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            self.store.db.execute("DELETE FROM buttons WHERE expires_at < ?", [now])
