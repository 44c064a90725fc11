"""Bitcoin mining economics: the block subsidy, hashprice, a fleet's income, power cost and break-even price, and a
month-by-month projection of a loan backed by the coins the fleet mines.

Pure functions of plain numbers; the network figures come from core.market.mining_data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.lending.models import Position
from core.lending.protocols import Terms
from core.lending.valuation import levels

BTC = "BTC"  # the asset family a fleet mines, and the collateral its coins back
SATS = 100_000_000
HALVING_BLOCKS = 210_000
RETARGET_BLOCKS = 2_016
BLOCK_SECONDS = 600
MONTH_DAYS = 30
MAX_RETARGET_CHANGE = 0.10  # the trend applied per retarget is capped: one noisy estimate must not run away for a year


def subsidy(height: int) -> float:
    """The block subsidy in BTC at a height: 50 BTC halved every 210,000 blocks (integer sats, as Bitcoin Core)."""
    halvings = height // HALVING_BLOCKS
    return ((50 * SATS) >> halvings) / SATS if halvings < 64 else 0.0


@dataclass(frozen=True)
class Network:
    """What the network pays: difficulty, the tip, average fees per block, and the difficulty trend."""

    difficulty: float
    height: int
    fees_per_block: float  # BTC, over the last 144 blocks
    retarget_change: float  # the estimated change at the next retarget (0.03: +3 %)
    retarget_at: float  # unix time of the next retarget (estimate)
    block_seconds: float = BLOCK_SECONDS  # the recent average time between blocks

    def btc_per_th_day(self, height: int | None = None) -> float:
        """BTC one TH/s earns a day before pool fees: 86,400 x 10^12 / (D x 2^32) x (subsidy + fees)."""
        return 86_400 * 1e12 / (self.difficulty * 2**32) * (subsidy(self.height if height is None else height)
                                                             + self.fees_per_block)

    def next_halving(self, now: float) -> tuple[int, float]:
        """(height, estimated unix time) of the next halving."""
        height = (self.height // HALVING_BLOCKS + 1) * HALVING_BLOCKS
        return height, now + (height - self.height) * self.block_seconds


@dataclass(frozen=True)
class Fleet:
    """A miner's machines: hashrate, efficiency, what power costs, what the pool keeps."""

    hashrate_th: float
    efficiency_j_th: float
    power_usd_kwh: float
    pool_fee: float  # 0.02: 2 %

    @property
    def power_usd_per_th_day(self) -> float:
        """Power per TH/s per day: J/TH x 24 h / 1000 x $/kWh."""
        return self.efficiency_j_th * 24 / 1000 * self.power_usd_kwh


@dataclass(frozen=True)
class Economics:
    """A fleet's day at one BTC price and network state."""

    btc_per_day: float  # after the pool fee
    revenue_usd: float
    power_usd: float
    hashprice_usd: float  # USD per TH/s per day, before the pool fee
    break_even_price: float  # the BTC price at which revenue pays the power

    @property
    def margin_usd(self) -> float:
        return self.revenue_usd - self.power_usd

    @property
    def margin_share(self) -> float:
        return self.margin_usd / self.revenue_usd if self.revenue_usd else -math.inf


def economics(fleet: Fleet, net: Network, price: float, height: int | None = None) -> Economics:
    """The fleet's BTC and USD per day, power cost, hashprice and break-even price."""
    b = net.btc_per_th_day(height)
    kept = b * (1 - fleet.pool_fee)
    power = fleet.power_usd_per_th_day * fleet.hashrate_th
    return Economics(kept * fleet.hashrate_th, kept * fleet.hashrate_th * price, power, b * price,
                     fleet.power_usd_per_th_day / kept if kept > 0 else math.inf)


@dataclass(frozen=True)
class Loan:
    """A BTC-backed loan as the projection needs it."""

    collateral_btc: float
    debt_usd: float
    apr: float  # accrues daily
    margin_ltv: float
    liquidation_ltv: float
    target_ltv: float  # where a margin call asks the LTV to be brought back


@dataclass(frozen=True)
class Month:
    """One month of the projection, at its end."""

    month: int
    difficulty: float
    mined_btc: float  # kept after selling enough to pay the power (never negative: a loss is paid from elsewhere)
    pledged_btc: float
    collateral_btc: float
    debt_usd: float
    ltv: float  # at today's price
    margin_call_price: float
    liquidation_price: float
    top_up_btc: float  # to get back to the target LTV at today's price (0: none needed)
    halving: bool  # the subsidy halved during the month


def project(fleet: Fleet, net: Network, price: float, now: float, loan: Loan | None = None, pledge: float = 0.0,
            months: int = 12, retarget_change: float | None = None) -> list[Month]:
    """Month by month at today's price: difficulty moving by the trend at each retarget (every 2,016 blocks), the
    halving when its height comes, coins kept, a share `pledge` of them added to the loan's collateral, the debt
    accruing daily; LTV, margin-call and liquidation prices, and the top-up the lender's target asks for."""
    change = net.retarget_change if retarget_change is None else retarget_change
    change = max(-MAX_RETARGET_CHANGE, min(MAX_RETARGET_CHANGE, change))
    blocks_per_day = 86_400 / net.block_seconds
    height, difficulty = float(net.height), net.difficulty
    to_retarget = max(0.0, (net.retarget_at - now) / net.block_seconds)  # blocks to the next retarget
    coll = loan.collateral_btc if loan else 0.0
    debt = loan.debt_usd if loan else 0.0
    out = []
    for month in range(1, months + 1):
        mined = 0.0
        halved = False
        for _ in range(MONTH_DAYS):
            before = subsidy(int(height))
            day = economics(fleet, replace(net, difficulty=difficulty), price, int(height))
            mined += max(0.0, day.btc_per_day - day.power_usd / price)
            height += blocks_per_day
            to_retarget -= blocks_per_day
            if to_retarget <= 0:  # a retarget passed: the trend moves the difficulty
                difficulty *= 1 + change
                to_retarget += RETARGET_BLOCKS
            halved |= subsidy(int(height)) < before
            if loan:
                debt *= 1 + loan.apr / 365
        pledged = mined * pledge
        coll += pledged
        ltv = debt / (coll * price) if coll > 0 and loan else 0.0
        out.append(Month(month, difficulty, mined, pledged, coll, debt, ltv,
                         debt / (loan.margin_ltv * coll) if loan and coll else math.inf,
                         debt / (loan.liquidation_ltv * coll) if loan and coll else math.inf,
                         max(0.0, debt / (loan.target_ltv * price) - coll) if loan and ltv >= loan.margin_ltv else 0.0,
                         halved))
    return out


def loan_of(position: Position, terms: Terms, family: Callable[[str], str], apr: float) -> Loan | None:
    """A position as the BTC-backed loan a fleet's coins support (None when it holds no BTC): its BTC, its debt,
    and its lender's margin-call, liquidation and target LTVs (a health-factor lender's warning level stands in for
    a margin call, its borrow limit for the target)."""
    btc = [leg for leg in position.collateral if family(leg.asset) == BTC]
    if not btc:
        return None
    legs = terms.collateral[btc[0].asset]
    warn, _ = levels(terms)
    margin = terms.margin_ltvs[0] if terms.margin_ltvs else legs.lt / warn
    return Loan(float(sum(leg.amount for leg in btc)), float(sum(leg.amount for leg in position.debt)), apr, margin,
                terms.liquidation_ltv or legs.lt, legs.ltv)


def first_margin_call(rows: list[Month], loan: Loan) -> int | None:
    """The first month whose LTV at today's price reaches the margin call, if one does."""
    return next((r.month for r in rows if r.ltv >= loan.margin_ltv), None)
