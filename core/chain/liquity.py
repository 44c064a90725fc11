"""Liquity v1 troves read from the TroveManager: the owner's debt and collateral with pending redistribution,
the price Liquity itself uses (its PriceFeed), and the system's collateral ratio, which decides recovery mode."""

from __future__ import annotations

from decimal import Decimal

from core.chain.abi import BadReturn, calldata, decode_as
from core.chain.account import Account
from core.chain.multicall import Call, Result

WAD = 10**18
MCR, CCR = 1.10, 1.50  # Liquity v1's minimum and critical collateral ratios (immutable, LiquityBase.sol)


def feed_call(trove_manager: str) -> Call:
    return Call(trove_manager, calldata("priceFeed()"))


def system_calls(trove_manager: str, feed: str) -> list[Call]:
    """The price (fetchPrice is not a view, but an eth_call changes nothing) and the system's totals."""
    return [Call(feed, calldata("fetchPrice()")), Call(trove_manager, calldata("getEntireSystemColl()")),
            Call(trove_manager, calldata("getEntireSystemDebt()"))]


def parse_system(results: list[Result]) -> tuple[float, float]:
    """(ETH price in USD, total collateral ratio)."""
    if not all(r.ok for r in results):
        raise BadReturn("Liquity's PriceFeed or TroveManager did not answer")
    price, coll, debt = (int(decode_as(["uint256"], r.data)[0]) for r in results)
    return price / WAD, (coll * price / debt / WAD) if debt else float("inf")


def trove_calls(trove_manager: str, owner: str) -> list[Call]:
    return [Call(trove_manager, calldata("getEntireDebtAndColl(address)", owner)),
            Call(trove_manager, calldata("getTroveStatus(address)", owner))]


def parse_trove(results: list[Result], price: float, tcr: float) -> Account:
    """One trove; in recovery mode (TCR under 150 %) any trove under 150 % can be liquidated, so that is its line."""
    if not all(r.ok for r in results):
        raise BadReturn("the TroveManager did not answer for that trove")
    debt, coll, _, _ = decode_as(["uint256"] * 4, results[0].data)
    (status,) = decode_as(["uint256"], results[1].data)
    if int(status) != 1:  # not active: none, closed, liquidated or redeemed away
        return Account(None, 0.0, 0.0, 0, {}, {}, {}, {"ETH": price})
    recovery = tcr < CCR
    line = CCR if recovery else MCR
    eth, lusd = Decimal(int(coll)) / WAD, Decimal(int(debt)) / WAD
    icr = float(eth) * price / float(lusd) if lusd else float("inf")
    return Account(icr / line if lusd else None, float(eth) * price, float(lusd), 0, {"ETH": eth}, {"LUSD": lusd},
                   {"ETH": (1 / line, 1 / line, 0.0)}, {"ETH": price, "LUSD": 1.0},
                   system=(("tcr", tcr), ("recovery", 1.0 if recovery else 0.0)))
