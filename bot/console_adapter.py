"""The console chat: stdin/stdout, no token needed; scriptable when stdin is not a terminal."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from core.models import Actor, ChatRef, Owner
from core.service import Assistant

from .render import plain_text

QUIT = {"/quit", "/exit", "quit", "exit"}
BANNER = "collateral-bot console. Type /start for a tour, /help for commands, /quit to leave."


def console_actor(user: str) -> Actor:
    """The person typing at this console."""
    return Actor(Owner("console", "user", user), ChatRef("console", user), name=user)


class ConsoleChat:
    """Reads one command per line, prints each reply; exits at end of input or /quit."""

    def __init__(self, assistant: Assistant, user: str, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout):
        self.assistant = assistant
        self.actor = console_actor(user)
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = stdin.isatty() and stdout.isatty()

    def say(self, text: str) -> None:
        """Print a block of text followed by a blank line."""
        self.stdout.write(text + "\n\n")
        self.stdout.flush()

    async def _read(self) -> str | None:
        # Reading in a thread keeps the event loop free for the scheduler and notifier.
        if self.interactive:
            try:
                return await asyncio.to_thread(input, f"{self.actor.name}> ")
            except EOFError:
                return None
        line = await asyncio.to_thread(self.stdin.readline)
        return line if line else None

    async def run(self) -> None:
        """The read-reply loop."""
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
                break
            if not text.startswith("/"):
                text = "/" + text
            reply = await self.assistant.handle(self.actor, text)
            self.say(plain_text(reply))
