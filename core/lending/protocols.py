"""Lender presets: dated risk parameters from core/lending/data/protocols, resolved per position."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any

from core.errors import UnknownProtocol, UnsupportedByProtocol
from core.lending.models import Overrides, Position


@dataclass(frozen=True)
class AssetTerms:
    """What a lender allows for one collateral asset."""

    ltv: float  # share of value that may be borrowed
    lt: float  # liquidation threshold: share of value that counts for health
    penalty: float | None  # liquidation penalty or bonus, as a fraction; None when unpublished
    as_of: str
    source: str


@dataclass(frozen=True)
class Market:
    """One market (pool, ilk, branch, loan product) of a preset."""

    id: str
    name: str
    aliases: tuple[str, ...]
    collateral: dict[str, AssetTerms] | None  # None: any asset, terms set elsewhere
    debt: tuple[str, ...] | None  # None: any asset
    as_of: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)  # JSON values as the preset file gives them: mat, dust, LTV ladders


@dataclass(frozen=True)
class Preset:
    """A lender: how it measures risk and the markets it offers."""

    id: str
    name: str
    short: str  # the lender's own name, for sentences ("Ledn sells ...")
    chain: str | None
    metric: str  # "hf", "cr" or "ltv": the number the lender itself shows
    debt_at_par: bool  # the lender values its debt at exactly $1 (DAI in Maker, LUSD in Liquity, CeFi USD)
    liquidation: dict[str, str]
    asset_aliases: dict[str, str]
    markets: tuple[Market, ...]
    lltv_choices: tuple[Decimal, ...] = ()
    single_collateral: bool = False
    single_debt: bool = False

    def market(self, name: str) -> Market | None:
        """A market by id or alias, case-insensitive."""
        wanted = name.lower()
        for market in self.markets:
            if wanted == market.id.lower() or wanted in (a.lower() for a in market.aliases):
                return market
        return None


@dataclass(frozen=True)
class Terms:
    """A preset resolved for one position: the numbers the risk math needs."""

    preset: Preset
    market: Market
    collateral: dict[str, AssetTerms]  # by the position's own collateral symbols
    margin_ltvs: tuple[float, ...] = ()  # CeFi: margin-call LTVs, ascending
    liquidation_ltv: float | None = None  # CeFi: where the lender sells
    min_ratio: float | None = None  # Maker/Liquity: the minimum collateral ratio (mat, MCR)
    draw_fee: float = 0.0  # added to every new draw (Liquity v1's borrowing fee): drawing x books x * (1 + fee)

    @property
    def debt_ceiling(self) -> float | None:
        """The market's remaining room to lend, when the preset records one (Maker's `line`; 0: it lends nothing more)."""
        line = self.market.params.get("debt_ceiling")
        return None if line is None else _f(line)

    @property
    def metric(self) -> str:
        """hf, cr or ltv."""
        return self.preset.metric


def _f(value: object) -> float:
    return float(Decimal(str(value)))


def _build_market(raw: dict[str, Any], defaults: dict[str, Any]) -> Market:
    """Turn a market of a preset file into AssetTerms, whatever its native parameters."""
    merged = {**defaults, **raw}
    as_of, source = merged.get("as_of", ""), merged.get("source", "")
    coll = merged.get("collateral", "*")
    debt = merged.get("debt", "*")
    params = {k: v for k, v in merged.items() if k not in {"id", "name", "aliases", "collateral", "debt", "as_of", "source"}}
    terms: dict[str, AssetTerms] | None
    if coll == "*":
        terms = None
    elif isinstance(coll, dict):  # per-asset parameters (Aave, Compound)
        terms = {}
        for symbol, p in coll.items():
            penalty = p.get("penalty")
            if "liquidation_factor" in p:  # Comet credits collateral at this factor when it absorbs
                penalty = 1 - _f(p["liquidation_factor"])
            terms[symbol] = AssetTerms(
                ltv=_f(p["ltv"]),
                lt=_f(p["lt"]),
                penalty=None if penalty is None else _f(penalty),
                as_of=p.get("as_of", as_of),
                source=p.get("source", source),
            )
    else:  # a list of assets sharing one ratio (Maker ilk, Liquity branch) or one LTV ladder (CeFi)
        penalty = merged.get("penalty")
        penalty = None if penalty is None else _f(penalty)
        if "mat" in merged:
            ltv = lt = 1 / _f(merged["mat"])
        else:
            ltv, lt = _f(merged["initial_ltv"]), _f(merged["liquidation_ltv"])
        terms = {symbol: AssetTerms(ltv, lt, penalty, as_of, source) for symbol in coll}
    return Market(
        id=raw["id"],
        name=raw.get("name", raw["id"]),
        aliases=tuple(raw.get("aliases", ())),
        collateral=terms,
        debt=None if debt == "*" else tuple(debt),
        as_of=as_of,
        source=source,
        params=params,
    )


def _build_preset(raw: dict[str, Any]) -> Preset:
    defaults = raw.get("defaults", {})
    return Preset(
        id=raw["id"],
        name=raw["name"],
        short=raw.get("short", raw["name"]),
        chain=raw.get("chain"),
        metric=raw["metric"],
        debt_at_par=raw.get("debt_at_par", False),
        liquidation=raw.get("liquidation", {}),
        asset_aliases=raw.get("asset_aliases", {}),
        markets=tuple(_build_market(m, defaults) for m in raw["markets"]),
        lltv_choices=tuple(Decimal(x) for x in raw.get("lltv_choices", ())),
        single_collateral=raw["id"] in {"maker", "liquity-v1", "liquity-v2", "morpho"},
        single_debt=raw["id"] in {"maker", "liquity-v1", "liquity-v2", "morpho", "compound-v3"},
    )


class Presets:
    """All lender presets, and the rules that turn a position's choices into Terms."""

    def __init__(self, presets: Iterable[Preset]):
        self._presets = {p.id: p for p in presets}

    @classmethod
    def bundled(cls) -> Presets:
        """The presets shipped in core/lending/data/protocols."""
        folder = resources.files("core.lending").joinpath("data/protocols")
        files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
        return cls(_build_preset(json.loads(f.read_text())) for f in files)

    def __iter__(self) -> Iterator[Preset]:
        return iter(self._presets.values())

    def get(self, name: str) -> Preset:
        """A preset by id (case-insensitive), or UnknownProtocol."""
        preset = self._presets.get(name.lower().strip())
        if preset is None:
            raise UnknownProtocol(f"Unknown lender {name[:24]!r}. Try one of: {', '.join(self._presets)}.")
        return preset

    def terms(
        self,
        protocol: str,
        market_name: str | None,
        collateral: Sequence[str],
        debt: Sequence[str],
        overrides: Overrides,
    ) -> Terms:
        """Resolve the preset for these assets, or say plainly why it does not fit."""
        preset = self.get(protocol)
        if preset.single_collateral and len(set(collateral)) > 1:
            raise UnsupportedByProtocol(f"A {preset.name} position holds one collateral asset; register each separately.")
        if preset.single_debt and len(set(debt)) > 1:
            raise UnsupportedByProtocol(f"A {preset.name} position owes one asset.")
        market = self._pick_market(preset, market_name, collateral, overrides)
        if market.debt is not None:
            for symbol in debt:
                if symbol not in market.debt:
                    raise UnsupportedByProtocol(
                        f"{preset.name} {market.id}: you can borrow {', '.join(market.debt)} there, not {symbol}."
                    )
        return self._resolve(preset, market, collateral, overrides)

    def followed(self, protocol: str, market_name: str | None, per_asset: Mapping[str, Sequence[float]], as_of: str) -> Terms:
        """Terms read from the lender's contracts (ltv, lt, penalty per asset): the chain wins over the preset."""
        preset = self.get(protocol)
        market = next((m for m in preset.markets if m.id == market_name), preset.markets[0])
        collateral = {s: AssetTerms(float(v[0]), float(v[1]), float(v[2]), as_of, f"{preset.name}'s contracts")
                      for s, v in per_asset.items()}
        # a ratio lender's minimum collateral ratio is the inverse of the threshold it reads as
        lts = [t.lt for t in collateral.values() if t.lt > 0]
        min_ratio = 1 / min(lts) if preset.metric == "cr" and lts else None
        return Terms(preset, market, collateral, min_ratio=min_ratio)

    def of_position(self, position: Position, reading: Mapping[str, Any] | None = None) -> Terms:
        """A position's terms: the chain's, from its last reading, when it follows a wallet; else its preset's."""
        if reading and reading.get("terms"):
            return self.followed(position.protocol, position.market, reading["terms"], f"block {reading.get('block')}")
        return self.terms(position.protocol, position.market, [c.asset for c in position.collateral],
                          [d.asset for d in position.debt], position.overrides)

    def preset_differences(self, terms: Terms) -> list[str]:
        """Where terms read from the chain differ from this preset's own figures for the same assets."""
        out = []
        table = terms.market.collateral or {}
        for symbol, chain in terms.collateral.items():
            bundled = table.get(self._canonical(terms.preset, symbol))
            if bundled is not None and (abs(bundled.lt - chain.lt) > 1e-9 or abs(bundled.ltv - chain.ltv) > 1e-9):
                out.append(f"{symbol} LT {chain.lt:.2%} on chain, {bundled.lt:.2%} in the preset of {bundled.as_of}")
        return out

    def _canonical(self, preset: Preset, symbol: str) -> str:
        return preset.asset_aliases.get(symbol, symbol)

    def _pick_market(self, preset: Preset, name: str | None, collateral: Sequence[str], overrides: Overrides) -> Market:
        """The market by collateral first; an lt override only lets an unlisted asset in, it never picks."""

        def lists(market: Market) -> bool:
            if market.collateral is None:
                return True
            return all(self._canonical(preset, s) in market.collateral for s in collateral)

        if name is not None:
            market = preset.market(name)
            if market is None:
                names = ", ".join(m.id for m in preset.markets)
                raise UnsupportedByProtocol(f"{preset.name} has no market {name[:24]!r}; it has {names}.")
            if not lists(market) and overrides.lt is None:
                raise UnsupportedByProtocol(
                    f"{preset.name} {market.id} takes {', '.join(market.collateral or ())} as collateral."
                )
            return market
        for market in preset.markets:
            if lists(market):
                return market
        offered = sorted({s for m in preset.markets for s in (m.collateral or ())})
        missing = [s for s in collateral if self._canonical(preset, s) not in offered]
        # An unlisted asset on the user's own LT goes to the lender's main pool (Aave core, Compound
        # USDC); where markets are per collateral (Maker ilks, Liquity branches) guessing one would
        # silently bring that market's ratio and minimum debt, so the user has to name it.
        main = preset.markets[0]
        if overrides.lt is not None and (len(preset.markets) == 1 or "mat" not in main.params):
            return main
        hint = (
            f"name the market to use your lt there (e.g. 'on {preset.id} {main.id} lt 60%')"
            if overrides.lt is not None
            else "use 'on custom lt 80%' or give lt/ltv to override"
        )
        raise UnsupportedByProtocol(
            f"{preset.name} does not take {', '.join(missing) or 'this mix'} as collateral "
            f"(it takes {', '.join(offered)}); {hint}."
        )

    def _resolve(self, preset: Preset, market: Market, collateral: Sequence[str], o: Overrides) -> Terms:
        p = market.params
        margin = tuple(sorted(_f(x) for x in p.get("margin_ltvs", ())))  # a list in the JSON
        liq_ltv = _f(p["liquidation_ltv"]) if "liquidation_ltv" in p else None
        initial = _f(p["initial_ltv"]) if "initial_ltv" in p else None
        min_ratio = _f(p["mat"]) if "mat" in p else None
        if min_ratio is not None and o.lt is not None:
            min_ratio = 1 / float(o.lt)  # the CR floor shown must be the one the health factor uses
        penalty_default = _f(p["penalty"]) if "penalty" in p else None
        source = (market.as_of, market.source)

        if preset.id == "morpho":
            if o.lltv is None:
                choices = ", ".join(f"{c * 100:g}%" for c in preset.lltv_choices)
                raise UnsupportedByProtocol(f"Morpho needs the market's LLTV: add 'lltv 86%' (markets exist at {choices}).")
            if o.lltv not in preset.lltv_choices:
                choices = ", ".join(f"{c * 100:g}%" for c in preset.lltv_choices)
                raise UnsupportedByProtocol(f"Morpho Blue markets use an LLTV of {choices}; {o.lltv * 100:g}% is not one.")
            lltv = float(o.lltv)
            cursor = _f(preset.liquidation.get("liquidation_cursor", "0.3"))
            cap = _f(preset.liquidation.get("max_incentive", "1.15"))
            incentive = min(cap, 1 / (1 - cursor * (1 - lltv)))
            base = AssetTerms(lltv, lltv, incentive - 1, *source)
        elif liq_ltv is not None or preset.id == "custom":  # CeFi and custom: LTV ladders
            lt = float(o.lt) if o.lt is not None else liq_ltv
            if lt is None:
                raise UnsupportedByProtocol("A custom lender needs at least its liquidation LTV: 'on custom ltv 50% lt 80%'.")
            ltv = float(o.ltv) if o.ltv is not None else (initial if initial is not None else lt)
            base = AssetTerms(ltv, lt, penalty_default, *source)
            if o.margin_ltv is not None:
                margin = (float(o.margin_ltv),)
            liq_ltv = lt
        else:
            base = None

        resolved: dict[str, AssetTerms] = {}
        for symbol in collateral:
            terms = base
            if terms is None:
                table = market.collateral or {}
                terms = table.get(self._canonical(preset, symbol))
                if terms is None:  # an unlisted asset is only allowed with explicit overrides
                    lt = float(o.lt) if o.lt is not None else 0.0
                    ltv = float(o.ltv) if o.ltv is not None else lt
                    terms = AssetTerms(ltv, lt, None, "set by you", "your override")
            # `is not None`, not truthiness: 'ltv 0%' is Decimal(0) and still the user's own figure
            if o.ltv is not None or o.lt is not None or o.penalty is not None:
                lt = float(o.lt) if o.lt is not None else terms.lt
                terms = AssetTerms(
                    ltv=float(o.ltv) if o.ltv is not None else min(terms.ltv, lt),
                    lt=lt,
                    penalty=float(o.penalty) if o.penalty is not None else terms.penalty,
                    as_of="set by you",
                    source="your override",
                )
            resolved[symbol] = terms
        for symbol, t in resolved.items():
            if not 0 < t.lt < 1:
                raise UnsupportedByProtocol(f"The liquidation threshold for {symbol} must be between 0% and 100%.")
            if not 0 <= t.ltv <= t.lt:
                raise UnsupportedByProtocol(
                    f"For {symbol} the borrow limit ({t.ltv:.1%}) must not exceed the liquidation threshold ({t.lt:.1%})."
                )
        if margin and liq_ltv is not None and any(m >= liq_ltv for m in margin):
            raise UnsupportedByProtocol("Margin-call LTVs must be below the liquidation LTV.")
        fee = 0.0
        if "borrowing_fee" in market.params:  # Liquity v1 charges it on every draw, the opening one and each later one
            fee = float(o.fee) if o.fee is not None else _f(market.params["borrowing_fee"])
        return Terms(preset, market, resolved, margin, liq_ltv, min_ratio, fee)


def lender_name(terms: Terms) -> str:
    """'Aave v3, core market', 'Maker / Sky vault ETH-A', 'Morpho Blue market (LLTV 86%)'."""
    preset, market = terms.preset, terms.market
    if len(preset.markets) == 1 and preset.id not in ("maker", "liquity-v2"):
        if preset.id == "morpho":
            lt = next(iter(terms.collateral.values())).lt
            return f"{preset.name} (LLTV {lt * 100:g}%)"
        return preset.name
    if market.name != market.id:
        return f"{preset.name}, {market.name[0].lower()}{market.name[1:]}"
    return f"{preset.name} {market.id}"
