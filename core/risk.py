"""Pure lending math: health factor, LTV, capacity, liquidation prices, stress and liquidation cost.

Every function takes plain numbers (USD prices, fractions) and returns numbers; the formulas and
test vectors are those of DOMAIN.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

INF = math.inf


@dataclass(frozen=True)
class CollateralLeg:
    """Collateral as the math sees it: amount, price and the lender's thresholds."""

    asset: str
    amount: float
    price: float
    lt: float  # liquidation threshold (HF weight)
    ltv: float  # borrow limit weight
    penalty: float | None = None

    @property
    def value(self) -> float:
        """USD value."""
        return self.amount * self.price


@dataclass(frozen=True)
class DebtLeg:
    """Debt as the math sees it."""

    asset: str
    amount: float
    price: float

    @property
    def value(self) -> float:
        """USD value."""
        return self.amount * self.price


@dataclass(frozen=True)
class Exposure:
    """Everything the math needs about one position at given prices."""

    collateral: tuple[CollateralLeg, ...]
    debt: tuple[DebtLeg, ...] = ()


@dataclass(frozen=True)
class LiquidationPrice:
    """The price of one asset at which the health factor reaches 1, others held constant."""

    asset: str
    price: float
    current: float
    falling: bool  # True: liquidated if the price falls to it; False: if it rises to it

    @property
    def distance(self) -> float:
        """Signed move from the current price to the liquidation price, as a fraction."""
        return self.price / self.current - 1 if self.current > 0 else -1.0

    @property
    def breached(self) -> bool:
        """The current price is already past the liquidation price."""
        return self.current <= self.price if self.falling else self.current >= self.price


@dataclass(frozen=True)
class LiquidationCost:
    """What a liquidation at the liquidation point takes, in USD."""

    repaid: float | None  # debt a liquidator may repay
    seized: float | None  # collateral value taken
    penalty: float | None  # value lost beyond the debt repaid; None when the lender publishes none
    full: bool  # the whole position is closed


def collateral_value(e: Exposure) -> float:
    """Sum of collateral values."""
    return sum(leg.value for leg in e.collateral)


def debt_value(e: Exposure) -> float:
    """Sum of debt values."""
    return sum(leg.value for leg in e.debt)


def weighted_collateral(e: Exposure) -> float:
    """sum(value_i * LT_i): the collateral value that counts for health."""
    return sum(leg.value * leg.lt for leg in e.collateral)


def borrowing_power(e: Exposure) -> float:
    """sum(value_i * LTV_i): the most the lender lets you owe."""
    return sum(leg.value * leg.ltv for leg in e.collateral)


def health_factor(e: Exposure) -> float:
    """HF = sum(value_i * LT_i) / debt; infinite with no debt; below 1 is liquidatable."""
    debt = debt_value(e)
    if debt <= 0:
        return INF
    return weighted_collateral(e) / debt


def loan_to_value(e: Exposure) -> float:
    """Current LTV = debt / collateral value."""
    debt, coll = debt_value(e), collateral_value(e)
    if debt <= 0:
        return 0.0
    return debt / coll if coll > 0 else INF


def max_ltv(e: Exposure) -> float:
    """Value-weighted borrow limit (LTV-0 assets dilute it)."""
    coll = collateral_value(e)
    return borrowing_power(e) / coll if coll > 0 else 0.0


def liquidation_threshold(e: Exposure) -> float:
    """Value-weighted liquidation threshold: the LTV at which HF = 1."""
    coll = collateral_value(e)
    return weighted_collateral(e) / coll if coll > 0 else 0.0


def capacity_to_max_ltv(e: Exposure) -> float:
    """USD that can still be borrowed before reaching the lender's borrow limit."""
    return max(0.0, borrowing_power(e) - debt_value(e))


def capacity_to_health(e: Exposure, target_hf: float) -> float:
    """USD that can still be borrowed while keeping HF at or above target_hf."""
    if target_hf <= 0:
        raise ValueError("target health factor must be positive")
    return max(0.0, weighted_collateral(e) / target_hf - debt_value(e))


def liquidation_price(e: Exposure, asset: str) -> LiquidationPrice | None:
    """Price of `asset` at which HF = 1 with every other price held constant.

    P = (debt_others - coll_others) / (collateral_amount * LT - debt_amount): collateral in
    the asset pulls HF down as it falls, debt in it as it rises. None when no positive
    price of this asset alone can bring HF to 1.
    """
    weight = 0.0  # d(sum value*LT)/dP
    owed = 0.0  # d(debt)/dP
    current = None
    others_coll = 0.0
    others_debt = 0.0
    for leg in e.collateral:
        if leg.asset == asset:
            weight += leg.amount * leg.lt
            current = leg.price
        else:
            others_coll += leg.value * leg.lt
    for d in e.debt:
        if d.asset == asset:
            owed += d.amount
            current = d.price if current is None else current
        else:
            others_debt += d.value
    slope = weight - owed
    if current is None or slope == 0:
        return None
    price = (others_debt - others_coll) / slope
    if price <= 0:
        return None
    return LiquidationPrice(asset, price, current, falling=slope > 0)


def stressed(e: Exposure, multipliers: Mapping[str, float]) -> Exposure:
    """The same position with each listed asset's price multiplied (0.7 for -30 %)."""

    def scale(leg):
        m = multipliers.get(leg.asset)
        return leg if m is None else replace(leg, price=leg.price * m)

    return Exposure(tuple(scale(c) for c in e.collateral), tuple(scale(d) for d in e.debt))


def liquidation_cost(e: Exposure, model: str, params: Mapping[str, str] | None = None) -> LiquidationCost | None:
    """What a liquidation would take, evaluated where HF first reaches 1.

    The collateral is scaled down to its value at HF = 1 (debt / weighted LT), then each
    lender's rule decides how much debt is repaid and what penalty comes on top.
    """
    params = params or {}
    debt = debt_value(e)
    coll = collateral_value(e)
    if debt <= 0 or coll <= 0:
        return None
    lt = liquidation_threshold(e)
    at_liq = debt / lt if lt > 0 else coll  # collateral value when HF reaches 1
    share = at_liq / coll
    penalties = [(leg.value * share, leg.penalty) for leg in e.collateral]
    largest_penalty = max(penalties, key=lambda vp: vp[0])[1]

    if model == "close-factor":  # Aave: a liquidator repays part of the debt and takes a bonus
        small = float(params.get("full_close_below_usd", 0))
        full = debt < small or at_liq < small
        close = 1.0 if full else float(params.get("close_factor", 0.5))
        repaid = close * debt
        bonus = largest_penalty or 0.0
        seized = min(at_liq, repaid * (1 + bonus))
        return LiquidationCost(repaid, seized, seized - repaid, full)
    if model == "absorb":  # Compound v3: the protocol takes all collateral, credits value * liquidationFactor
        lost = sum(v * (p or 0.0) for v, p in penalties)
        return LiquidationCost(debt, at_liq, lost, True)
    if model == "auction":  # Maker: the vault is auctioned for the debt plus the liquidation penalty
        chop = largest_penalty or 0.0
        return LiquidationCost(debt, min(at_liq, debt * (1 + chop)), min(at_liq - debt, debt * chop), True)
    if model == "whole-collateral":  # Liquity v1: the trove's collateral goes, the debt is cancelled
        return LiquidationCost(debt, at_liq, at_liq - debt, True)
    if model == "stability-pool":  # Liquity v2: penalty on the debt plus 0.5 % of collateral to the liquidator
        gas = float(params.get("collateral_gas_compensation", 0.005)) * at_liq
        penalty = min(at_liq - debt, debt * (largest_penalty or 0.0) + gas)
        return LiquidationCost(debt, debt + penalty, penalty, True)
    if model == "incentive":  # Morpho: any amount, repaid debt times the incentive factor
        bonus = largest_penalty or 0.0
        seized = min(at_liq, debt * (1 + bonus))
        return LiquidationCost(debt, seized, seized - debt, True)
    if model == "partial-rebalance":  # Nexo: small sales until the LTV is back within limits
        return LiquidationCost(None, None, 0.0 if params.get("penalty") == "0" else None, False)
    if model in ("close-loan", "custom"):  # CeFi: collateral sold to repay the loan
        pen = largest_penalty
        return LiquidationCost(debt, None, None if pen is None else debt * pen, True)
    return None
