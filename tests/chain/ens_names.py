"""ENS on the local chain: the real registry (ensdomains/ens-contracts 1.2.2 at 5421b56, compiled with solc-js
0.8.19) at Ethereum's registry address, and an OwnedResolver holding the test names."""

from __future__ import annotations

import json
from typing import Any

from eth_hash.auto import keccak

from core.chain.ens import REGISTRY, namehash
from tests.chain.evm import FIXTURES, LocalChain

ARTIFACTS: dict[str, Any] = json.loads((FIXTURES / "ens-contracts-5421b56.json").read_text())


def deploy_ens(chain: LocalChain, names: dict[str, str]) -> None:
    """The registry, .eth under the deployer, and each name pointed at its address by one resolver."""
    registry = chain.deploy(ARTIFACTS["ENSRegistry"], at=REGISTRY)
    resolver = chain.deploy(ARTIFACTS["OwnedResolver"])
    registry.send("setSubnodeOwner", b"\0" * 32, keccak(b"eth"), chain.deployer)
    for name, address in names.items():
        label, parent = name.split(".", 1)
        registry.send("setSubnodeOwner", namehash(parent), keccak(label.encode()), chain.deployer)
        registry.send("setResolver", namehash(name), resolver.address)
        resolver.send("setAddr", namehash(name), address)
