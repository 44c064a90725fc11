"""The price feed: asks every source once per tick, passes answers through the guard, serves snapshots."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from core.lending.assets import AssetRegistry
from core.lending.models import Asset, PriceSnapshot, Quote
from core.market.ports import PriceSource
from core.market.prices.base import SOURCE_NAMES, FeedStatus, SourceError, SourceStatus, describe_failure
from core.market.prices.guard import Observation, PriceGuard, Trust
from core.market.prices.history import PriceHistory
from core.ports import Clock

log = logging.getLogger(__name__)

RECENT_INTEREST = 3600.0  # an asset someone asked about stays tracked this long


@dataclass
class SourceHealth:
    """How one price source has been doing."""

    name: str
    requests: int = 0
    failures_in_a_row: int = 0
    last_ok: float | None = None
    last_error: str = ""
    last_error_at: float | None = None
    resting_until: float = 0.0  # after a 429: not asked again before this time
    last_latency: float | None = None

    def status(self, now: float) -> str:
        """'ok', 'rate-limited for 40 s', 'failing: ...' or 'not used yet'."""
        if now < self.resting_until:
            return f"rate-limited for {self.resting_until - now:,.0f} s more"
        if self.failures_in_a_row:
            return f"failing ({self.failures_in_a_row} in a row): {self.last_error}"
        return "ok" if self.last_ok is not None else "not asked yet"


@dataclass
class TickReport:
    """What one tick did."""

    at: float
    duration: float = 0.0
    assets: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    degraded: dict[str, str] = field(default_factory=dict)  # every asset not trusted after this tick
    newly_degraded: dict[str, str] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)


class PriceFeed:
    """The PriceBook the service reads, fed by scheduled ticks and, for new assets, on demand."""

    def __init__(
        self,
        sources: Sequence[PriceSource],
        registry: AssetRegistry,
        clock: Clock,
        guard: PriceGuard | None = None,
        in_use: Callable[[], Iterable[str]] = lambda: (),
        history: PriceHistory | None = None,
        refresh_after: float = 30.0,
    ):
        self.sources = list(sources)
        self.registry = registry
        self.clock = clock
        self.guard = guard or PriceGuard()
        self.in_use = in_use
        self.history = history
        self.refresh_after = refresh_after  # a snapshot re-asks the sources when the last check is older
        self.health = {s.name: SourceHealth(s.name) for s in self.sources}
        self._by_name = {s.name: s for s in self.sources}
        self.last_tick: TickReport | None = None
        self._recent: dict[str, float] = {}
        self._lock = asyncio.Lock()  # ticks and on-demand refreshes never overlap

    # ---------------------------------------------------------------- ticks

    def tracked(self) -> list[Asset]:
        """Assets held in any position or asked about lately (the fixed USD needs no price)."""
        now = self.clock.time()
        self._recent = {a: t for a, t in self._recent.items() if now - t < RECENT_INTEREST}
        symbols = set(self.in_use()) | set(self._recent)
        return [self.registry.get(s) for s in sorted(symbols) if s in self.registry and not self.registry.get(s).fixed]

    async def tick(self) -> TickReport:
        """One scheduled round: every tracked asset, one request per source."""
        async with self._lock:
            report = await self._round(self.tracked())
            self.last_tick = report
            return report

    async def refresh(self, symbols: Iterable[str]) -> TickReport:
        """An on-demand round for these symbols only (an asset just added, a /price)."""
        assets = [self.registry.get(s) for s in symbols if not self.registry.get(s).fixed]
        async with self._lock:
            return await self._round(assets)

    async def _round(self, assets: list[Asset]) -> TickReport:
        started, wall = self.clock.time(), time.perf_counter()
        report = TickReport(at=started, assets=len(assets))
        if not assets:
            return report
        before = {a.symbol: self.guard.state(a.symbol) for a in assets}
        answers, failures = await self._ask_sources(assets, report)
        now = self.clock.time()
        trusted: dict[str, float] = {}
        for asset in assets:
            observations = [Observation(src, q.price, q.as_of) for src, quotes in answers.items()
                            if (q := quotes.get(asset.symbol)) is not None]
            asked = {s: why for s, why in failures.items() if self._by_name[s].supports(asset)}
            for src, quotes in answers.items():
                if asset.symbol not in quotes and self._by_name[src].supports(asset):
                    asked[src] = f"{SOURCE_NAMES.get(src, src)} sent no valid price for it"
            if not observations and not asked:
                continue  # no configured source quotes it (a stablecoin then goes at its peg)
            state = self.guard.update(now, asset.symbol, observations, asked)
            was = before[asset.symbol]
            was_trusted = was.checked_at is not None and was.trust is Trust.TRUSTED
            if state.trust is Trust.TRUSTED and state.price is not None:  # trusted always carries a price
                trusted[asset.symbol] = state.price
                if was.checked_at is not None and not was_trusted:
                    report.restored.append(asset.symbol)
            elif was_trusted or was.checked_at is None:
                report.newly_degraded[asset.symbol] = state.reason
        if self.history is not None and trusted:
            try:
                self.history.record(now, trusted)
            except Exception:  # history is for charts; a failed write must not stop monitoring
                log.exception("could not record price history")
        report.degraded = self.guard.degraded(now)
        report.duration = time.perf_counter() - wall
        return report

    async def _ask_sources(self, assets: list[Asset], report: TickReport):
        """Every source that is not resting, concurrently; returns answers and failures by source."""
        now = self.clock.time()
        calls = {}
        for source in self.sources:
            health = self.health[source.name]
            asking = [a for a in assets if source.supports(a)]
            if not asking:
                continue
            if now < health.resting_until:
                continue
            calls[source.name] = (source, asking)
        results = await asyncio.gather(*(self._ask(src, asking) for src, asking in calls.values()))
        answers, failures = {}, {}
        for name, (result, requests) in zip(calls, results, strict=False):
            report.requests[name] = requests
            if isinstance(result, dict):
                answers[name] = result
            else:
                failures[name] = result
        for source in self.sources:
            health = self.health[source.name]
            if source.name not in calls and now < health.resting_until:
                name = SOURCE_NAMES.get(source.name, source.name)
                failures[source.name] = f"{name} is resting after a rate limit ({health.resting_until - now:,.0f} s left)"
        return answers, failures

    async def _ask(self, source: PriceSource, assets: list[Asset]) -> tuple[dict | str, int]:
        """One source's answer (quotes, or why it failed) and how many requests it took."""
        health = self.health[source.name]
        before = getattr(source, "requests", 0)
        started = time.perf_counter()
        result: dict | str
        try:
            result = await source.fetch(assets)
        except SourceError as err:
            health.failures_in_a_row += 1
            health.last_error, health.last_error_at = describe_failure(source.name, err.kind), self.clock.time()
            if err.kind == "rate-limited":
                # Honour Retry-After; without one back off 30 s, doubling per repeat, at most 10 min.
                pause = err.retry_after if err.retry_after is not None else min(600.0, 30.0 * 2 ** (health.failures_in_a_row - 1))
                health.resting_until = self.clock.time() + pause
            log.warning("price source %s failed: %s", source.name, err.kind)
            result = health.last_error
        except Exception:  # a bug in one source must not take down the tick
            log.exception("price source %s crashed", source.name)
            health.failures_in_a_row += 1
            name = SOURCE_NAMES.get(source.name, source.name)
            health.last_error, health.last_error_at = f"{name} failed unexpectedly", self.clock.time()
            result = health.last_error
        else:
            health.failures_in_a_row = 0
            health.last_ok = self.clock.time()
        requests = max(1, getattr(source, "requests", before + 1) - before)
        health.requests += requests
        health.last_latency = time.perf_counter() - started
        return result, requests

    # ---------------------------------------------------------------- snapshots

    async def snapshot(self, symbols: Iterable[str]) -> PriceSnapshot:
        """Quotes for the service: trusted prices, or the last good one marked untrusted, or why none."""
        wanted = list(dict.fromkeys(symbols))
        now = self.clock.time()
        for s in wanted:
            self._recent[s] = now
        checked = {s: self.guard.state(s).checked_at for s in wanted}
        stale = [s for s, at in checked.items() if not self.registry.get(s).fixed and (at is None or now - at > self.refresh_after)]
        if stale:
            await self.refresh(stale)
        return self.quotes(wanted)

    def quotes(self, symbols: Iterable[str]) -> PriceSnapshot:
        """The current view, without asking anyone."""
        snap = PriceSnapshot()
        now = self.clock.time()
        for symbol in symbols:
            asset = self.registry.get(symbol)
            if asset.fixed:
                snap.quotes[symbol] = Quote(symbol, 1.0, "fixed", now)
                continue
            state = self.guard.state(symbol)
            trust = state.trust_at(now, self.guard.frozen_after)
            if state.price is not None and trust in (Trust.TRUSTED, Trust.DEGRADED):
                snap.quotes[symbol] = Quote(symbol, state.price, "+".join(state.sources), state.at or now,
                                            trusted=trust is Trust.TRUSTED, note=state.reason)
            elif asset.stable:
                # Only a stablecoin no source quotes is simply taken at its peg; one whose quotes
                # failed the guards might be depegging, so the assumption is marked untrusted.
                quoted = any(s.supports(asset) for s in self.sources)
                note = "assumed at its $1 peg" + (f" ({state.reason})" if quoted and state.reason else "")
                snap.quotes[symbol] = Quote(symbol, 1.0, "peg", now, trusted=not quoted, note=note)
            elif trust is Trust.FROZEN:
                snap.missing[symbol] = f"no trusted price for {(now - (state.at or now)) / 3600:,.0f} h ({state.reason})"
            else:
                snap.missing[symbol] = state.reason or "no source quotes it"
        return snap

    def status(self) -> FeedStatus:
        """Source health, the last scheduled tick and what is degraded now."""
        now = self.clock.time()
        return FeedStatus(
            sources=[SourceStatus(h.name, h.status(now), h.last_ok, h.requests) for h in self.health.values()],
            last_tick_at=self.last_tick.at if self.last_tick else None,
            last_tick_seconds=self.last_tick.duration if self.last_tick else None,
            tracked=len(self.tracked()),
            degraded=self.guard.degraded(now),
        )
