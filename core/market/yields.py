"""Yield pools from DefiLlama: the Pool record, strict parsing of /pools answers, matching and ranking.

APYs here are percentages, as DefiLlama gives them (4.6 means 4.6 %); core.market.carry wants fractions (divide by 100).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import UnknownAsset
from core.lending.assets import AssetRegistry, normalise_symbol
from core.market.prices.base import SourceError, loads_strict

MAX_SANE_APY = 1000.0  # percent; above it a pool is garbage, not an opportunity
MAX_TEXT = 200  # longest name or id kept: anything longer is garbage that would flood a chat reply


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
    pool_meta: str | None = None  # DefiLlama's note on which market: None for Aave's core market, "lido-market" ...
    borrow_base: float | None = None  # what borrowing the token costs, percent a year (DefiLlama's /lendBorrow)
    borrow_reward: float | None = None  # rewards paid to borrowers, percent a year
    apy_mean_listed: float | None = None  # the mean APY since the pool was listed (older dumps' mu), when no 30-day mean

    @property
    def mean(self) -> tuple[float, str] | None:
        """(mean APY, what it is a mean of) as the source gives it: the last 30 days, or the time since listing."""
        if self.apy_mean_30d is not None:
            return self.apy_mean_30d, "30-day mean"
        if self.apy_mean_listed is not None:
            return self.apy_mean_listed, "mean since listed"
        return None

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


def _apy(record: dict, key: str) -> float | None:
    value = record.get(key)
    if value is None:
        return None
    number = _number(value)
    if number is None or not 0 <= number <= MAX_SANE_APY:
        raise _Bad(key)
    return number


def _required_apy(record: dict, key: str) -> float:
    number = _apy(record, key)
    if number is None:
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
    meta = record.get("poolMeta")
    if meta is not None and (not isinstance(meta, str) or len(meta) > MAX_TEXT):
        raise _Bad("poolMeta")
    # The live API has apyMean30d; older dumps (the bundled snapshot) only have mu, DefiLlama's mean APY since the
    # pool was listed: a different figure, kept apart so an answer never calls it a 30-day mean.
    listed = _apy(record, "mu") if record.get("apyMean30d") is None else None
    return Pool(
        pool=_text(record, "pool"),
        chain=_text(record, "chain"),
        project=_text(record, "project"),
        symbol=_text(record, "symbol"),
        tvl_usd=tvl,
        apy_base=_apy(record, "apyBase"),
        apy_reward=_apy(record, "apyReward"),
        apy=_required_apy(record, "apy"),
        apy_mean_30d=_apy(record, "apyMean30d"),
        apy_mean_listed=listed,
        stablecoin=_flag(record, "stablecoin"),
        il_risk=il_risk == "yes",
        exposure=(exposure or "single").strip() or "single",
        outlier=_flag(record, "outlier", False),
        pool_meta=(meta or "").strip() or None,
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


def parse_body(body: bytes) -> tuple[list[Pool], int]:
    """A raw /pools answer as (usable pools, rejected count); SourceError when it is not JSON at all."""
    if not body.strip():
        raise SourceError("defillama", "bad-body", "empty answer")
    try:
        data = loads_strict(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        raise SourceError("defillama", "bad-body", "not JSON") from None
    return parse_pools(data)


def parse_borrow_rates(body: bytes) -> dict[str, tuple[float | None, float | None]]:
    """A raw /lendBorrow answer as {pool id: (borrow rate, borrow reward)} in percent; garbage records are skipped."""
    try:
        data = loads_strict(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SourceError("defillama", "bad-body", "not JSON") from None
    if not isinstance(data, list):
        raise SourceError("defillama", "bad-body", "no list of borrow rates")
    rates: dict[str, tuple[float | None, float | None]] = {}
    for record in data:
        try:
            if not isinstance(record, dict):
                raise _Bad("not an object")
            pool, base, reward = _text(record, "pool"), _apy(record, "apyBaseBorrow"), _apy(record, "apyRewardBorrow")
        except _Bad:
            continue
        if base is not None:
            rates.setdefault(pool, (base, reward))
    return rates


def lending_pool(pools: list[Pool], project: str, chain: str, asset_names: set[str]) -> Pool | None:
    """The lending market's own pool for a borrowed token (its main market: no poolMeta), with a borrow rate."""
    names = {name.upper() for name in asset_names}
    found = [p for p in pools if p.project == project and p.chain.casefold() == chain.casefold() and p.pool_meta is None
             and p.borrow_base is not None and len(p.tokens) == 1 and p.tokens[0] in names]
    return max(found, key=lambda p: p.tvl_usd, default=None)


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
    mean = pool.mean
    if mean is None:
        return pool.apy
    return min(pool.apy, mean[0] * 1.5)


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
