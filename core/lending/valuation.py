"""A position at current prices: terms + prices -> the risk math's inputs and its answers."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal

from core.lending import risk
from core.lending.assets import AssetRegistry
from core.lending.models import Leg, PriceSnapshot, Quote, Severity
from core.lending.protocols import Terms

DEFAULT_WARN_HF = 1.5
DEFAULT_DANGER_HF = 1.2


def levels(terms: Terms) -> tuple[float, float]:
    """(warning, danger) health factors: 1.5 / 1.2, or a CeFi lender's margin-call LTVs mapped onto HF."""
    if terms.margin_ltvs and terms.liquidation_ltv:
        liq = terms.liquidation_ltv
        first, last = terms.margin_ltvs[0], terms.margin_ltvs[-1]
        danger_ltv = last if len(terms.margin_ltvs) > 1 else (last + liq) / 2
        return liq / first, liq / danger_ltv
    return DEFAULT_WARN_HF, DEFAULT_DANGER_HF


def severity_for(hf: float, warn: float, danger: float) -> Severity:
    """Health factor -> ok / warning / danger / liquidatable."""
    if math.isnan(hf):
        return Severity.INFO
    if hf < 1:
        return Severity.LIQUIDATABLE
    if hf < danger:
        return Severity.DANGER
    if hf < warn:
        return Severity.WARNING
    return Severity.OK


@dataclass(frozen=True)
class Valuation:
    """One position (or a hypothetical one) valued at a price snapshot."""

    terms: Terms
    collateral: tuple[Leg, ...]
    debt: tuple[Leg, ...]
    exposure: risk.Exposure | None  # None while a needed price is missing
    quotes: dict[str, Quote]
    missing: dict[str, str]
    stable: frozenset[str] = frozenset()  # which of its assets are USD stablecoins

    @property
    def priced(self) -> bool:
        """Every price needed is known."""
        return self.exposure is not None

    @property
    def hf(self) -> float:
        """Health factor (nan when unpriced)."""
        return risk.health_factor(self.exposure) if self.exposure else math.nan

    @property
    def levels(self) -> tuple[float, float]:
        """(warning, danger) health factors for this lender."""
        return levels(self.terms)

    @property
    def severity(self) -> Severity:
        """ok / warning / danger / liquidatable, INFO when unpriced."""
        return severity_for(self.hf, *self.levels)

    def liquidation_prices(self) -> list[tuple[str, risk.LiquidationPrice | None]]:
        """Per asset held or owed (non-stable first), its liquidation price or None."""
        if not self.exposure:
            return []
        seen = [leg.asset for leg in self.collateral] + [leg.asset for leg in self.debt]
        debt_assets = {leg.asset for leg in self.debt}
        coll_assets = {leg.asset for leg in self.collateral}
        out = []
        for asset in dict.fromkeys(seen):
            if asset in debt_assets and asset not in coll_assets and asset in self.stable:
                continue  # a stablecoin debt "rising" to a liquidation price is noise, not a risk a user watches
            price = risk.liquidation_price(self.exposure, asset)
            if price is None and asset in debt_assets:
                continue
            out.append((asset, price))
        return out

    def margin_prices(self, asset: str) -> list[tuple[float, risk.LiquidationPrice | None]]:
        """CeFi: for each margin-call LTV, the price of `asset` at which the LTV reaches it."""
        if not self.exposure:
            return []
        out = []
        for m in self.terms.margin_ltvs:
            at_margin = risk.Exposure(tuple(replace(c, lt=m) for c in self.exposure.collateral), self.exposure.debt)
            out.append((m, risk.liquidation_price(at_margin, asset)))
        return out

    def borrowing_power(self) -> float:
        """The most the lender lets this position owe, in USD, computed as its contract does."""
        e = self.exposure
        assert e is not None
        if self.terms.preset.id != "aave-v3":
            return risk.borrowing_power(e)
        # Aave's GenericLogic averages LTV over the collateral in whole basis points, by integer division
        # (rounded down), on values in 8-decimal base-currency units; the limit is then total * avgLtv.
        units = [(round(leg.value * 10**8), round(leg.ltv * 10_000)) for leg in e.collateral]
        total = sum(v for v, _ in units)
        if total <= 0:
            return 0.0
        avg_bps = sum(v * bps for v, bps in units) // total
        return total * avg_bps / 10_000 / 10**8

    @property
    def priced_exposure(self) -> risk.Exposure:
        """The exposure, for code that has already checked `priced`."""
        if self.exposure is None:
            raise ValueError("valued without every price")
        return self.exposure

    def max_ltv(self) -> float:
        """The borrow limit as an LTV, as the lender computes it."""
        coll = risk.collateral_value(self.priced_exposure)
        return self.borrowing_power() / coll if coll > 0 else 0.0

    @property
    def lends_nothing(self) -> bool:
        """The market's debt ceiling is 0 (Maker's WBTC vault types): no draw is possible whatever the ratio."""
        ceiling = self.terms.debt_ceiling
        return ceiling is not None and ceiling <= 0

    def _drawable(self, room_in_debt: float) -> float:
        """What can be drawn when the debt may grow by `room_in_debt`: a draw fee makes each draw book more than it pays."""
        return room_in_debt / (1 + self.terms.draw_fee)

    def headroom(self) -> float:
        """USD still drawable before the lender's borrow limit (negative: over it by that much debt); 0 under a full ceiling."""
        room = self.borrowing_power() - risk.debt_value(self.priced_exposure)
        if room > 0 and self.terms.debt_ceiling is not None:
            room = min(room, self.terms.debt_ceiling)
        return self._drawable(room) if room > 0 else room

    def capacity_to(self, kind: str, value: float) -> float:
        """USD drawable before reaching a target: hf, ltv or cr (after a draw fee; never past a full debt ceiling)."""
        e = self.exposure
        assert e is not None
        if kind == "hf":
            room = risk.capacity_to_health(e, value)
        elif kind == "ltv":
            room = max(0.0, value * risk.collateral_value(e) - risk.debt_value(e))
        elif kind == "cr":
            room = max(0.0, risk.collateral_value(e) / value - risk.debt_value(e))
        else:
            raise ValueError(kind)
        if self.terms.debt_ceiling is not None:
            room = min(room, self.terms.debt_ceiling)
        return self._drawable(room)

    def liquidation_cost(self) -> risk.LiquidationCost | None:
        """What a liquidation would take under this lender's rules."""
        if not self.exposure:
            return None
        return risk.liquidation_cost(self.exposure, self.terms.preset.liquidation.get("model", ""), self.terms.preset.liquidation)


def value(
    terms: Terms,
    collateral: tuple[Leg, ...],
    debt: tuple[Leg, ...],
    snapshot: PriceSnapshot,
    registry: AssetRegistry,
) -> Valuation:
    """Value legs at the snapshot under the lender's terms."""
    quotes: dict[str, Quote] = {}
    missing: dict[str, str] = {}

    def price(asset: str, at_par: bool) -> float | None:
        if at_par and registry.get(asset).stable:
            return 1.0  # Maker, Liquity and CeFi lenders count their own debt at exactly $1
        quote = snapshot.quotes.get(asset)
        if quote is None:
            missing[asset] = snapshot.missing.get(asset, "no price")
            return None
        quotes[asset] = quote
        return quote.price

    coll_legs = []
    for leg in collateral:
        t = terms.collateral[leg.asset]
        p = price(leg.asset, False)
        coll_legs.append(None if p is None else risk.CollateralLeg(leg.asset, float(leg.amount), p, t.lt, t.ltv, t.penalty))
    debt_legs = []
    for leg in debt:
        p = price(leg.asset, terms.preset.debt_at_par)
        debt_legs.append(None if p is None else risk.DebtLeg(leg.asset, float(leg.amount), p))
    exposure = None
    priced_coll = [leg for leg in coll_legs if leg is not None]
    priced_debt = [leg for leg in debt_legs if leg is not None]
    if len(priced_coll) == len(coll_legs) and len(priced_debt) == len(debt_legs):
        exposure = risk.Exposure(tuple(priced_coll), tuple(priced_debt))
    stable = frozenset(leg.asset for leg in collateral + debt if registry.get(leg.asset).stable)
    return Valuation(terms, collateral, debt, exposure, quotes, missing, stable)


def shock_multipliers(
    assets: set[str],
    moves: dict[str, Decimal],
    prices: dict[str, float],
    targets: dict[str, Decimal],
    registry: AssetRegistry,
) -> dict[str, float]:
    """Price multipliers per asset for /whatif: a move given for ETH also moves WETH, stETH and wstETH.

    `moves` are relative (-0.3), `targets` absolute USD prices; "ALL" moves every non-stable asset.
    """
    out: dict[str, float] = {}
    for asset in assets:
        family = registry.family(asset)
        for key in (asset, family):
            if key in moves:
                out[asset] = 1 + float(moves[key])
                break
            if key in targets and prices.get(key):
                out[asset] = float(targets[key]) / prices[key]
                break
        else:
            if "ALL" in moves and not registry.get(asset).stable:
                out[asset] = 1 + float(moves["ALL"])
    return out
