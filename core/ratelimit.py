"""Per-user and per-chat command rate limits: token buckets, so a burst is fine and a flood is not."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .models import Actor
from .ports import Clock

MAX_TRACKED = 10_000  # past this many buckets, idle (full) ones are dropped so memory stays bounded


@dataclass
class _Bucket:
    tokens: float
    at: float
    told: bool = False  # whether this flood was already answered (later refusals stay silent)


@dataclass(frozen=True)
class Verdict:
    """What the limiter says about one command."""

    allowed: bool
    wait: int = 0  # whole seconds until the next command would be taken
    tell: bool = False  # the first refusal of a flood is answered; the rest are dropped quietly


class CommandLimiter:
    """Each user may send `per_user` commands a minute, each group chat `per_chat`, with bursts of a third of that."""

    def __init__(self, clock: Clock, per_user: int = 30, per_chat: int = 60):
        self.clock = clock
        self.limits = {"user": per_user, "chat": per_chat}  # 0 turns a limit off
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def check(self, actor: Actor) -> Verdict:
        """Take one command from the user's bucket (and the group's, in a group); refuse when either is empty."""
        now = self.clock.time()
        keys = [("user", actor.user.key)]
        if actor.chat.is_group:
            keys.append(("chat", actor.chat.key))
        keys = [k for k in keys if self.limits[k[0]] > 0]
        buckets = [self._refill(k, now) for k in keys]
        empty = [(k, b) for k, b in zip(keys, buckets) if b.tokens < 1]
        if empty:
            wait = max((1 - b.tokens) * 60 / self.limits[k[0]] for k, b in empty)
            tell = not any(b.told for _, b in empty)
            for _, b in empty:
                b.told = True
            return Verdict(False, math.ceil(wait), tell)
        for b in buckets:
            b.tokens -= 1
            b.told = False
        return Verdict(True)

    def _refill(self, key: tuple[str, str], now: float) -> _Bucket:
        per_minute = self.limits[key[0]]
        burst = max(1.0, per_minute / 3)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(burst, now)
        else:
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * per_minute / 60)
            bucket.at = now
        return bucket

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        for key, b in list(self._buckets.items()):
            per_minute = self.limits[key[0]]
            if b.tokens + (now - b.at) * per_minute / 60 >= max(1.0, per_minute / 3):
                del self._buckets[key]
