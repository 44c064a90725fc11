"""Emulated DefiLlama yields API (GET /pools) on 127.0.0.1, with switchable faults.

Faults that spoil the whole answer: "500", "429" (with Retry-After), "slow" (past the client's timeout),
"truncated", "html", "empty", "not-list" ({"data": {...}}) and "nan" (one record with a literal NaN, which the
strict parser must refuse, so the whole body is rejected). Garbage inside an otherwise good answer lives in
sample_pools() instead: those records must be dropped one by one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web

from tests.emulators.prices import transport_fault

FAULTS = ("500", "429", "slow", "truncated", "html", "empty", "not-list", "nan")

# Written by hand so that NaN appears literally, as a careless server would send it; json.dumps here runs with
# allow_nan=False and could not produce it.
NAN_RECORD = (
    '{"chain": "Ethereum", "project": "nan-finance", "symbol": "USDC", "tvlUsd": 500000000, "apyBase": NaN, '
    '"apyReward": null, "apy": NaN, "pool": "0000nan0-0000-4000-8000-000000000000", "stablecoin": true, '
    '"ilRisk": "no", "exposure": "single", "apyMean30d": null, "outlier": false}'
)


@dataclass
class LlamaState:
    """What the emulated API answers."""

    pools: list[dict]  # raw DefiLlama pool records
    fault: str | None = None
    delay: float = 5.0
    requests: int = 0  # GET /pools
    retry_after: int = 1
    borrow: list[dict] = field(default_factory=list)  # raw /lendBorrow records
    borrow_fault: str | None = None  # "500" or "garbage" (not JSON) for /lendBorrow alone
    borrow_requests: int = 0


def defillama_app(state: LlamaState) -> web.Application:
    """GET /pools -> {"status": "success", "data": pools}, or the fault."""

    async def pools(request: web.Request) -> web.Response:
        state.requests += 1
        fault = state.fault
        if fault != "truncated" and (answer := await transport_fault(state)) is not None:
            return answer
        records = ",\n".join(json.dumps(p, allow_nan=False) for p in state.pools)
        if fault == "truncated":
            text = '{"status": "success", "data": [' + records
            return web.Response(text=text[: max(20, len(text) // 2)], content_type="application/json")
        if fault == "not-list":
            return web.json_response({"status": "success", "data": {"pools": len(state.pools)}})
        if fault == "nan":
            records = ",\n".join(filter(None, (records, NAN_RECORD)))
        return web.Response(text='{"status": "success", "data": [' + records + "]}", content_type="application/json")

    async def lend_borrow(request: web.Request) -> web.Response:
        state.borrow_requests += 1
        if state.borrow_fault == "500":
            return web.Response(status=500, text="internal error")
        if state.borrow_fault == "garbage":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        return web.json_response(state.borrow)

    app = web.Application()
    app.router.add_get("/pools", pools)
    app.router.add_get("/lendBorrow", lend_borrow)
    return app


def sample_borrow_rates() -> list[dict]:
    """/lendBorrow records for the sample pools: Aave's USDC and WETH, Compound's USDC with a COMP reward, and garbage."""
    ids = GOOD_POOL_IDS
    return [
        {"pool": ids[0], "apyBaseBorrow": 5.3, "apyRewardBorrow": None, "totalSupplyUsd": 1.5e9, "totalBorrowUsd": 1.2e9,
         "ltv": 0.75, "borrowable": True},
        {"pool": ids[1], "apyBaseBorrow": 6.1, "apyRewardBorrow": 0.4, "totalSupplyUsd": 6e8, "totalBorrowUsd": 5e8,
         "ltv": 0, "borrowable": True},
        {"pool": ids[5], "apyBaseBorrow": 2.6, "apyRewardBorrow": None, "totalSupplyUsd": 2.5e9, "totalBorrowUsd": 2e9,
         "ltv": 0.8, "borrowable": True},
        {"pool": ids[6], "apyBaseBorrow": 9.9},  # Arbitrum's WETH: not the Ethereum market a preset means
        {"pool": "bad-01", "apyBaseBorrow": -1.0},
        {"pool": ids[2], "apyBaseBorrow": "7"},  # a string: rejected, so morpho has no rate
        "not a record",
    ]


def _pool(pool: str, chain: str, project: str, symbol: str, tvl: float, apy_base: float | None, apy_reward: float | None,
          apy: float | None, mean: float | None, *, stablecoin: bool = False, il_risk: str = "no", exposure: str = "single",
          outlier: bool = False) -> dict:
    """A record shaped like the live API's (the bundled snapshot's keys, with apyMean30d instead of mu)."""
    return {
        "chain": chain, "project": project, "symbol": symbol, "tvlUsd": tvl, "apyBase": apy_base, "apyReward": apy_reward,
        "apy": apy, "pool": pool, "apyPct1D": 0.01, "apyPct7D": -0.12, "apyPct30D": 0.3, "stablecoin": stablecoin,
        "ilRisk": il_risk, "exposure": exposure,
        "predictions": {"predictedClass": "Stable/Up", "predictedProbability": 62, "binnedConfidence": 1},
        "poolMeta": None, "apyMean30d": mean, "outlier": outlier, "rewardTokens": None, "underlyingTokens": [],
    }


GOOD_POOL_IDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 12)]
SPIKE_POOL = "5b1e0000-0000-4000-8000-000000000090"
OUTLIER_POOL = "0u71e700-0000-4000-8000-000000000060"
GOOD_COUNT = 11 + 2  # the good pools, the spike and the outlier
GARBAGE_COUNT = 14


def sample_pools() -> list[dict]:
    """Realistic records, a one-day spike, an outlier, and GARBAGE_COUNT records that must each be rejected."""
    ids = GOOD_POOL_IDS
    good = [
        _pool(ids[0], "Ethereum", "aave-v3", "USDC", 1_200_000_000, 4.1, None, 4.1, 4.3, stablecoin=True),
        _pool(ids[1], "Ethereum", "compound-v3", "USDC", 500_000_000, 4.6, 0.6, 5.2, 5.0, stablecoin=True),
        _pool(ids[2], "Base", "morpho-blue", "USDC", 80_000_000, 7.5, None, 7.5, 7.0, stablecoin=True),
        _pool(ids[3], "Ethereum", "uniswap-v3", "USDC-WETH", 200_000_000, 25.0, None, 25.0, 22.0, il_risk="yes",
              exposure="multi"),
        _pool(ids[4], "Ethereum", "lido", "STETH", 7_000_000_000, 3.2, None, 3.2, 3.3),
        _pool(ids[5], "Ethereum", "aave-v3", "WETH", 2_000_000_000, 2.0, None, 2.0, 2.1),
        _pool(ids[6], "Arbitrum", "aave-v3", "WETH", 300_000_000, 2.4, None, 2.4, 2.2),
        _pool(ids[7], "Ethereum", "ether.fi-stake", "WEETH", 6_000_000_000, 3.0, None, 3.0, 3.1),
        _pool(ids[8], "Ethereum", "ether.fi-liquid", "ETHFI", 40_000_000, 12.0, None, 12.0, 11.0),
        _pool(ids[9], "Ethereum", "curve-dex", "ETH-STETH", 150_000_000, 1.1, 0.5, 1.6, 1.7, exposure="multi"),
        _pool(ids[10], "Ethereum", "tiny-dex", "WETH", 20_000, 9.0, None, 9.0, 9.0),  # under the default 1 M TVL floor
        # A one-day spike: 90 % today on a 4 % month; capped at 6 %, so it must not top the USDC list.
        _pool(SPIKE_POOL, "Arbitrum", "spiky-finance", "USDC", 30_000_000, 90.0, None, 90.0, 4.0, stablecoin=True),
        # Flagged by DefiLlama as an outlier: hidden unless asked for.
        _pool(OUTLIER_POOL, "Ethereum", "uniswap-v3", "WETH-USDT", 100_000_000, 60.0, None, 60.0, 55.0, il_risk="yes",
              exposure="multi", outlier=True),
    ]
    usdc = {"chain": "Ethereum", "project": "junk", "symbol": "USDC", "tvlUsd": 900_000_000, "apyBase": None,
            "apyReward": None, "apy": 99.0, "pool": "", "stablecoin": True, "ilRisk": "no", "exposure": "single",
            "apyMean30d": None, "outlier": False}
    garbage: list[object] = [
        {**usdc, "pool": "bad-01", "apy": None},  # the JSON-null variant of NaN
        {**usdc, "pool": "bad-02", "apy": -3.0},
        {**usdc, "pool": "bad-03", "apy": 1e9},
        {k: v for k, v in {**usdc, "pool": "bad-04"}.items() if k != "chain"},
        {k: v for k, v in {**usdc, "pool": "bad-05"}.items() if k != "apy"},
        {**usdc, "pool": "bad-06", "tvlUsd": 0},
        {**usdc, "pool": "bad-07", "tvlUsd": "900000000"},
        {**usdc, "pool": "bad-08", "ilRisk": "maybe"},
        {**usdc, "pool": "bad-09", "stablecoin": "true"},
        {**usdc, "pool": "bad-10", "apyReward": -1.0},
        {**usdc, "pool": "bad-11", "apyMean30d": 5000.0},
        {**usdc, "pool": "bad-12", "symbol": "   "},
        {**usdc},  # empty pool id
        {**usdc, "pool": ids[0], "apy": 99.0},  # a repeat of the aave-v3 USDC id: the first one wins
    ]
    assert len(garbage) == GARBAGE_COUNT and len(good) == GOOD_COUNT
    # Garbage is interleaved so that a parser stopping at the first bad record would lose good ones.
    out: list = []
    for index, record in enumerate(good):
        out.append(record)
        if index < len(garbage):
            out.append(garbage[index])
    out.extend(garbage[len(good):])
    return out
