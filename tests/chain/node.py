"""A JSON-RPC node on 127.0.0.1 over the local EVM, with the faults real providers show.

The answers are the EVM's own (eth_call runs the real contracts); a fault only withholds, delays or spoils
them the way a provider does: "429" (HTTP 429 with Retry-After), "limit" (JSON-RPC -32005), "timeout",
"chain-id" (another chain's id), "slow" (every answer 0.3 s late), "frozen" (the head stops advancing), "backwards" (an older head),
"malformed" (eth_call data cut short) and "revert:<address>" (calls naming that address come back failed
inside aggregate3, as when one contract reverts).

Run by hand for a chain to try /track on: python -m tests.chain.node  (prints the URL and a wallet).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from eth_abi import decode, encode

from tests.chain.evm import MULTICALL3, LocalChain
from tests.chain.liquity_v2 import trove_id

AGGREGATE3 = bytes.fromhex("82ad56cb")


@dataclass
class NodeState:
    chain_id: int = 1
    fault: str | None = None
    retry_after: int = 2
    requests: list[str] = field(default_factory=list)  # methods, in order
    frozen_at: dict[str, Any] | None = None


def _block(chain: LocalChain, tag: str) -> dict[str, Any]:
    block = chain.tester.get_block_by_number(tag)
    return {"number": hex(block["number"]), "timestamp": hex(block["timestamp"]), "hash": block["hash"]}


def _tag(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    return value or "latest"


def node_app(chain: LocalChain, state: NodeState) -> web.Application:
    """The aiohttp app answering JSON-RPC for `chain`."""

    def answer(method: str, params: list[Any]) -> Any:
        if method == "eth_chainId":
            return hex(state.chain_id)
        if method == "net_version":
            return str(state.chain_id)
        if method == "eth_blockNumber":
            return _block(chain, "latest")["number"]
        if method == "eth_getBlockByNumber":
            latest = _block(chain, _tag(params[0]))
            if state.fault == "frozen":
                state.frozen_at = state.frozen_at or latest
                return state.frozen_at
            if state.fault == "backwards":
                return _block(chain, max(0, int(latest["number"], 16) - 5))
            return latest
        if method == "eth_getStorageAt":
            word = chain.backend.get_storage(bytes.fromhex(params[0][2:]), int(params[1], 16), _tag(params[2]))
            return "0x" + int(word).to_bytes(32, "big").hex()
        if method == "eth_getLogs":
            return _logs(chain, params[0])
        if method == "eth_getCode":
            return "0x" + bytes(chain.tester.get_code(params[0], _tag(params[1] if len(params) > 1 else "latest"))).hex()
        if method == "eth_call":
            tx = {"from": chain.deployer, "to": params[0]["to"], "data": params[0]["data"], "gas": 50_000_000}
            raw = chain.tester.call(tx, _tag(params[1] if len(params) > 1 else "latest"))
            if state.fault == "malformed":
                return raw[: len(raw) // 2]
            if state.fault and state.fault.startswith("revert:"):
                return _spoil(params[0], raw, state.fault.split(":", 1)[1])
            return raw
        raise KeyError(method)

    async def rpc(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        state.requests.append(body.get("method", "?"))
        if state.fault == "429":
            return web.Response(status=429, headers={"Retry-After": str(state.retry_after)}, text="too many requests")
        if state.fault == "timeout":
            await asyncio.sleep(3)  # longer than the tests' client timeout
        if state.fault == "slow":
            await asyncio.sleep(0.3)  # every answer comes, late
        if state.fault == "limit":
            return web.json_response({"jsonrpc": "2.0", "id": body.get("id"),
                                      "error": {"code": -32005, "message": "limit exceeded", "data": {"retryAfter": 1}}})
        if state.fault == "chain-id" and body.get("method") == "eth_chainId":
            return web.json_response({"jsonrpc": "2.0", "id": body.get("id"), "result": hex(state.chain_id + 41)})
        try:
            result = answer(body["method"], body.get("params", []))
        except KeyError:
            return web.json_response({"jsonrpc": "2.0", "id": body.get("id"), "error": {"code": -32601, "message": "no such method"}})
        except Exception as err:  # noqa: BLE001 - a revert or a bad request: the node says so, as a node does
            return web.json_response({"jsonrpc": "2.0", "id": body.get("id"),
                                      "error": {"code": 3, "message": f"execution reverted: {type(err).__name__}"}})
        return web.json_response({"jsonrpc": "2.0", "id": body.get("id"), "result": result})

    app = web.Application()
    app.router.add_post("/", rpc)
    app.router.add_post("/{key}", rpc)  # a URL with a key in its path, as providers give them
    return app


def _logs(chain: LocalChain, query: dict[str, Any]) -> list[dict[str, Any]]:
    """eth_getLogs through eth-tester's log filters, in the JSON-RPC shape."""
    addresses = query.get("address")
    topics = query.get("topics")
    fid = chain.tester.create_log_filter(from_block=int(query["fromBlock"], 16), to_block=int(query["toBlock"], 16),
                                         address=addresses, topics=topics)
    try:
        found = chain.tester.get_all_filter_logs(fid)
    finally:
        chain.tester.delete_filter(fid)

    def hexed(value: Any) -> str:
        return value if isinstance(value, str) else "0x" + bytes(value).hex()

    return [{"address": hexed(log["address"]), "topics": [hexed(t) for t in log["topics"]], "data": hexed(log["data"]),
             "blockNumber": hex(log["block_number"]), "transactionHash": hexed(log["transaction_hash"]),
             "logIndex": hex(log["log_index"])} for log in found]


def _spoil(tx: dict[str, Any], raw: str, address: str) -> str:
    """An aggregate3 answer with the calls that name `address` marked failed (one contract reverting)."""
    data = bytes.fromhex(tx["data"][2:])
    if tx["to"].lower() != MULTICALL3.lower() or data[:4] != AGGREGATE3:
        return raw
    (calls,) = decode(["(address,bool,bytes)[]"], data[4:])
    (results,) = decode(["(bool,bytes)[]"], bytes.fromhex(raw[2:]))
    needle = bytes.fromhex(address.lower().removeprefix("0x"))
    spoiled = [(False, b"") if needle in call[2] else result for call, result in zip(calls, results, strict=True)]
    return "0x" + encode(["(bool,bytes)[]"], [spoiled]).hex()


async def serve(chain: LocalChain, state: NodeState, port: int = 0) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(node_app(chain, state))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{bound}"


HELP = """Type to move the wallet or the market (a block is mined after each):
  price WETH 1800     Aave's oracle for WETH now says $1,800 (the market feed does not move)
  repay 5000          the wallet repays 5,000 USDC;  borrow 1000  borrows more
  supply 2            the wallet supplies 2 more WETH
  liquity 1800        Liquity v2's WETH price now says $1,800
  rate 2              the wallet's Liquity v2 trove moves to 2 % a year (under the other trove's 3 %: redeemed first)
  year                a year passes (interest accrues)"""


def _act(market: Any, wallet: str, line: str) -> str:
    """One typed move on the local chain; returns what happened."""
    words = line.split()
    if not words:
        return ""
    if words[0] == "price" and len(words) == 3:
        market.set_price(words[1].upper(), float(words[2]))
    elif words[0] in ("repay", "borrow") and len(words) == 2:
        getattr(market, words[0])(wallet, "USDC", float(words[1]))
    elif words[0] == "supply" and len(words) == 2:
        market.supply(wallet, "WETH", float(words[1]))
    elif words[0] == "liquity" and len(words) == 2:
        market.bold.set_price("WETH", float(words[1]))
    elif words[0] == "rate" and len(words) == 2:
        market.bold.set_rate(wallet, "WETH", trove_id(wallet, wallet, 0), float(words[1]) / 100)
    elif words[0] == "year":
        market.chain.travel(365 * 86400)
    else:
        return HELP
    market.chain.mine()
    hf = market.account(wallet)[5] / 1e18
    return f"done; the wallet's health factor on chain is {hf:.6f}" if hf < 1e50 else "done; it owes nothing"


async def _main() -> None:
    import sys

    from tests.chain.aave_market import deploy
    from tests.chain.comet_market import CWETHV3, deploy_comet
    from tests.chain.ens_names import deploy_ens
    from tests.chain.liquity_troves import deploy_liquity
    from tests.chain.liquity_v2 import deploy_liquity_v2
    from tests.chain.maker_vaults import deploy_maker
    from tests.chain.morpho_market import deploy_morpho

    chain = LocalChain()
    market = deploy(chain)  # and, on the same tokens, Morpho Blue, both Comets and ENS, so /track finds them all
    market.blue = deploy_morpho(market)
    deploy_comet(market)
    deploy_comet(market, "WETH", CWETHV3)
    deploy_maker(market)
    deploy_liquity(chain)
    bold = market.bold = deploy_liquity_v2(market)
    lender, wallet = chain.accounts[1], chain.accounts[2]
    deploy_ens(chain, {"borrower.eth": wallet})
    market.supply(lender, "USDC", 1_000_000)
    market.supply(wallet, "WETH", 10)
    market.borrow(wallet, "USDC", 15_000)
    bold.open(lender, "WETH", 20, 30_000, 0.03)  # a trove at a lower rate: its debt stands before the wallet's
    bold.open(wallet, "WETH", 5, 5_000, 0.04)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8545
    _, url = await serve(chain, NodeState(), port)
    off = " ".join(f"RPC_URL_{c}=off" for c in ("ARBITRUM", "BASE", "OPTIMISM", "POLYGON"))
    print(f"Aave v3, Compound v3, Morpho Blue, Maker, Liquity v1 and v2, and ENS on a local chain at {url} "
          "(chain id 1, at Ethereum's addresses).")
    print(f"A wallet (borrower.eth) with 10 WETH supplied to Aave and 15,000 USDC borrowed, and a Liquity v2 trove "
          f"(5 WETH, 5,000 BOLD at 4 %): {wallet}")
    print(f"In another terminal: RPC_URL_ETHEREUM={url} {off} PRICE_INTERVAL_SECONDS=5 ./scripts/run")
    print(f"and send /track {wallet}\n")
    print(HELP, flush=True)

    async def blocks() -> None:  # a block every 12 s, as Ethereum makes them, so the head keeps moving
        while True:
            await asyncio.sleep(12)
            chain.mine()

    ticker = asyncio.create_task(blocks())
    while line := await asyncio.to_thread(sys.stdin.readline):
        try:
            print(_act(market, wallet, line.strip()), flush=True)
        except Exception as err:  # noqa: BLE001 - a move the contracts refuse: say so and go on
            print(f"refused by the contracts: {type(err).__name__}: {err}", flush=True)
    ticker.cancel()


if __name__ == "__main__":
    asyncio.run(_main())
