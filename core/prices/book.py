"""The on-demand price book: asks the sources when a command needs a price, caches briefly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

from ..assets import AssetRegistry
from ..models import Asset, Quote
from ..ports import Clock, PriceSource
from .base import SOURCE_NAMES, PriceSnapshot, SourceError, describe_failure

log = logging.getLogger(__name__)


class OnDemandPriceBook:
    """Fetches on demand from the sources in order, caching each quote for `ttl` seconds.

    A stablecoin no source quotes is taken at its $1 peg, and the reply says so; a stale
    cached quote (up to `max_age`) is better than none, and is shown with its age.
    """

    RETRY_PAUSE = 15.0  # seconds a failed source is left alone by on-demand requests

    def __init__(
        self,
        sources: Sequence[PriceSource],
        registry: AssetRegistry,
        clock: Clock,
        ttl: float = 30.0,
        max_age: float = 4 * 3600,
    ):
        self.sources = list(sources)
        self.registry = registry
        self.clock = clock
        self.ttl = ttl
        self.max_age = max_age
        self._cache: dict[str, tuple[float, Quote]] = {}  # symbol -> (fetched at, quote)
        self._lock = asyncio.Lock()
        self._resting: dict[str, tuple[float, str]] = {}  # source -> (until, why): a failed source rests briefly

    async def snapshot(self, symbols: Iterable[str]) -> PriceSnapshot:
        """Quotes for these symbols, fetching what is not freshly cached."""
        snap = PriceSnapshot()
        now = self.clock.time()
        need: list[Asset] = []
        for symbol in dict.fromkeys(symbols):
            asset = self.registry.get(symbol)
            if asset.fixed:
                snap.quotes[symbol] = Quote(symbol, 1.0, "fixed", now)
                continue
            cached = self._cache.get(symbol)
            if cached and now - cached[0] < self.ttl:
                snap.quotes[symbol] = cached[1]
            else:
                need.append(asset)
        if need:
            async with self._lock:  # one fetch at a time: concurrent commands share its answer
                reasons = await self._fetch(need)
            now = self.clock.time()
            for asset in need:
                cached = self._cache.get(asset.symbol)
                if cached and now - cached[0] < self.max_age:
                    snap.quotes[asset.symbol] = cached[1]
                elif asset.stable:
                    snap.quotes[asset.symbol] = Quote(asset.symbol, 1.0, "peg", now, note="assumed at its $1 peg")
                else:
                    snap.missing[asset.symbol] = reasons.get(asset.symbol, "no source quotes it")
        return snap

    async def _fetch(self, assets: list[Asset]) -> dict[str, str]:
        """Ask each source in turn for what is still missing; returns why each symbol failed."""
        now = self.clock.time()
        remaining = [a for a in assets if not self._fresh(a.symbol, now)]
        reasons: dict[str, str] = {}
        for source in self.sources:
            asking = [a for a in remaining if a.id_for(source.name)]
            if not asking:
                continue
            until, why = self._resting.get(source.name, (0.0, ""))
            if now < until:  # it failed moments ago: do not make every command wait for it again
                reasons.update({a.symbol: why for a in asking})
                continue
            try:
                raw = await source.fetch(asking)
            except SourceError as err:
                log.warning("price source %s failed: %s", source.name, err.kind)
                why = describe_failure(source.name, err.kind)
                self._resting[source.name] = (self.clock.time() + max(err.retry_after or 0, self.RETRY_PAUSE), why)
                reasons.update({a.symbol: why for a in asking})
                continue
            fetched_at = self.clock.time()
            for a in asking:
                quote = raw.get(a.symbol)
                if quote is None:
                    reasons[a.symbol] = f"{SOURCE_NAMES.get(source.name, source.name)} has no valid price for it"
                    continue
                as_of = quote.as_of if quote.as_of is not None else fetched_at
                self._cache[a.symbol] = (fetched_at, Quote(a.symbol, quote.price, source.name, as_of))
            remaining = [a for a in remaining if a.symbol not in raw]
            if not remaining:
                break
        return reasons

    def _fresh(self, symbol: str, now: float) -> bool:
        cached = self._cache.get(symbol)
        return bool(cached and now - cached[0] < self.ttl)
