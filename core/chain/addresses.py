"""The contract address book: chains, and per lender and chain where its contracts live (bundled or a file)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from core.chain.abi import checksum_ok, is_address
from core.errors import CoreError


@dataclass(frozen=True)
class ChainInfo:
    key: str  # "ethereum"
    chain_id: int
    name: str  # "Ethereum"
    confirmations: int = 64  # blocks on top before a liquidation in a block is announced


@dataclass(frozen=True)
class AaveDeployment:
    """One Aave v3 market: its PoolAddressesProvider and the reserves the asset registry knows."""

    chain: str
    provider: str
    reserves: dict[str, tuple[str, int]]  # symbol -> (token address, decimals)

    def symbol_of(self, token: str) -> str | None:
        lowered = token.lower()
        return next((s for s, (a, _) in self.reserves.items() if a.lower() == lowered), None)


@dataclass(frozen=True)
class MorphoDeployment:
    """Morpho Blue on one chain: the singleton's address, the tokens it knows, the major markets to look in."""

    chain: str
    address: str
    tokens: dict[str, tuple[str, int]]  # lower-case token address -> (symbol, decimals)
    markets: tuple[tuple[str, str], ...]  # (market id, name) looked in when /track names no market


@dataclass(frozen=True)
class CometDeployment:
    """One Compound v3 market: the Comet proxy, its base asset, and the tokens the chain's book names."""

    chain: str
    key: str  # "usdc", "weth"
    comet: str
    base: str  # the base asset's symbol
    tokens: dict[str, tuple[str, int]]  # lower-case token address -> (symbol, decimals)


@dataclass(frozen=True)
class MakerDeployment:
    """Maker's core on one chain, and the collateral token of each ilk it reads."""

    chain: str
    vat: str
    spot: str
    dog: str
    cdp_manager: str
    ilks: dict[str, str]  # ilk name -> collateral symbol
    jug: str | None = None  # the stability fee: what accrued since the last drip is added when it is known


@dataclass(frozen=True)
class LiquityBranch:
    """One Liquity v2 collateral branch: its index in the collateral registry and the contracts read."""

    symbol: str  # the collateral token: WETH, wstETH, rETH
    index: int
    registry: str  # its AddressesRegistry (MCR, CCR, SCR, penalties)
    trove_manager: str
    trove_nft: str
    sorted_troves: str
    price_feed: str


@dataclass(frozen=True)
class LiquityV2Deployment:
    """Liquity v2 on one chain: the shared helpers and the branches."""

    chain: str
    hint_helpers: str
    multi_trove_getter: str
    branches: tuple[LiquityBranch, ...]

    def branch(self, symbol: str) -> LiquityBranch | None:
        return next((b for b in self.branches if b.symbol == symbol), None)


@dataclass(frozen=True)
class AddressBook:
    chains: dict[str, ChainInfo]
    aave: dict[str, AaveDeployment]
    as_of: str
    origin: str  # "bundled" or the file's path
    morpho: dict[str, MorphoDeployment] = field(default_factory=dict)
    comets: dict[str, dict[str, CometDeployment]] = field(default_factory=dict)  # chain -> market key -> market
    maker: dict[str, MakerDeployment] = field(default_factory=dict)
    liquity: dict[str, str] = field(default_factory=dict)  # chain -> Liquity v1's TroveManager
    liquity2: dict[str, LiquityV2Deployment] = field(default_factory=dict)

    @classmethod
    def bundled(cls) -> AddressBook:
        """The addresses shipped in core/chain/data/addresses.json."""
        text = resources.files("core.chain").joinpath("data/addresses.json").read_text()
        return cls.parse(json.loads(text), "bundled")

    @classmethod
    def from_file(cls, path: str) -> AddressBook:
        """A file of the same shape (CHAIN_ADDRESSES_FILE), replacing the bundled one."""
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise CoreError(f"CHAIN_ADDRESSES_FILE cannot be read: {type(err).__name__}") from err
        return cls.parse(raw, path)

    @classmethod
    def parse(cls, raw: Any, origin: str) -> AddressBook:
        try:
            chains = {k: ChainInfo(k, int(v["chain_id"]), str(v["name"]), int(v.get("confirmations", 64)))
                      for k, v in raw["chains"].items()}
            aave = {}
            for chain, market in raw.get("aave-v3", {}).items():
                if chain not in chains or not _address_ok(market["provider"]):
                    raise ValueError(chain)
                reserves = {str(s): (str(a), int(d)) for s, (a, d) in market["reserves"].items()}
                if not all(_address_ok(a) for a, _ in reserves.values()):
                    raise ValueError(chain)
                aave[chain] = AaveDeployment(chain, market["provider"], reserves)
            morpho = {}
            for chain, blue in raw.get("morpho", {}).items():
                if chain not in chains or not _address_ok(blue["address"]):
                    raise ValueError(chain)
                known = {**{s: t for s, t in raw.get("aave-v3", {}).get(chain, {}).get("reserves", {}).items()},
                         **blue.get("tokens", {})}
                tokens = {str(a).lower(): (str(s), int(d)) for s, (a, d) in known.items()}
                markets = tuple((str(m["id"]).lower(), str(m["name"])) for m in blue.get("markets", []))
                morpho[chain] = MorphoDeployment(chain, blue["address"], tokens, markets)
            comets: dict[str, dict[str, CometDeployment]] = {}
            for chain, markets in raw.get("compound-v3", {}).items():
                if chain not in chains:
                    raise ValueError(chain)
                reserves = raw.get("aave-v3", {}).get(chain, {}).get("reserves", {})
                tokens = {str(a).lower(): (str(s), int(d)) for s, (a, d) in reserves.items()}
                for key, m in markets.items():
                    if not _address_ok(m["comet"]) or m["base"] not in {s for s, _ in tokens.values()}:
                        raise ValueError(f"{chain} {key}")
                    comets.setdefault(chain, {})[key] = CometDeployment(chain, key, m["comet"], m["base"], tokens)
            maker = {}
            for chain, m in raw.get("maker", {}).items():
                if chain not in chains or not all(_address_ok(m[k]) for k in ("vat", "spot", "dog", "cdp_manager")):
                    raise ValueError(chain)
                if "jug" in m and not _address_ok(m["jug"]):
                    raise ValueError(chain)
                maker[chain] = MakerDeployment(chain, m["vat"], m["spot"], m["dog"], m["cdp_manager"], dict(m["ilks"]),
                                               m.get("jug"))
            liquity = {c: str(m["trove_manager"]) for c, m in raw.get("liquity-v1", {}).items()}
            if not all(c in chains and _address_ok(a) for c, a in liquity.items()):
                raise ValueError("liquity-v1")
            liquity2 = {c: _liquity2(c, m) for c, m in raw.get("liquity-v2", {}).items() if c in chains}
        except (KeyError, TypeError, ValueError) as err:
            raise CoreError(f"The chain address book ({origin}) is malformed near {err!s:.40}.") from err
        return cls(chains, aave, str(raw.get("as_of", "")), origin, morpho, comets, maker, liquity, liquity2)


def _liquity2(chain: str, m: dict[str, Any]) -> LiquityV2Deployment:
    keys = ("registry", "trove_manager", "trove_nft", "sorted_troves", "price_feed")
    branches = tuple(LiquityBranch(str(b["symbol"]), int(b["index"]), b["addresses_registry"],
                                   *(b[k] for k in keys[1:])) for b in m["branches"])
    found = [m["hint_helpers"], m["multi_trove_getter"]]
    found += [getattr(b, k) for b in branches for k in keys]
    if not branches or not all(isinstance(a, str) and _address_ok(a) for a in found):
        raise ValueError(f"liquity-v2 {chain}")
    return LiquityV2Deployment(chain, m["hint_helpers"], m["multi_trove_getter"], branches)


def _address_ok(text: str) -> bool:
    """0x and 40 hex digits, and where the case is mixed, its EIP-55 checksum right: a mistyped digit shows."""
    return is_address(text) and checksum_ok(text)
