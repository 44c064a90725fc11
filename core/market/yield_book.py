"""Where yield pools come from: DefiLlama over HTTP, an SQLite cache refreshed hourly, and the bundled 2022 snapshot."""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import aiohttp

from core.lending.assets import AssetRegistry
from core.lending.numbers import age_text
from core.market.prices.base import SourceError, describe_failure, loads_strict
from core.market.prices.http import retry_after_seconds
from core.market.yields import Pool, lending_pool, names_for, parse_body, parse_borrow_rates, parse_pools, rank_pools
from core.ports import Clock, Storage

log = logging.getLogger(__name__)

# The live /pools answer lists every pool DefiLlama tracks, over 10 MB, far past get_json's 4 MB cap for price answers.
MAX_BODY = 64 * 1024 * 1024
BUNDLED_FILE = "data/yields/defillama-pools-2022-11-06-top.json"
BUNDLED_AS_OF = datetime(2022, 11, 6, 23, 36, 12, tzinfo=UTC).timestamp()  # every record's "timestamp"
FETCHED_AT_KEY = "yields:fetched_at"


# ---------------------------------------------------------------- the source


class DefiLlamaSource:
    """DefiLlama's yields API (GET /pools), with every way it can fail mapped to a SourceError."""

    name = "defillama"

    def __init__(self, session: aiohttp.ClientSession, base_url: str = "https://yields.llama.fi", timeout: float = 20.0):
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.requests = 0  # HTTP requests made, for /status and tests

    async def fetch_pools(self) -> tuple[list[Pool], int]:
        """Every pool DefiLlama lists: (the usable ones, how many records were rejected); SourceError on failure."""
        self.requests += 1
        body = await self._get("/pools")
        # Decoding 10+ MB of JSON takes long enough to stall every chat, so it happens off the event loop.
        return await asyncio.to_thread(parse_body, body)

    async def fetch_borrow_rates(self) -> dict[str, tuple[float | None, float | None]]:
        """What borrowing costs in each lending pool (GET /lendBorrow), by pool id, in percent; SourceError on failure."""
        self.requests += 1
        return await asyncio.to_thread(parse_borrow_rates, await self._get("/lendBorrow"))

    async def _get(self, path: str) -> bytes:
        # Not core.market.prices.http.get_json: it caps bodies at 4 MB and takes one read(), which may stop at the first chunk.
        chunks: list[bytes] = []
        size = 0
        try:
            async with self.session.get(self.base_url + path, timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                if response.status in (418, 429):
                    raise SourceError(self.name, "rate-limited", f"HTTP {response.status}",
                                      retry_after_seconds(response.headers.get("Retry-After")))
                if response.status >= 400:
                    raise SourceError(self.name, f"http-{response.status}", f"HTTP {response.status}")
                async for chunk in response.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    if size > MAX_BODY:
                        raise SourceError(self.name, "bad-body", "answer too large")
                    chunks.append(chunk)
        except SourceError:
            raise
        except TimeoutError:
            raise SourceError(self.name, "timeout", f"no answer within {self.timeout:g}s") from None
        except aiohttp.ClientError as err:
            raise SourceError(self.name, "unreachable", type(err).__name__) from None
        return b"".join(chunks)


# ---------------------------------------------------------------- the book


@functools.cache
def _bundled_pools() -> tuple[Pool, ...]:
    text = resources.files("core.market").joinpath(BUNDLED_FILE).read_text(encoding="utf-8")
    pools, _ = parse_pools(loads_strict(text))
    return tuple(pools)


# DefiLlama's project for each lender preset whose borrow rates it lists (Ethereum markets). In DefiLlama's
# adapters both quote the variable rate as an APR despite the field's name: Aave's variableBorrowRate / 1e25 and
# Comet's getBorrowRate * seconds a year (DefiLlama/yield-server src/adaptors/aave-v3, compound-v3, read 2026-11-24).
LENDING_PROJECTS = {"aave-v3": "aave-v3", "compound-v3": "compound-v3"}


@dataclass(frozen=True)
class BorrowRate:
    """What a debt costs according to the lending data, and where that figure comes from."""

    apr: float  # a fraction: 0.052 is 5.2 %
    reward: float  # rewards paid to borrowers, a fraction (not counted in the carry)
    pool: Pool
    as_of: float
    origin: str  # "live" or "cache", as YieldAnswer's


@dataclass(frozen=True)
class YieldAnswer:
    """Ranked pools and where they come from."""

    pools: list[Pool]  # ranked
    as_of: float  # when the data is from (unix s)
    origin: str  # "live" (fetched within REFRESH_SECONDS), "cache" (older: the fetch failed), "bundled" (2022-11-06)
    note: str  # "" when live, else why not, e.g. "DefiLlama answered with HTTP 500; showing data from 3 h ago"


_COLUMNS = ("pool, chain, project, symbol, tvl_usd, apy_base, apy_reward, apy, apy_mean_30d, stablecoin, il_risk, exposure, "
            "outlier, pool_meta, borrow_base, borrow_reward")


def _pool_from_row(row: dict[str, Any]) -> Pool:
    """A cached pool row back as a Pool (SQLite keeps the flags as 0/1)."""
    flags = {name: bool(row[name]) for name in ("stablecoin", "il_risk", "outlier")}
    return Pool(**{**row, **flags})


class YieldBook:
    """Pools from DefiLlama, cached in SQLite, refreshed in the background, with a bundled snapshot for offline use."""

    REFRESH_SECONDS = 3600
    # After a failed fetch, answers use what we have for this long before trying again, so that a DefiLlama
    # outage costs one user one timeout every few minutes, not every user a timeout on every question.
    RETRY_SECONDS = 300

    def __init__(self, store: Storage, source: DefiLlamaSource | None, clock: Clock, registry: AssetRegistry):
        self.store = store
        self.source = source  # None: offline, cache and bundled snapshot only
        self.clock = clock
        self.registry = registry
        self.last_error = ""  # words for the last failed fetch ("" once one succeeds)
        self.last_rejected = 0  # records the last good fetch threw away as garbage
        self._pools: list[Pool] | None = None  # the cached rows, read from SQLite on first use
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._lock = asyncio.Lock()

    def bundled(self) -> tuple[list[Pool], float]:
        """The 2022-11-06 snapshot shipped in core/market/data/yields, and its time."""
        return list(_bundled_pools()), BUNDLED_AS_OF

    async def refresh(self) -> bool:
        """Fetch every pool now; on success replace the cache, on failure keep it and remember why. Returns success."""
        if self.source is None:
            return False
        async with self._lock:
            return await self._fetch()

    async def answer(self, asset: str, **filters) -> YieldAnswer:
        """The best pools for `asset` (filters: rank_pools' keywords), refreshing first if the cache is stale."""
        await self._refresh_if_due()
        pools, as_of, origin, note = self._data()
        return YieldAnswer(rank_pools(pools, names_for(asset, self.registry), **filters), as_of, origin, note)

    async def refresh_if_due(self) -> None:
        """Fetch first when the cache is older than REFRESH_SECONDS (and the last failure is not too recent)."""
        await self._refresh_if_due()

    def provenance(self) -> YieldAnswer:
        """Where the data comes from now, without pools (for a footer); never touches the network."""
        _, as_of, origin, note = self._data()
        return YieldAnswer([], as_of, origin, note)

    def borrow_rate(self, protocol: str, asset: str) -> BorrowRate | None:
        """The variable borrow rate of `asset` at a lender DefiLlama covers, from the cache, or None (no such data)."""
        project = LENDING_PROJECTS.get(protocol)
        if project is None:
            return None
        pools, as_of, origin, _ = self._data()
        if origin == "bundled":
            return None  # the 2022 snapshot has no borrow rates, and 2022's would mislead anyway
        pool = lending_pool(pools, project, "Ethereum", names_for(asset, self.registry))
        if pool is None or pool.borrow_base is None:
            return None
        return BorrowRate(pool.borrow_base / 100, (pool.borrow_reward or 0.0) / 100, pool, as_of, origin)

    def describe(self) -> str:
        """One line for /status: where yield data comes from now and how old it is (never touches the network)."""
        pools, as_of, origin, note = self._data()
        if origin == "bundled":
            return note
        rated = sum(p.borrow_base is not None for p in pools)
        text = f"DefiLlama, {len(pools):,} pools and {rated:,} borrow rates, {age_text(self.clock.time() - as_of)} old"
        return f"{text} ({note})" if note else text

    def best_for(self, asset: str, **filters) -> Pool | None:
        """The top pool for `asset` from the cache (or the bundled snapshot), without touching the network."""
        pools, _, _, _ = self._data()
        best = rank_pools(pools, names_for(asset, self.registry), **{**filters, "limit": 1})
        return best[0] if best else None

    def issuer_pool(self, project: str, symbol: str) -> Pool | None:
        """A liquid-staking token's own staking pool (Lido's stETH), the largest on Ethereum; None when not listed."""
        pools, _, _, _ = self._data()
        found = [p for p in pools if p.project == project and p.symbol.upper() == symbol and p.chain == "Ethereum"]
        return max(found, key=lambda p: p.tvl_usd) if found else None

    # ------------------------------------------------------------ internals

    def _cache(self) -> list[Pool]:
        if self._pools is None:
            db = self.store.db
            names = [name.strip() for name in _COLUMNS.split(",")]
            self._pools = [_pool_from_row(dict(zip(names, row, strict=True)))
                           for row in db.execute(f"SELECT {_COLUMNS} FROM yield_pools")]
            row = db.execute("SELECT value FROM kv WHERE key = ?", [FETCHED_AT_KEY]).fetchone()
            if row is None:  # rows without the key cannot come from refresh(); trust the rows' own time
                row = db.execute("SELECT max(fetched_at) FROM yield_pools").fetchone()
            self._fetched_at = float(row[0]) if self._pools and row[0] is not None else None
        return self._pools

    def _due(self) -> bool:
        now = self.clock.time()
        self._cache()
        if self._fetched_at is not None and now - self._fetched_at < self.REFRESH_SECONDS:
            return False
        return self._last_attempt is None or now - self._last_attempt >= self.RETRY_SECONDS

    async def _refresh_if_due(self) -> None:
        if self.source is None:
            return
        if self._lock.locked() and self._cache():
            return  # a fetch is under way; answer from the cache now rather than wait up to a timeout for it
        async with self._lock:
            if self._due():
                await self._fetch()

    async def _fetch(self) -> bool:
        assert self.source is not None
        self._last_attempt = self.clock.time()
        try:
            pools, rejected = await self.source.fetch_pools()
            if not pools:  # an empty list is an outage too; it must not wipe a good cache
                raise SourceError(self.source.name, "bad-body", "no usable pools")
        except SourceError as err:
            self.last_error = describe_failure(err.source, err.kind)
            log.warning("yield source %s failed: %s", err.source, err.kind)
            return False
        try:
            rates = await self.source.fetch_borrow_rates()
        except SourceError as err:  # the pools are still good: keep them, without borrow rates this time
            log.warning("yield source %s: no borrow rates: %s", err.source, err.kind)
            rates = {}
        pools = [replace(p, borrow_base=rates[p.pool][0], borrow_reward=rates[p.pool][1]) if p.pool in rates else p
                 for p in pools]
        now = self.clock.time()
        self._save(pools, now)
        self._pools, self._fetched_at = pools, now
        self.last_error, self.last_rejected = "", rejected
        if rejected:
            log.info("yield source %s: %d pools kept, %d garbage records rejected", self.source.name, len(pools), rejected)
        return True

    def _save(self, pools: list[Pool], now: float) -> None:
        rows = [
            (p.pool, p.chain, p.project, p.symbol, p.tvl_usd, p.apy_base, p.apy_reward, p.apy, p.apy_mean_30d,
             int(p.stablecoin), int(p.il_risk), p.exposure, int(p.outlier), p.pool_meta, p.borrow_base, p.borrow_reward, now)
            for p in pools
        ]
        with self.store.transaction() as db:
            db.execute("DELETE FROM yield_pools")
            db.executemany(f"INSERT INTO yield_pools ({_COLUMNS}, fetched_at) VALUES ({', '.join('?' * 17)})", rows)
            db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       [FETCHED_AT_KEY, repr(now)])

    def _why_not_live(self) -> str:
        if self.source is None:
            return "No live yield source is set up"
        if self._lock.locked():  # a download is under way (the one at start, say): that, not a failure, is the truth
            return "Fresh data from DefiLlama is being fetched"
        if self.last_error:
            return self.last_error
        return "DefiLlama has not been asked yet"

    def _data(self) -> tuple[list[Pool], float, str, str]:
        """(pools, as_of, origin, note) from the cache if it has anything, else from the bundled snapshot."""
        cached = self._cache()
        if cached and self._fetched_at is not None:
            age = self.clock.time() - self._fetched_at
            if age < self.REFRESH_SECONDS:
                return cached, self._fetched_at, "live", ""
            return cached, self._fetched_at, "cache", f"{self._why_not_live()}; showing data from {age_text(age)} ago"
        pools, as_of = self.bundled()
        return pools, as_of, "bundled", f"{self._why_not_live()}; showing DefiLlama's snapshot of 2022-11-06, not current rates"
