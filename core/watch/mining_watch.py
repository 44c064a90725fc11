"""Warnings for mining fleets, each once per crossing with hysteresis, as the position warnings are:
- a fleet whose margin turns negative at today's BTC price and difficulty (and again when it earns clearly more
  than its power);
- a fleet's linked loan whose projection, counting the coins the owner said are pledged, reaches its margin call
  within AHEAD_MONTHS (and again when it no longer does)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.lending.assets import AssetRegistry
from core.lending.models import ChatRef, Owner
from core.lending.numbers import fmt_usd
from core.lending.protocols import Presets
from core.market import mining as m
from core.market.mining_data import MiningData
from core.market.ports import PriceBook
from core.ports import Clock
from core.storage.fleets import Fleets, StoredFleet
from core.storage.store import Store
from core.watch.alerts import OK, WARNING
from core.watch.notices import AlertItem, Notice
from core.watch.outbox import Outbox

log = logging.getLogger(__name__)

CLEAR_MARGIN = 0.05  # back to "profitable" once the margin is at least this share of revenue
AHEAD_MONTHS = 3  # warn when the projected margin call is this close; clear once it is a month further off


class MiningWatch:
    """Refreshes the network figures when due and tells owners when a fleet or its loan crosses a line."""

    def __init__(self, store: Store, data: MiningData, prices: PriceBook, outbox: Outbox, clock: Clock,
                 presets: Presets, registry: AssetRegistry, wake: Callable[[], None] | None = None):
        self.store, self.data, self.prices, self.outbox, self.clock = store, data, prices, outbox, clock
        self.presets, self.registry = presets, registry
        self.fleets = Fleets(store)
        self.wake = wake

    async def tick(self) -> int:
        """One look at every fleet; returns how many notices were queued. A failed read warns of nothing."""
        fleets = self.fleets.all()
        if not fleets:
            return 0
        read = await self.data.current()
        price = (await self.prices.snapshot(["BTC"])).price("BTC")
        if read is None or not price:
            return 0
        net, now = read[0], self.clock.time()
        changes: list[tuple[StoredFleet, str, Notice]] = []
        for fleet in fleets:
            platform, kind, owner_id = fleet.owner_key.split(":", 2)
            owner = Owner(platform, kind, owner_id)
            if not self.store.alerts_enabled(owner):
                continue  # "/alerts off" quiets the fleets too; a crossing is told once they are back on
            chat = ChatRef(platform, owner_id, kind == "group")
            machines = m.Fleet(fleet.hashrate_th, fleet.efficiency_j_th, fleet.power_usd_kwh, fleet.pool_fee)
            item = self._margin(fleet, m.economics(machines, net, price), price)
            if item is not None:
                changes.append((fleet, "losing", Notice(chat, (item,), now)))
            item = self._call_ahead(fleet, machines, net, price, now)
            if item is not None:
                changes.append((fleet, "call_ahead", Notice(chat, (item,), now)))
        if changes:
            with self.store.transaction() as db:
                for fleet, flag, notice in changes:
                    self.outbox.enqueue(db, notice, now)
                    db.execute(f"UPDATE fleets SET {flag} = ? WHERE id = ?", [int(not getattr(fleet, flag)), fleet.row_id])
            if self.wake is not None:
                self.wake()
        return len(changes)

    def _margin(self, fleet: StoredFleet, e: m.Economics, price: float) -> AlertItem | None:
        """The item for a margin crossing zero, or None."""
        losing = e.margin_usd < 0 if not fleet.losing else e.margin_share < CLEAR_MARGIN
        if losing == fleet.losing:
            return None
        ref, details = f"Fleet {fleet.number}", (("Details", f"/mining {fleet.number}"),)
        if losing:
            return AlertItem("mining-loss", WARNING, ref, f"{ref} now spends more on power than it earns: "
                             f"{fmt_usd(e.revenue_usd)} a day against {fmt_usd(e.power_usd)} at BTC {fmt_usd(price)}; it "
                             f"breaks even at BTC {fmt_usd(e.break_even_price)}.", None, details)
        return AlertItem("mining-profit", OK, ref, f"{ref} earns more than its power again: margin "
                         f"{fmt_usd(e.margin_usd)} a day ({e.margin_share:.0%} of revenue) at BTC {fmt_usd(price)}.",
                         None, details)

    def _call_ahead(self, fleet: StoredFleet, machines: m.Fleet, net: m.Network, price: float,
                    now: float) -> AlertItem | None:
        """The item for the linked loan's projected margin call coming near or going away, or None."""
        if fleet.loan_position_id is None:
            return None
        position = self.store.positions_by_row_ids([fleet.loan_position_id]).get(fleet.loan_position_id)
        if position is None:
            return None
        link = self.store.chain_link(position)  # a followed loan has the chain's terms, as /mining shows them
        loan = m.loan_of(position, self.presets.of_position(position, link.reading if link else None),
                         self.registry.family, self.store.borrow_apr(position) or 0.0)
        if loan is None:
            return None
        month = m.first_margin_call(m.project(machines, net, price, now, loan, fleet.pledge, AHEAD_MONTHS + 1), loan)
        near = month is not None and month <= (AHEAD_MONTHS + 1 if fleet.call_ahead else AHEAD_MONTHS)
        if near == fleet.call_ahead:
            return None
        ref, details = f"Fleet {fleet.number}", (("Projection", f"/mining {fleet.number}"),)
        pledged = f"pledging {fleet.pledge:.0%} of what it keeps" if fleet.pledge else "with nothing pledged"
        if near:
            return AlertItem("mining-call-ahead", WARNING, ref, f"{position.ref}, the loan {ref} backs, reaches its margin "
                             f"call ({loan.margin_ltv:.0%} LTV) in month {month} at today's BTC price of {fmt_usd(price)}, "
                             f"{pledged}. Pledge more, top up or repay before then.", None, details)
        return AlertItem("mining-call-clear", OK, ref, f"{position.ref}, the loan {ref} backs, no longer reaches its margin "
                         f"call within {AHEAD_MONTHS + 1} months at today's BTC price, {pledged}.", None, details)
