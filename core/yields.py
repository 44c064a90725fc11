"""Yield pools from DefiLlama: checked record by record, ranked, cached in SQLite, with a bundled 2022 snapshot.

APYs here are percentages, as DefiLlama gives them (4.6 means 4.6 %); core.carry wants fractions (divide by 100).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources

import aiohttp

from .assets import AssetRegistry, normalise_symbol
from .errors import UnknownAsset
from .ports import Clock
from .prices.base import SourceError, describe_failure, loads_strict
from .prices.http import retry_after_seconds
from .store import Store
from .views import age_text

log = logging.getLogger(__name__)

MAX_SANE_APY = 1000.0  # percent; above it a pool is garbage, not an opportunity
MAX_TEXT = 200  # longest name or id kept: anything longer is garbage that would flood a chat reply
# The live /pools answer lists every pool DefiLlama tracks, over 10 MB, far past get_json's 4 MB cap for price answers.
MAX_BODY = 64 * 1024 * 1024
BUNDLED_FILE = "data/yields/defillama-pools-2022-11-06-top.json"
BUNDLED_AS_OF = datetime(2022, 11, 6, 23, 36, 12, tzinfo=timezone.utc).timestamp()  # every record's "timestamp"
FETCHED_AT_KEY = "yields:fetched_at"


@dataclass(frozen=True)
class Pool:
    """One DefiLlama pool; APYs are percentages, as DefiLlama gives them."""

    pool: str  # DefiLlama's id (a UUID)
    chain: str
    project: str
    symbol: str  # "WETH-USDC"
    tvl_usd: float
    apy_base: float | None
    apy_reward: float | None
    apy: float
    apy_mean_30d: float | None
    stablecoin: bool
    il_risk: bool
    exposure: str  # "single" or "multi"
    outlier: bool

    @property
    def tokens(self) -> tuple[str, ...]:
        """The pool's token symbols, upper-cased: 'WETH-USDC' -> ('WETH', 'USDC')."""
        return tuple(part.upper() for part in self.symbol.split("-") if part)


# ---------------------------------------------------------------- parsing


class _Bad(Exception):
    """A record failed a check (caught per record; never leaves this module)."""


def _number(value: object) -> float | None:
    """A finite JSON number (not a bool, not a numeric string), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer with hundreds of digits
        return None
    return number if math.isfinite(number) else None


def _text(record: dict, key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise _Bad(key)
    return value.strip()


def _apy(record: dict, key: str, required: bool = False) -> float | None:
    value = record.get(key)
    if value is None:
        if required:
            raise _Bad(key)
        return None
    number = _number(value)
    if number is None or not 0 <= number <= MAX_SANE_APY:
        raise _Bad(key)
    return number


def _flag(record: dict, key: str, default: bool | None = None) -> bool:
    value = record.get(key, default)
    if not isinstance(value, bool):
        raise _Bad(key)
    return value


def _pool(record: object) -> Pool:
    if not isinstance(record, dict):
        raise _Bad("not an object")
    tvl = _number(record.get("tvlUsd"))
    if tvl is None or tvl <= 0:
        raise _Bad("tvlUsd")
    il_risk = record.get("ilRisk")
    if il_risk not in ("yes", "no"):
        raise _Bad("ilRisk")
    exposure = record.get("exposure")
    if exposure is not None and (not isinstance(exposure, str) or len(exposure) > MAX_TEXT):
        raise _Bad("exposure")
    # The live API has apyMean30d; older dumps (the bundled snapshot) only have mu, DefiLlama's mean APY.
    mean_key = "apyMean30d" if record.get("apyMean30d") is not None else "mu"
    return Pool(
        pool=_text(record, "pool"),
        chain=_text(record, "chain"),
        project=_text(record, "project"),
        symbol=_text(record, "symbol"),
        tvl_usd=tvl,
        apy_base=_apy(record, "apyBase"),
        apy_reward=_apy(record, "apyReward"),
        apy=_apy(record, "apy", required=True),
        apy_mean_30d=_apy(record, mean_key),
        stablecoin=_flag(record, "stablecoin"),
        il_risk=il_risk == "yes",
        exposure=(exposure or "single").strip() or "single",
        outlier=_flag(record, "outlier", False),
    )


def parse_pools(body: object) -> tuple[list[Pool], int]:
    """The usable pools in a /pools answer (or a bare list of records) and how many records were rejected."""
    records = body
    if isinstance(body, dict):
        if body.get("status", "success") != "success":
            raise SourceError("defillama", "bad-body", "status is not success")
        records = body.get("data")
    if not isinstance(records, list):
        raise SourceError("defillama", "bad-body", "no list of pools")
    pools: list[Pool] = []
    seen: set[str] = set()
    rejected = 0
    for record in records:
        try:
            pool = _pool(record)
        except _Bad:
            rejected += 1
            continue
        if pool.pool in seen:  # the cache is keyed by pool id; a repeated id is a broken answer, keep the first
            rejected += 1
            continue
        seen.add(pool.pool)
        pools.append(pool)
    return pools, rejected


def _parse_body(body: bytes) -> tuple[list[Pool], int]:
    if not body.strip():
        raise SourceError("defillama", "bad-body", "empty answer")
    try:
        data = loads_strict(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        raise SourceError("defillama", "bad-body", "not JSON") from None
    return parse_pools(data)


# ---------------------------------------------------------------- matching and ranking

# Tokens that are the same asset 1:1 (a wrapper redeemable for it), so a pool of one is a pool of the other.
# Staked forms (stETH, wstETH, rETH) move with ETH but are not ETH: they earn, de-peg and redeem differently.
_SAME_ASSET = (frozenset({"ETH", "WETH"}), frozenset({"BTC", "WBTC"}))


def names_for(asset: str, registry: AssetRegistry) -> set[str]:
    """The upper-case pool token symbols that hold this asset 1:1: ETH -> {'ETH', 'WETH'}, stETH -> {'STETH'}."""
    try:
        symbol = registry.lookup(asset).symbol.upper()
    except UnknownAsset:
        # Pools hold many tokens the registry does not know (CRV, GLP); those are looked up by their own name.
        symbol = normalise_symbol(asset)
    for group in _SAME_ASSET:
        if symbol in group:
            return set(group)
    return {symbol}


def _score(pool: Pool) -> float:
    # A pool paying 90 % today on a 30-day mean of 4 % is a spike that will be gone before a user arrives.
    if pool.apy_mean_30d is None:
        return pool.apy
    return min(pool.apy, pool.apy_mean_30d * 1.5)


def rank_pools(
    pools: list[Pool],
    asset_names: set[str],
    *,
    chain: str | None = None,
    min_tvl: float = 1_000_000,
    stable_only: bool = False,
    no_il: bool = False,
    single_only: bool = False,
    include_outliers: bool = False,
    limit: int = 5,
) -> list[Pool]:
    """The best `limit` pools holding any of `asset_names` (exact token match), by APY capped at 1.5x the 30-day mean."""
    names = {name.upper() for name in asset_names}
    wanted_chain = chain.strip().casefold() if chain else None
    kept = [
        pool
        for pool in pools
        if names.intersection(pool.tokens)
        and (wanted_chain is None or pool.chain.casefold() == wanted_chain)
        and pool.tvl_usd >= min_tvl
        and (pool.stablecoin or not stable_only)
        and not (no_il and pool.il_risk)
        and (pool.exposure == "single" or not single_only)
        and (include_outliers or not pool.outlier)
    ]
    kept.sort(key=lambda pool: (-_score(pool), -pool.tvl_usd, pool.pool))
    return kept[: max(limit, 0)]


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
        return await asyncio.to_thread(_parse_body, body)

    async def _get(self, path: str) -> bytes:
        # Not core.prices.http.get_json: it caps bodies at 4 MB and takes one read(), which may stop at the first chunk.
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
        except asyncio.TimeoutError:
            raise SourceError(self.name, "timeout", f"no answer within {self.timeout:g}s") from None
        except aiohttp.ClientError as err:
            raise SourceError(self.name, "unreachable", type(err).__name__) from None
        return b"".join(chunks)


# ---------------------------------------------------------------- the book


@functools.cache
def _bundled_pools() -> tuple[Pool, ...]:
    text = resources.files("core").joinpath(BUNDLED_FILE).read_text(encoding="utf-8")
    pools, _ = parse_pools(loads_strict(text))
    return tuple(pools)


@dataclass(frozen=True)
class YieldAnswer:
    """Ranked pools and where they come from."""

    pools: list[Pool]  # ranked
    as_of: float  # when the data is from (unix s)
    origin: str  # "live" (fetched within REFRESH_SECONDS), "cache" (older: the fetch failed), "bundled" (2022-11-06)
    note: str  # "" when live, else why not, e.g. "DefiLlama answered with HTTP 500; showing data from 3 h ago"


_COLUMNS = "pool, chain, project, symbol, tvl_usd, apy_base, apy_reward, apy, apy_mean_30d, stablecoin, il_risk, exposure, outlier"


class YieldBook:
    """Pools from DefiLlama, cached in SQLite, refreshed in the background, with a bundled snapshot for offline use."""

    REFRESH_SECONDS = 3600
    # After a failed fetch, answers use what we have for this long before trying again, so that a DefiLlama
    # outage costs one user one timeout every few minutes, not every user a timeout on every question.
    RETRY_SECONDS = 300

    def __init__(self, store: Store, source: DefiLlamaSource | None, clock: Clock, registry: AssetRegistry):
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
        """The 2022-11-06 snapshot shipped in core/data/yields, and its time."""
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

    def best_for(self, asset: str, **filters) -> Pool | None:
        """The top pool for `asset` from the cache (or the bundled snapshot), without touching the network."""
        pools, _, _, _ = self._data()
        best = rank_pools(pools, names_for(asset, self.registry), **{**filters, "limit": 1})
        return best[0] if best else None

    # ------------------------------------------------------------ internals

    def _cache(self) -> list[Pool]:
        if self._pools is None:
            db = self.store.db
            self._pools = [
                Pool(*row[:9], stablecoin=bool(row[9]), il_risk=bool(row[10]), exposure=row[11], outlier=bool(row[12]))
                for row in db.execute(f"SELECT {_COLUMNS} FROM yield_pools")
            ]
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
             int(p.stablecoin), int(p.il_risk), p.exposure, int(p.outlier), now)
            for p in pools
        ]
        with self.store.transaction() as db:
            db.execute("DELETE FROM yield_pools")
            db.conn.executemany(f"INSERT INTO yield_pools ({_COLUMNS}, fetched_at) VALUES ({', '.join('?' * 14)})", rows)
            db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       [FETCHED_AT_KEY, repr(now)])

    def _why_not_live(self) -> str:
        if self.last_error:
            return self.last_error
        return "No live yield source is set up" if self.source is None else "DefiLlama has not been reached yet"

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
