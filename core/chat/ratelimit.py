"""Per-user and per-chat command rate limits: token buckets, so a burst is fine and a flood is not."""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.lending.models import Actor
from core.ports import Clock

MAX_TRACKED = 10_000  # past this many buckets, idle (full) ones are dropped so memory stays bounded
ACTIVE_WINDOW = 300.0  # a group member who sent nothing for five minutes no longer takes a share of its budget


@dataclass
class _Bucket:
    tokens: float
    at: float
    told: bool = False  # whether this flood was already answered (later refusals stay silent)
    rate: float = 0.0  # commands a minute it refills at (a group member's share changes with who is active)


@dataclass(frozen=True)
class Verdict:
    """What the limiter says about one command."""

    allowed: bool
    wait: int = 0  # whole seconds until the next command would be taken
    tell: bool = False  # the first refusal of a flood is answered; the rest are dropped quietly


class CommandLimiter:
    """Each user may send `per_user` commands a minute; a group chat takes `per_chat`, shared fairly by its members.

    Every bucket allows bursts of a third of its minute. In a group each member active in the last
    few minutes gets an equal share of the group's budget, so two members flooding a group spend
    their own shares and anyone else, the admin included, is still answered.
    """

    def __init__(self, clock: Clock, per_user: int = 30, per_chat: int = 60):
        self.clock = clock
        self.limits = {"user": per_user, "chat": per_chat}  # 0 turns a limit off
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._active: dict[str, dict[str, float]] = {}  # group chat key -> member key -> last command

    def check(self, actor: Actor) -> Verdict:
        """Take one command from the user's bucket (and their share of the group's, in a group); refuse when either is empty."""
        now = self.clock.time()
        wanted: list[tuple[tuple[str, ...], float]] = []
        if self.limits["user"] > 0:
            wanted.append((("user", actor.user.key), float(self.limits["user"])))
        if actor.chat.is_group and self.limits["chat"] > 0:
            wanted.append((("member", actor.chat.key, actor.user.key), self.limits["chat"] / self._members(actor, now)))
        buckets = [(self._refill(key, rate, now), rate) for key, rate in wanted]
        empty = [(b, rate) for b, rate in buckets if b.tokens < 1]
        if empty:
            wait = max((1 - b.tokens) * 60 / rate for b, rate in empty)
            tell = not any(b.told for b, _ in empty)
            for b, _ in empty:
                b.told = True
            return Verdict(False, math.ceil(wait), tell)
        for b, _ in buckets:
            b.tokens -= 1
            b.told = False
        return Verdict(True)

    def _members(self, actor: Actor, now: float) -> int:
        """How many members shared the group's budget lately, this one included."""
        seen = self._active.setdefault(actor.chat.key, {})
        seen.pop(actor.user.key, None)  # re-inserted last: the dict stays ordered oldest activity first,
        seen[actor.user.key] = now  # so the stale are dropped from its front, not found by a scan per command
        while now - next(iter(seen.values())) > ACTIVE_WINDOW:
            del seen[next(iter(seen))]
        return len(seen)

    def _refill(self, key: tuple[str, ...], per_minute: float, now: float) -> _Bucket:
        burst = max(1.0, per_minute / 3)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(burst, now, rate=per_minute)
        else:
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * per_minute / 60)
            bucket.at, bucket.rate = now, per_minute
        return bucket

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        for key, b in list(self._buckets.items()):
            if b.tokens + (now - b.at) * b.rate / 60 >= max(1.0, b.rate / 3):
                del self._buckets[key]
        for chat, seen in list(self._active.items()):
            if all(now - at > ACTIVE_WINDOW for at in seen.values()):
                del self._active[chat]
