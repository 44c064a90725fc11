"""Rates and carry: APR <-> APY, and what a borrow-to-earn position makes a year.

Units: every rate here is a fraction (0.046 means 4.6 %). DefiLlama and most dashboards quote APYs as
percentages (4.6), so divide those by 100 before passing them in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SECONDS_PER_YEAR = 365 * 24 * 3600


def _check_periods(periods: int | None) -> None:
    if periods is not None and (isinstance(periods, bool) or not isinstance(periods, int) or periods <= 0):
        raise ValueError(f"periods must be a positive whole number or None, got {periods!r}")


def apr_to_apy(apr: float, periods: int | None = SECONDS_PER_YEAR) -> float:
    """APY of `apr` compounded `periods` times a year ((1 + APR/n)^n - 1), or continuously (e^APR - 1) when periods is None."""
    _check_periods(periods)
    if not math.isfinite(apr):
        raise ValueError(f"apr must be finite, got {apr!r}")
    if periods is None:
        return math.expm1(apr)
    if apr / periods <= -1:
        raise ValueError(f"an APR of {apr!r} cannot compound {periods} times a year")
    # expm1/log1p instead of (1 + apr/n) ** n: with n = 31,536,000 the plain form loses most of its digits.
    return math.expm1(periods * math.log1p(apr / periods))


def apy_to_apr(apy: float, periods: int | None = SECONDS_PER_YEAR) -> float:
    """The APR that compounds to `apy`: n((1 + APY)^(1/n) - 1), or ln(1 + APY) when periods is None."""
    _check_periods(periods)
    if not math.isfinite(apy) or apy <= -1:
        raise ValueError(f"apy must be finite and above -100 %, got {apy!r}")
    if periods is None:
        return math.log1p(apy)
    return periods * math.expm1(math.log1p(apy) / periods)


@dataclass(frozen=True)
class Carry:
    """A year of a borrow-to-earn position in USD, and its return on the owner's equity (rates as fractions)."""

    debt_usd: float
    borrow_apr: float
    borrow_cost_usd: float  # per year
    deployed_usd: float  # the borrowed amount put to work
    deploy_apy: float
    deploy_income_usd: float
    collateral_usd: float
    collateral_apy: float  # e.g. stETH's staking yield; 0 if the collateral earns nothing
    collateral_income_usd: float
    equity_usd: float  # collateral value - debt value
    net_usd: float  # deploy income + collateral income - borrow cost
    net_on_equity: float
    break_even_borrow_apr: float  # the borrow APR at which the deployed yield exactly pays the debt's interest


def carry(
    debt_usd: float,
    borrow_apr: float,
    deployed_usd: float,
    deploy_apy: float,
    collateral_usd: float,
    collateral_apy: float,
    equity_usd: float,
    borrow_periods: int | None = SECONDS_PER_YEAR,
) -> Carry:
    """Yearly carry: net = deployed * deploy_apy + collateral * collateral_apy - debt * borrow_apy, and net / equity.

    The debt compounds as it accrues (`borrow_periods` a year: every second on Aave, Compound and Morpho, daily at a
    CeFi lender); `deployed` is what the borrower received to put to work (Liquity v1: without its fee and reserve).
    """
    inputs = {
        "debt_usd": debt_usd, "borrow_apr": borrow_apr, "deployed_usd": deployed_usd, "deploy_apy": deploy_apy,
        "collateral_usd": collateral_usd, "collateral_apy": collateral_apy, "equity_usd": equity_usd,
    }
    for name, value in inputs.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if equity_usd <= 0:
        raise ValueError("equity must be positive: the debt is as large as the collateral or larger")
    # A debt grows by its APY, not its APR: 15,000 at 5 % APR accrued every second costs 769.07 a year, not 750.
    borrow_cost = debt_usd * apr_to_apy(borrow_apr, borrow_periods)
    deploy_income = deployed_usd * deploy_apy
    collateral_income = collateral_usd * collateral_apy
    net = deploy_income + collateral_income - borrow_cost
    # The APR whose compounded cost equals what the borrowed money earns; with no debt no rate can lose.
    break_even = apy_to_apr(deploy_income / debt_usd, borrow_periods) if debt_usd > 0 else math.inf
    return Carry(
        debt_usd=debt_usd,
        borrow_apr=borrow_apr,
        borrow_cost_usd=borrow_cost,
        deployed_usd=deployed_usd,
        deploy_apy=deploy_apy,
        deploy_income_usd=deploy_income,
        collateral_usd=collateral_usd,
        collateral_apy=collateral_apy,
        collateral_income_usd=collateral_income,
        equity_usd=equity_usd,
        net_usd=net,
        net_on_equity=net / equity_usd,
        break_even_borrow_apr=break_even,
    )
