"""The contract address book: chains, and per lender and chain where its contracts live (bundled or a file)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from core.chain.abi import is_address
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
                if chain not in chains or not is_address(market["provider"]):
                    raise ValueError(chain)
                reserves = {str(s): (str(a), int(d)) for s, (a, d) in market["reserves"].items()}
                if not all(is_address(a) for a, _ in reserves.values()):
                    raise ValueError(chain)
                aave[chain] = AaveDeployment(chain, market["provider"], reserves)
            morpho = {}
            for chain, blue in raw.get("morpho", {}).items():
                if chain not in chains or not is_address(blue["address"]):
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
                    if not is_address(m["comet"]) or m["base"] not in {s for s, _ in tokens.values()}:
                        raise ValueError(f"{chain} {key}")
                    comets.setdefault(chain, {})[key] = CometDeployment(chain, key, m["comet"], m["base"], tokens)
            maker = {}
            for chain, m in raw.get("maker", {}).items():
                if chain not in chains or not all(is_address(m[k]) for k in ("vat", "spot", "dog", "cdp_manager")):
                    raise ValueError(chain)
                maker[chain] = MakerDeployment(chain, m["vat"], m["spot"], m["dog"], m["cdp_manager"], dict(m["ilks"]))
            liquity = {c: str(m["trove_manager"]) for c, m in raw.get("liquity-v1", {}).items()}
            if not all(c in chains and is_address(a) for c, a in liquity.items()):
                raise ValueError("liquity-v1")
        except (KeyError, TypeError, ValueError) as err:
            raise CoreError(f"The chain address book ({origin}) is malformed near {err!s:.40}.") from err
        return cls(chains, aave, str(raw.get("as_of", "")), origin, morpho, comets, maker, liquity)
