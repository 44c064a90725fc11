"""ENS names on Ethereum: the registry's resolver for a name, then that resolver's address for it."""

from __future__ import annotations

import re

from eth_hash.auto import keccak

from core.chain.abi import BadReturn, calldata, decode_as
from core.chain.multicall import Call, aggregate
from core.chain.rpc import RpcClient

# The ENS registry (with fallback) on Ethereum since 2020-01, the same address on its test networks
# (docs.ens.domains, "Deployments"; ensdomains/ens-contracts deployments/mainnet/ENSRegistry.json).
REGISTRY = "0x00000000000C2E074eC69A0dFb2997BA6C7d2e1e"
_LABEL = re.compile(r"[a-z0-9-]{1,63}")


class NotResolved(Exception):
    """The name has no resolver or no address."""


def normalized(name: str) -> str | None:
    """A plain lower-case ASCII name like 'vitalik.eth', or None (full ENS normalisation of Unicode is not done)."""
    lowered = name.strip().lower()
    labels = lowered.split(".")
    if len(labels) < 2 or labels[-1] != "eth" or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return lowered


def namehash(name: str) -> bytes:
    """EIP-137's namehash: keccak over the labels from the right."""
    node = b"\0" * 32
    for label in reversed(name.split(".")):
        node = keccak(node + keccak(label.encode()))
    return node


async def resolve(rpc: RpcClient, name: str, block: int) -> str:
    """The address `name` points at, at `block` (lower case), or NotResolved."""
    node = namehash(name)
    (answer,) = await aggregate(rpc, [Call(REGISTRY, calldata("resolver(bytes32)", node))], block)
    if not answer.ok:
        raise BadReturn("the ENS registry did not answer")
    (resolver,) = decode_as(["address"], answer.data)
    if int(resolver, 16) == 0:
        raise NotResolved(name)
    (answer,) = await aggregate(rpc, [Call(resolver, calldata("addr(bytes32)", node))], block)
    if not answer.ok:
        raise NotResolved(name)
    (address,) = decode_as(["address"], answer.data)
    if int(address, 16) == 0:
        raise NotResolved(name)
    return str(address).lower()
