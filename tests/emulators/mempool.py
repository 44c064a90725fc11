"""Emulated mempool.space mining API and blockchain.info's plain queries on 127.0.0.1, with switchable faults.

mempool.space: /api/v1/difficulty-adjustment, /api/v1/mining/hashrate/3d, /api/v1/mining/reward-stats/144,
/api/blocks/tip/height. blockchain.info: /q/getdifficulty, /q/getblockcount. Faults ("500", "429", "slow",
"html", "empty", "truncated", "nan", "future" (a hashrate dated tomorrow), "past-retarget") spoil mempool.space's
answers; `info_fault` spoils blockchain.info's the same way.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from aiohttp import web

from tests.emulators.prices import transport_fault

FAULTS = ("500", "429", "slow", "html", "empty", "truncated", "nan", "future", "past-retarget")


@dataclass
class MempoolState:
    """What the emulated APIs answer: the network as of `now`."""

    difficulty: float = 1.5e14  # about late 2025's
    height: int = 925_000
    fees_per_block_sats: int = 2_000_000  # 0.02 BTC
    change_percent: float = 2.5
    retarget_in: float = 6 * 86_400
    fault: str | None = None
    info_fault: str | None = None
    delay: float = 5.0
    retry_after: int = 1
    now: float | None = None  # the emulators' clock (None: real time)
    requests: int = 0
    info_requests: int = 0


def mempool_app(state: MempoolState) -> web.Application:
    def now() -> float:
        return state.now if state.now is not None else time.time()

    async def answer(body: object, faulted: bool = True) -> web.Response:
        if faulted and (spoiled := await transport_fault(state)) is not None:
            return spoiled
        text = json.dumps(body)
        if faulted and state.fault == "nan":
            text = text.replace(str(state.difficulty), "NaN").replace(f'"difficultyChange": {state.change_percent}',
                                                                     '"difficultyChange": NaN')
        return web.Response(text=text, content_type="application/json")

    async def adjustment(request: web.Request) -> web.Response:
        state.requests += 1
        at = now() + (-86_400 if state.fault == "past-retarget" else state.retarget_in)
        return await answer({"progressPercent": 57.1, "difficultyChange": state.change_percent,
                             "estimatedRetargetDate": int(at * 1000), "remainingBlocks": 865,
                             "remainingTime": int(state.retarget_in * 1000), "previousRetarget": 1.2,
                             "nextRetargetHeight": state.height + 865, "timeAvg": 598_000})

    async def hashrate(request: web.Request) -> web.Response:
        state.requests += 1
        stamp = now() + (86_400 if state.fault == "future" else -3_600)
        return await answer({"hashrates": [{"timestamp": int(stamp), "avgHashrate": 1.07e21}],
                             "difficulty": [{"time": int(stamp), "height": state.height - 1000,
                                             "difficulty": state.difficulty}],
                             "currentHashrate": 1.07e21, "currentDifficulty": state.difficulty})

    async def rewards(request: web.Request) -> web.Response:
        state.requests += 1
        return await answer({"startBlock": state.height - 143, "endBlock": state.height,
                             "totalReward": 144 * (312_500_000 + state.fees_per_block_sats),
                             "totalFee": 144 * state.fees_per_block_sats, "totalTx": 144 * 3000})

    async def tip(request: web.Request) -> web.Response:
        state.requests += 1
        return await answer(state.height)

    async def info(request: web.Request) -> web.Response:
        state.info_requests += 1
        if state.info_fault:
            spoiled = await transport_fault(type("S", (), {"fault": state.info_fault, "delay": state.delay,
                                                           "retry_after": state.retry_after})())
            if spoiled is not None:
                return spoiled
        value = state.difficulty if request.path.endswith("getdifficulty") else state.height
        return web.Response(text=repr(value), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/api/v1/difficulty-adjustment", adjustment)
    app.router.add_get("/api/v1/mining/hashrate/3d", hashrate)
    app.router.add_get("/api/v1/mining/reward-stats/144", rewards)
    app.router.add_get("/api/blocks/tip/height", tip)
    app.router.add_get("/q/getdifficulty", info)
    app.router.add_get("/q/getblockcount", info)
    return app
