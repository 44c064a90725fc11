"""Notifiers: deliver pushed warnings (core.watch.delivery.Notifier) to the console, or to a webhook."""

from __future__ import annotations

import json
from collections.abc import Callable

import aiohttp

from core.lending.models import ChatRef
from core.market.prices.http import retry_after_seconds
from core.watch.delivery import MaybeDelivered, RetryLater, Undeliverable
from core.watch.notices import Notice, notice_reply

from .render import plain_text


class ConsoleNotifier:
    """Prints the console user's warnings inline, between replies."""

    platform = "console"

    def __init__(self, user: str, write: Callable[[str], None]):
        self.user = user
        self.write = write

    def accepts(self, chat: ChatRef) -> bool:
        """Only this console's own user."""
        return chat.chat_id == self.user

    async def send(self, chat: ChatRef, notice: Notice) -> None:
        """Printed (and flushed) is delivered."""
        self.write(">>> " + plain_text(notice_reply(notice)).replace("\n", "\n    ") + "\n")


class WebhookNotifier:
    """POSTs the console user's warnings as JSON to ALERT_WEBHOOK_URL (and echoes them on the console).

    Delivered means the webhook answered 2xx; 429 with Retry-After waits; 404, 403 and 410
    disable it; other failures are retried.
    """

    platform = "console"

    def __init__(self, user: str, url: str, session: aiohttp.ClientSession, echo: ConsoleNotifier | None = None, timeout: float = 10.0):
        self.user, self.url, self.session, self.echo, self.timeout = user, url, session, echo, timeout

    def accepts(self, chat: ChatRef) -> bool:
        """Only this console's own user."""
        return chat.chat_id == self.user

    async def send(self, chat: ChatRef, notice: Notice) -> None:
        """POST, then echo."""
        reply = notice_reply(notice)
        body = {"alert_id": notice.alert_id, "chat": chat.key, "title": reply.title, "text": plain_text(reply),
                "tick_at": notice.tick_at, "items": [{"kind": i.kind, "level": i.level, "ref": i.ref, "text": i.text} for i in notice.items]}
        try:
            async with self.session.post(self.url, data=json.dumps(body), headers={"Content-Type": "application/json"},
                                         timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                if response.status == 429:
                    raise RetryLater(retry_after_seconds(response.headers.get("Retry-After")) or 5.0, "global")
                if response.status in (403, 404, 410):
                    raise Undeliverable(f"webhook answered HTTP {response.status}")
                if response.status >= 300:
                    raise ConnectionError(f"webhook answered HTTP {response.status}")
        except TimeoutError:
            raise MaybeDelivered("webhook did not answer in time") from None
        if self.echo is not None:
            await self.echo.send(chat, notice)
