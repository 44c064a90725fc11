"""Pure lending math: health factor, LTV, capacity, liquidation prices, stress and liquidation cost.

Every function takes plain numbers (USD prices, fractions) and returns numbers; the formulas and
worked examples are those of docs/lending.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

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
    """What one liquidation takes, in USD: where HF reaches 1, or at today's prices once below it."""

    repaid: float | None  # debt a liquidator may repay (or the lender cancels)
    seized: float | None  # collateral value taken; never more than the collateral is worth
    penalty: float | None  # value lost beyond the debt repaid; None when the lender publishes none
    full: bool  # the whole debt goes at once (Aave: close factor 100 %; the others close the position)
    bonus: float | None = None  # the bonus or penalty rate these figures used; None when none applies or is known


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


AT_ONE = 1e-12  # how far from 1 a float health factor may land and still be exactly 1


def settle(hf: float) -> float:
    """A health factor as the lender's fixed-point math has it at the liquidation line: within 1e-12 of 1 is 1.

    The contracts compare integers, so a position exactly at its threshold is exactly 1 there and not
    liquidatable (every lender liquidates strictly below 1). Floats land a hair either side of 1
    (28,062 DAI against 10 ETH at $4,068.99 and Maker's 145 % gives 0.9999999999999999); their error
    is near 1e-16, far below any price's precision, so 1e-12 gives back the exact answer.
    """
    return 1.0 if abs(hf - 1.0) <= AT_ONE else hf


def health_factor(e: Exposure) -> float:
    """HF = sum(value_i * LT_i) / debt, settled at a fixed point; infinite with no debt; below 1 is liquidatable."""
    debt = debt_value(e)
    if debt <= 0:
        return INF
    return settle(weighted_collateral(e) / debt)


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


L = TypeVar("L", "CollateralLeg", "DebtLeg")


def stressed(e: Exposure, multipliers: Mapping[str, float]) -> Exposure:
    """The same position with each listed asset's price multiplied (0.7 for -30 %)."""

    def scale(leg: L) -> L:
        m = multipliers.get(leg.asset)
        return leg if m is None else replace(leg, price=leg.price * m)

    return Exposure(tuple(scale(c) for c in e.collateral), tuple(scale(d) for d in e.debt))


@dataclass(frozen=True)
class _Point:
    """A position at the moment of liquidation: collateral scaled to HF = 1, or as it is when already below."""

    e: Exposure
    share: float  # collateral values at that point are today's times this (at most 1)
    hf: float  # the health factor there: 1, or today's when below 1
    debt: float
    collateral: float

    def largest(self) -> CollateralLeg:
        """The collateral leg worth the most: the one a liquidator takes first."""
        return max(self.e.collateral, key=lambda leg: leg.value)


def liquidation_cost(e: Exposure, model: str, params: Mapping[str, str] | None = None) -> LiquidationCost | None:
    """What a liquidation would take under a lender's rule, None without debt or an unknown rule.

    Above HF 1 it is evaluated where HF first reaches 1 (collateral worth debt / weighted LT); already
    below 1 at today's values, so nothing ever seizes more collateral than there is.
    """
    rule = _RULES.get(model)
    debt, coll = debt_value(e), collateral_value(e)
    if rule is None or debt <= 0 or coll <= 0:
        return None
    hf = health_factor(e)
    share = 1 / hf if hf > 1 else 1.0
    return rule(_Point(e, share, min(hf, 1.0), debt, coll * share), params or {})


def _capped_bonus(repaid: float, available: float, bonus: float) -> tuple[float, float]:
    """(repaid, seized) with seized = repaid * (1 + bonus), repaying less when the collateral runs out."""
    seized = repaid * (1 + bonus)
    if seized > available:  # Aave and Morpho repay only what the collateral covers at the bonus
        return available / (1 + bonus), available
    return repaid, seized


def _close_factor(p: _Point, params: Mapping[str, str]) -> LiquidationCost:
    """Aave v3: one call repays one debt reserve against one collateral reserve, for a bonus.

    Close factor 50 % of the total debt (at most that reserve's debt) while HF > 0.95; the whole
    reserve at or below 0.95, or when that reserve's debt or collateral is under $2,000 (v3.3).
    """
    leg, owed = p.largest(), max(p.e.debt, key=lambda d: d.value)
    leg_value = leg.value * p.share
    small = float(params.get("full_close_below_usd", 0))
    full = p.hf <= float(params.get("full_close_below_hf", 0)) or owed.value < small or leg_value < small
    repaid = owed.value if full else min(owed.value, float(params.get("close_factor", 0.5)) * p.debt)
    if leg.penalty is None:  # an asset the preset does not list: its bonus is unknown, not 0
        return LiquidationCost(repaid, None, None, full, None)
    repaid, seized = _capped_bonus(repaid, leg_value, leg.penalty)
    return LiquidationCost(repaid, seized, seized - repaid, full, leg.penalty)


def _absorb(p: _Point, params: Mapping[str, str]) -> LiquidationCost:
    """Compound v3: all collateral is absorbed and credited at value * liquidationFactor; any excess
    over the debt stays the user's, a shortfall falls on the protocol."""
    factors = [leg.penalty for leg in p.e.collateral]
    if any(f is None for f in factors):
        return LiquidationCost(p.debt, p.collateral, None, True, None)
    credit = sum(leg.value * p.share * (1 - (leg.penalty or 0.0)) for leg in p.e.collateral)
    lost = max(0.0, p.collateral - p.debt - max(0.0, credit - p.debt))
    return LiquidationCost(p.debt, p.collateral, lost, True, 1 - credit / p.collateral)


def _auction(p: _Point, params: Mapping[str, str]) -> LiquidationCost:
    """Maker: the vault is auctioned for the debt plus the penalty (chop); the rest is returned."""
    chop = p.largest().penalty
    if chop is None:
        return LiquidationCost(p.debt, None, None, True, None)
    seized = min(p.collateral, p.debt * (1 + chop))
    return LiquidationCost(p.debt, seized, max(0.0, seized - p.debt), True, chop)


def _whole_collateral(p: _Point, params: Mapping[str, str]) -> LiquidationCost:
    """Liquity v1: all the trove's collateral goes and its debt is cancelled."""
    return LiquidationCost(p.debt, p.collateral, max(0.0, p.collateral - p.debt), True, None)


def _stability_pool(p: _Point, params: Mapping[str, str]) -> LiquidationCost:
    """Liquity v2: the debt plus its penalty and a share of collateral to the liquidator; the surplus is claimable."""
    penalty = p.largest().penalty
    if penalty is None:
        return LiquidationCost(p.debt, None, None, True, None)
    gas = float(params.get("collateral_gas_compensation", 0.005)) * p.collateral
    cap = params.get("collateral_gas_compensation_cap")
    if cap is not None:  # at most that many units of the collateral token, at its price where liquidation happens
        gas = min(gas, sum(float(cap) * leg.price * p.share for leg in p.e.collateral))
    seized = min(p.collateral, p.debt * (1 + penalty) + gas)
    return LiquidationCost(p.debt, seized, max(0.0, seized - p.debt), True, penalty)


def _incentive(p: _Point, params: Mapping[str, str]) -> LiquidationCost:
    """Morpho Blue: any amount of debt, repaid for collateral worth it times the incentive factor."""
    bonus = p.largest().penalty
    if bonus is None:
        return LiquidationCost(p.debt, None, None, True, None)
    repaid, seized = _capped_bonus(p.debt, p.collateral, bonus)
    return LiquidationCost(repaid, seized, seized - repaid, True, bonus)


def _partial_rebalance(p: _Point, params: Mapping[str, str]) -> LiquidationCost:
    """Nexo: small sales until the LTV is back within limits; how much is sold is not known in advance."""
    rate = float(params["penalty"]) if "penalty" in params else None
    return LiquidationCost(None, None, 0.0 if rate == 0 else None, False, rate)


def _close_loan(p: _Point, params: Mapping[str, str]) -> LiquidationCost:
    """CeFi and custom: collateral is sold to repay the loan, the penalty on the debt out of what is left."""
    rate = p.largest().penalty
    repaid = min(p.debt, p.collateral)
    if rate is None:
        return LiquidationCost(repaid, None, None, True, None)
    lost = min(p.debt * rate, p.collateral - repaid)
    return LiquidationCost(repaid, repaid + lost, lost, True, rate)


_RULES = {
    "close-factor": _close_factor,
    "absorb": _absorb,
    "auction": _auction,
    "whole-collateral": _whole_collateral,
    "stability-pool": _stability_pool,
    "incentive": _incentive,
    "partial-rebalance": _partial_rebalance,
    "close-loan": _close_loan,
    "custom": _close_loan,
}
