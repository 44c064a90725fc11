"""A local EVM for the chain tests: eth-tester's py-evm backend with contracts placed where mainnet has them.

Contracts are real compiled bytecode (tests/chain/fixtures, with their packages and licences). `create_at`
runs a real constructor at a chosen address, so a client configured with the mainnet address book reads this
chain unchanged. Multicall3 sits at its canonical address from the genesis state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import eth.vm.forks.cancun.state as cancun_state
import eth.vm.forks.frontier.state as frontier_state
import eth.vm.forks.london.state as london_state
from eth_abi import decode, encode
from eth_hash.auto import keccak
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed

from core.chain.abi import checksum

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
GAS = 15_000_000


def abi_type(item: dict[str, Any]) -> str:
    """The canonical ABI type of one input or output, tuples spelled out."""
    kind = item["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in item["components"]) + ")" + kind[len("tuple"):]
    return kind


class Contract:
    """A deployed contract: call its views and send it transactions by function name."""

    def __init__(self, chain: LocalChain, abi: list[dict[str, Any]], address: str):
        self.chain, self.abi, self.address = chain, abi, checksum(address)

    def _function(self, name: str, args: Sequence[Any]) -> dict[str, Any]:
        """By name and argument count, or by full signature ("kiss(address)") where a name is overloaded."""
        found = [f for f in self.abi if f.get("type") == "function" and len(f["inputs"]) == len(args)
                 and (f["name"] == name or f"{f['name']}({','.join(abi_type(i) for i in f['inputs'])})" == name)]
        if len(found) != 1:
            raise KeyError(f"{name}/{len(args)}: {len(found)} matches")
        return found[0]

    def calldata(self, name: str, *args: Any) -> bytes:
        fn = self._function(name, args)
        types = [abi_type(i) for i in fn["inputs"]]
        return keccak(f"{fn['name']}({','.join(types)})".encode())[:4] + encode(types, list(args))

    def call(self, name: str, *args: Any) -> Any:
        fn = self._function(name, args)
        raw = self.chain.tester.call({"from": self.chain.deployer, "to": self.address,
                                      "data": "0x" + self.calldata(name, *args).hex(), "gas": GAS})
        values = decode([abi_type(o) for o in fn["outputs"]], bytes.fromhex(raw.removeprefix("0x")))
        return values[0] if len(values) == 1 else values

    def send(self, name: str, *args: Any, sender: str | None = None, value: int = 0) -> dict[str, Any]:
        return self.chain.send(self.address, self.calldata(name, *args), sender, value)


class LocalChain:
    """One py-evm chain: deploy, place, call, send, move time, snapshot."""

    def __init__(self) -> None:
        multicall = json.loads((FIXTURES / "multicall3.json").read_text())
        state = PyEVMBackend.generate_genesis_state(num_accounts=10)
        state[bytes.fromhex(MULTICALL3[2:])] = {"balance": 0, "nonce": 1, "storage": {},
                                                 "code": bytes.fromhex(multicall["runtime"][2:])}
        self.backend = PyEVMBackend(genesis_state=state)
        self.tester = EthereumTester(self.backend)
        self.accounts = [checksum(a) for a in self.tester.get_accounts()][:10]
        self.deployer = self.accounts[0]
        self.multicall = Contract(self, multicall["abi"], MULTICALL3)

    def send(self, to: str, data: bytes, sender: str | None = None, value: int = 0) -> dict[str, Any]:
        tx = {"from": sender or self.deployer, "to": to, "data": "0x" + data.hex(), "gas": GAS, "value": value}
        receipt = self.tester.get_transaction_receipt(self.tester.send_transaction(tx))
        if receipt["status"] != 1:
            raise TransactionFailed(f"reverted: {to} {data[:4].hex()}")
        return receipt

    def deploy(self, artifact: dict[str, Any], *args: Any, links: dict[str, str] | None = None,
               at: str | None = None) -> Contract:
        """Run the constructor of a compiled contract (its libraries linked), at `at` when given."""
        code = artifact["bytecode"].removeprefix("0x")
        for lib, offsets in artifact.get("links", {}).items():
            target = (links or {})[lib].lower().removeprefix("0x")
            for o in offsets:
                code = code[: o["start"] * 2] + target + code[(o["start"] + o["length"]) * 2 :]
        ctor = next((f for f in artifact["abi"] if f.get("type") == "constructor"), {"inputs": []})
        data = bytes.fromhex(code) + encode([abi_type(i) for i in ctor["inputs"]], list(args))
        tx = {"from": self.deployer, "data": "0x" + data.hex(), "gas": GAS}
        with _created_at(at):
            receipt = self.tester.get_transaction_receipt(self.tester.send_transaction(tx))
        if receipt["status"] != 1 or not receipt["contract_address"]:
            raise TransactionFailed("constructor reverted")
        return Contract(self, artifact["abi"], at or receipt["contract_address"])

    def at(self, artifact: dict[str, Any], address: str) -> Contract:
        return Contract(self, artifact["abi"], address)

    def time(self) -> int:
        return int(self.tester.get_block_by_number("latest")["timestamp"])

    def block_number(self) -> int:
        return int(self.tester.get_block_by_number("latest")["number"])

    def travel(self, seconds: int) -> None:
        """Move block time forward (interest accrues) and mine a block there."""
        self.tester.time_travel(self.time() + seconds)

    def mine(self, blocks: int = 1) -> None:
        self.tester.mine_blocks(blocks)

    def snapshot(self) -> Any:
        return self.tester.take_snapshot()

    def revert(self, snapshot: Any) -> None:
        self.tester.revert_to_snapshot(snapshot)


@contextmanager
def _created_at(address: str | None) -> Iterator[None]:
    """The next top-level create lands at `address` (py-evm picks the address in one module-level call)."""
    if address is None:
        yield
        return
    modules = (frontier_state, london_state, cancun_state)  # each fork's executor imports it for itself
    originals = [m.generate_contract_address for m in modules]
    target = bytes.fromhex(address.removeprefix("0x"))
    for m in modules:
        m.generate_contract_address = lambda sender, nonce: target
    try:
        yield
    finally:
        for m, original in zip(modules, originals, strict=True):
            m.generate_contract_address = original
