"""Liquity v2 troves read from each branch's TroveManager: debt with accrued interest and pending redistribution,
the branch's own price (its PriceFeed), its collateral ratio and shutdown state, and the debt redeemed before the
trove (the debt of troves with a lower interest rate), which is what a redemption has to get through first.

The debt in front comes from one walk of the branch's sorted list from its lowest rate (Liquity's MultiTroveGetter,
a page per eth_call), shared by every followed trove of the branch: Liquity's DebtInFrontHelper answers the same
for one trove, but walks the list again for each and its cost, about 24,000 gas a trove passed, would put a few
deep troves in one aggregate over a node's eth_call gas cap."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.chain.abi import BadReturn, calldata, decode_as
from core.chain.account import Account
from core.chain.addresses import LiquityBranch, LiquityV2Deployment
from core.chain.multicall import Call, Result

WAD = 10**18
ACTIVE, ZOMBIE = 1, 4  # ITroveManager.Status: nonExistent, active, closedByOwner, closedByLiquidation, zombie
LATEST = "(" + ",".join(["uint256"] * 10) + ")"  # LatestTroveData
STEP = 0.001  # a suggested rate sits this far above the trove it must pass (0.1 percentage point)
REDEMPTION_LINE = 0.05  # by default, warn when less than this share of the branch's debt stands before the trove
REDEMPTION_CLEAR = 1.25  # ... and say it is over once the share is back above the line by this factor (hysteresis)
WALK = 200  # troves walked upward from ours when looking for a safer rate (each costs a view inside one eth_call)
PAGE = 250  # troves per page of the sorted list (about 32,000 gas a trove: 8M in one eth_call)
MAX_PAGES = 12  # beyond 3,000 troves from the lowest rate, the debt in front is given as "more than"
COMBINED = "(uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,address,uint256,uint256,uint256)[]"


@dataclass(frozen=True)
class Constants:
    """A branch's immutable ratios, from its AddressesRegistry."""

    mcr: float
    ccr: float
    scr: float
    penalty: float  # to the stability pool


@dataclass(frozen=True)
class BranchState:
    price: float
    oracle_failed: bool  # the feed fell back to its last good price: the branch shuts down on the next write
    coll: Decimal
    debt: Decimal
    shutdown: bool


def ref_of(symbol: str, trove: int) -> str:
    """How a followed trove is stored: its branch and id, "WETH:1234…"."""
    return f"{symbol}:{trove}"


def parse_ref(ref: str) -> tuple[str, int]:
    symbol, _, trove = ref.partition(":")
    return symbol, int(trove)


def constants_calls(b: LiquityBranch) -> list[Call]:
    return [Call(b.registry, calldata(f"{name}()")) for name in ("MCR", "CCR", "SCR", "LIQUIDATION_PENALTY_SP")]


def parse_constants(results: list[Result]) -> Constants:
    if not all(r.ok for r in results):
        raise BadReturn("the branch's AddressesRegistry did not answer")
    mcr, ccr, scr, penalty = (int(decode_as(["uint256"], r.data)[0]) / WAD for r in results)
    return Constants(mcr, ccr, scr, penalty)


def branch_calls(b: LiquityBranch) -> list[Call]:
    """The price (fetchPrice writes, but an eth_call changes nothing), the branch's totals, whether it shut down."""
    return [Call(b.price_feed, calldata("fetchPrice()")), Call(b.trove_manager, calldata("getEntireBranchColl()")),
            Call(b.trove_manager, calldata("getEntireBranchDebt()")), Call(b.trove_manager, calldata("shutdownTime()"))]


def parse_branch(results: list[Result]) -> BranchState:
    if not all(r.ok for r in results):
        raise BadReturn("the branch's PriceFeed or TroveManager did not answer")
    price, failed = decode_as(["uint256", "bool"], results[0].data)
    coll, debt, shutdown = (int(decode_as(["uint256"], r.data)[0]) for r in results[1:])
    return BranchState(price / WAD, bool(failed), Decimal(coll) / WAD, Decimal(debt) / WAD, shutdown > 0)


def trove_calls(b: LiquityBranch, trove: int) -> list[Call]:
    """The trove's latest data (interest and redistribution included) and its status."""
    return [Call(b.trove_manager, calldata("getLatestTroveData(uint256)", trove)),
            Call(b.trove_manager, calldata("getTroveStatus(uint256)", trove))]


def status_of(results: list[Result]) -> int:
    if not results[1].ok:
        raise BadReturn("the TroveManager did not answer for that trove")
    return int(decode_as(["uint8"], results[1].data)[0])


def page_call(dep: LiquityV2Deployment, b: LiquityBranch, page: int, size: int = PAGE) -> Call:
    """`size` troves of the sorted list, the `page`-th page from the lowest rate up (a negative start counts from
    the tail)."""
    return Call(dep.multi_trove_getter, calldata("getMultipleSortedTroves(uint256,int256,uint256)",
                                                 b.index, -(page * size) - 1, size))


def parse_page(result: Result) -> list[tuple[int, Decimal]]:
    """(trove id, its debt) in redemption order."""
    if not result.ok:
        raise BadReturn("Liquity's MultiTroveGetter did not answer")
    (rows,) = decode_as([COMBINED], result.data)
    return [(int(row[0]), Decimal(int(row[1])) / WAD) for row in rows]


def parse_trove(b: LiquityBranch, k: Constants, s: BranchState, results: list[Result], front: Decimal | None,
                beyond: bool) -> Account:
    """One trove as the branch sees it; its health factor is its collateral ratio over the branch's MCR. `front` is
    the debt before it in redemption order (None for a zombie, which goes before every rate); `beyond`: the walk
    stopped first, so `front` is a floor."""
    if not results[0].ok:
        raise BadReturn("the TroveManager did not answer for that trove")
    latest = decode_as([LATEST], results[0].data)[0]
    status = status_of(results)
    if status not in (ACTIVE, ZOMBIE):  # never opened, closed, or liquidated
        return Account(None, 0.0, 0.0, 0, {}, {}, {}, {b.symbol: s.price})
    debt, coll, rate = Decimal(int(latest[0])) / WAD, Decimal(int(latest[1])) / WAD, int(latest[6]) / WAD
    front = Decimal(0) if front is None else front
    icr = float(coll) * s.price / float(debt) if debt else float("inf")
    line = 1 / k.mcr
    tcr = float(s.coll) * s.price / float(s.debt) if s.debt else float("inf")
    system = (("tcr", tcr), ("ccr", k.ccr), ("scr", k.scr), ("rate", rate), ("front", float(front)),
              ("branch_debt", float(s.debt)), ("shutdown", 1.0 if s.shutdown else 0.0),
              ("zombie", 1.0 if status == ZOMBIE else 0.0), ("oracle_failed", 1.0 if s.oracle_failed else 0.0),
              ("front_floor", 1.0 if beyond else 0.0))
    return Account(icr / k.mcr if debt else None, float(coll) * s.price, float(debt), 0, {b.symbol: coll},
                   {"BOLD": debt}, {b.symbol: (line, line, k.penalty)}, {b.symbol: s.price, "BOLD": 1.0}, system=system)


def walk_call(dep: LiquityV2Deployment, b: LiquityBranch, trove: int) -> Call:
    """The troves from ours upward (towards higher rates): each one's rate and debt."""
    return Call(dep.multi_trove_getter, calldata("getDebtPerInterestRateAscending(uint256,uint256,uint256)",
                                                 b.index, trove, WALK))


def safer_rate(result: Result, trove: int, front: float, target: float) -> float | None:
    """The lowest rate (a STEP above a trove's) at which `target` BOLD would stand in front; None if not within WALK."""
    if not result.ok:
        raise BadReturn("the trove getter did not answer")
    rows, _ = decode_as(["(address,uint256,uint256)[]", "uint256"], result.data)
    ahead = front
    for n, (_, rate, debt) in enumerate(rows):
        if n == 0:  # our own trove
            continue
        if int(debt) == 0 and int(rate) == 0:  # the unfilled rows after the list's head
            break
        ahead += int(debt) / WAD
        if ahead >= target:
            return round(int(rate) / WAD + STEP, 4)
    return None


def fee_call(dep: LiquityV2Deployment, b: LiquityBranch, trove: int, rate: float) -> Call:
    """What changing the rate now would charge up front (nothing once 7 days have passed since the last change)."""
    return Call(dep.hint_helpers, calldata("predictAdjustInterestRateUpfrontFee(uint256,uint256,uint256)",
                                           b.index, trove, round(rate * WAD)))


def parse_fee(result: Result) -> float:
    if not result.ok:
        raise BadReturn("the hint helpers did not answer")
    return int(decode_as(["uint256"], result.data)[0]) / WAD


def census_calls(b: LiquityBranch) -> Call:
    return Call(b.trove_manager, calldata("getTroveIdsCount()"))


def id_call(b: LiquityBranch, i: int) -> Call:
    return Call(b.trove_manager, calldata("getTroveFromTroveIdsArray(uint256)", i))


def owner_call(b: LiquityBranch, trove: int) -> Call:
    return Call(b.trove_nft, calldata("ownerOf(uint256)", trove))


def parse_uint(result: Result) -> int:
    if not result.ok:
        raise BadReturn("the TroveManager did not answer")
    return int(decode_as(["uint256"], result.data)[0])


def parse_owner(result: Result) -> str | None:
    """The NFT's owner, lower case; None for a burnt one (a closed trove)."""
    return str(decode_as(["address"], result.data)[0]).lower() if result.ok else None
