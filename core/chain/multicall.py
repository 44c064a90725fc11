"""Many views in one eth_call: Multicall3's aggregate3, chunked, every chunk at the same block."""

from __future__ import annotations

from dataclasses import dataclass

from core.chain.abi import BadReturn, calldata, decode_as
from core.chain.rpc import RpcClient, RpcError

MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"  # the same address on every EVM chain (mds1/multicall3)
CALLS_PER_REQUEST = 500  # about 100 accounts of 5 views; well under a node's usual eth_call gas cap


@dataclass(frozen=True)
class Call:
    target: str
    data: bytes


@dataclass(frozen=True)
class Result:
    ok: bool  # False: this one call reverted (the others are still good)
    data: bytes


@dataclass(frozen=True)
class Head:
    """The block every read of one tick is pinned to."""

    number: int
    timestamp: int


async def head(rpc: RpcClient) -> Head:
    """The latest block's number and time."""
    block = await rpc.call("eth_getBlockByNumber", ["latest", False])
    try:
        return Head(int(block["number"], 16), int(block["timestamp"], 16))
    except (TypeError, KeyError, ValueError) as err:
        raise RpcError(f"{rpc.chain} RPC: the latest block is unreadable", "bad-body") from err


async def aggregate(rpc: RpcClient, calls: list[Call], block: int, per_request: int = CALLS_PER_REQUEST) -> list[Result]:
    """Each call's success and return data, in order; one eth_call per `per_request` calls, all at `block`."""
    results: list[Result] = []
    for start in range(0, len(calls), per_request):
        chunk = calls[start : start + per_request]
        data = calldata("aggregate3((address,bool,bytes)[])", [(c.target, True, c.data) for c in chunk])
        raw = await rpc.call("eth_call", [{"to": MULTICALL3, "data": "0x" + data.hex()}, hex(block)])
        try:
            (answers,) = decode_as(["(bool,bytes)[]"], bytes.fromhex(str(raw).removeprefix("0x")))
        except ValueError as err:  # not hex at all
            raise BadReturn("Multicall3 answered with data that is not hex") from err
        if len(answers) != len(chunk):
            raise BadReturn(f"Multicall3 answered {len(answers)} results for {len(chunk)} calls")
        results += [Result(bool(ok), bytes(out)) for ok, out in answers]
    return results
