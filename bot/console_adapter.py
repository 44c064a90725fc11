"""The console chat: stdin/stdout, no token needed; scriptable when stdin is not a terminal."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from core.chat.assistant import Assistant
from core.lending.models import Actor, ChatRef, Owner
from core.lending.numbers import fmt_usd
from core.market.prices.feed import PriceFeed
from core.ports import Clock

from .render import plain_text

QUIT = {"/quit", "/exit", "quit", "exit"}
BANNER = "collateral-bot console. Type /start for a tour, /help for commands, /quit to leave."


def console_actor(user: str) -> Actor:
    """The person typing at this console."""
    return Actor(Owner("console", "user", user), ChatRef("console", user), name=user)


class ConsoleChat:
    """Reads one command per line, prints each reply; exits at end of input or /quit."""

    def __init__(self, assistant: Assistant, user: str, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
                 files: Path | None = None):
        self.assistant = assistant
        self.files = files  # where pictures are saved (a terminal cannot show them)
        self.actor = console_actor(user)
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = stdin.isatty() and stdout.isatty()

    def say(self, text: str) -> None:
        """Print a block of text followed by a blank line."""
        self.stdout.write(text + "\n\n")
        self.stdout.flush()

    async def _progress(self, text: str) -> None:
        """Word while a command still runs (a queued chart)."""
        self.say(text)

    def notice(self, text: str) -> None:
        """Print one pushed line (a replay tick, a price notice)."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    async def _read(self) -> str | None:
        # Reading in a thread keeps the event loop free for the scheduler.
        if self.interactive:
            try:
                return await asyncio.to_thread(input, f"{self.actor.name}> ")
            except EOFError:
                return None
        line = await asyncio.to_thread(self.stdin.readline)
        return line if line else None

    async def run(self, until_done: asyncio.Task | None = None) -> None:
        """The read-reply loop; with `until_done` (a replay), piped input waits for it to finish."""
        if self.interactive:
            self.say(BANNER)
        while True:
            line = await self._read()
            if line is None:
                break
            text = line.strip()
            if not text:
                continue
            if text.lower() in QUIT:
                return
            if not text.startswith("/"):
                text = "/" + text
            reply = await self.assistant.handle(self.actor, text, self._progress)
            self.say(plain_text(reply) + self._save(reply))
        if until_done is not None:
            await until_done

    def _save(self, reply) -> str:
        """Pictures go to a file; the reply says where."""
        attachment = reply.attachment
        if attachment is None or not attachment.mime.startswith("image/") or self.files is None:
            return ""
        self.files.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = self.files / f"{Path(attachment.filename).stem}-{stamp}{Path(attachment.filename).suffix}"
        path.write_bytes(attachment.content)
        return f"\nSaved the picture to {path}"


class ReplayTicker:
    """Prints the replay as it unfolds: an hourly line of prices and positions, and each price notice."""

    def __init__(self, chat: ConsoleChat, feed: PriceFeed, clock: Clock):
        self.chat = chat
        self.feed = feed
        self.clock = clock
        self.first: dict[str, float] = {}
        self.low: dict[str, tuple[float, float]] = {}
        self.last: dict[str, float] = {}

    async def after_tick(self) -> None:
        """Called after each replay tick."""
        report = self.feed.last_tick
        now = self.clock.time()
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M")
        if report is not None:
            for asset, why in report.newly_degraded.items():
                self.chat.notice(f"{stamp}  ! {asset} price not trusted: {why}")
            for asset in report.restored:
                self.chat.notice(f"{stamp}  ✓ {asset} price trusted again")
        assets = [a.symbol for a in self.feed.tracked() if not a.stable]
        snap = self.feed.quotes(assets)
        for asset, quote in snap.quotes.items():
            if quote.trusted:
                self.first.setdefault(asset, quote.price)
                self.last[asset] = quote.price
                if asset not in self.low or quote.price < self.low[asset][0]:
                    self.low[asset] = (quote.price, now)
        if int(now) % 3600 != 2700:  # one line per hour, at its close
            return
        prices = "  ".join(
            f"{a} {fmt_usd(q.price)} ({q.price / self.first[a] - 1:+.1%})" for a, q in sorted(snap.quotes.items()) if a in self.first
        )
        pulse = self.chat.assistant.pulse(self.chat.actor)
        self.chat.notice(f"{stamp}  {prices}" + (f"  |  {pulse}" if pulse else ""))

    def summary(self) -> str:
        """Where each asset started, bottomed and ended."""
        lines = ["Replay finished."]
        for asset in sorted(self.first):
            low, when = self.low[asset]
            day = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M")
            lines.append(f"  {asset}: {fmt_usd(self.first[asset])} -> low {fmt_usd(low)} ({day}) -> {fmt_usd(self.last[asset])}")
        return "\n".join(lines)
