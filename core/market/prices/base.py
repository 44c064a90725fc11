"""Shared price types: a raw quote from a source, the errors a source raises, a snapshot."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawQuote:
    """A price exactly as a source gave it (already checked to be a finite positive number)."""

    price: float
    as_of: float | None  # unix seconds the source says the price is from, if it says


SOURCE_NAMES = {"coingecko": "CoinGecko", "binance": "Binance", "coinbase": "Coinbase", "defillama": "DefiLlama", "replay": "Replay"}
_KIND_TEXT = {
    "unreachable": "could not be reached",
    "timeout": "did not answer in time",
    "rate-limited": "is rate-limiting us",
    "bad-body": "sent an unreadable answer",
}


def describe_failure(source: str, kind: str) -> str:
    """'CoinGecko did not answer in time': a SourceError kind in words."""
    name = SOURCE_NAMES.get(source, source)
    if kind.startswith("http-"):
        return f"{name} answered with HTTP {kind[5:]}"
    return f"{name} {_KIND_TEXT.get(kind, kind)}"


class SourceError(Exception):
    """A price source failed as a whole; `kind` says how (timeout, http-500, rate-limited, bad-body)."""

    def __init__(self, source: str, kind: str, detail: str = "", retry_after: float | None = None):
        super().__init__(f"{source}: {kind}" + (f" ({detail})" if detail else ""))
        self.source = source
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after


@dataclass
class SourceStatus:
    """One price source as /status shows it."""

    name: str
    status: str  # "ok", "failing (3 in a row): ...", "rate-limited for 40 s more"
    last_ok: float | None
    requests: int


@dataclass
class FeedStatus:
    """The price side of /status."""

    sources: list[SourceStatus] = field(default_factory=list)
    last_tick_at: float | None = None
    last_tick_seconds: float | None = None
    tracked: int = 0
    degraded: dict[str, str] = field(default_factory=dict)


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name} in body")


def loads_strict(text: str) -> object:
    """json.loads that refuses NaN and Infinity instead of returning them."""
    return json.loads(text, parse_constant=_reject_constant)


def as_price(value: object) -> float | None:
    """A finite, positive price from a JSON number or numeric string; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        if len(value) > 40:
            return None
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    price = float(value)
    if not math.isfinite(price) or price <= 0:
        return None
    return price
