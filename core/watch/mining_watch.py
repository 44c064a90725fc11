"""Warnings for mining fleets: a fleet whose margin turns negative at today's BTC price and difficulty is told so
once, and told again when it earns more than it spends by a clear margin (hysteresis, as the position warnings)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.lending.models import ChatRef, Owner
from core.lending.numbers import fmt_usd
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


class MiningWatch:
    """Refreshes the network figures when due and tells owners when a fleet's margin crosses zero."""

    def __init__(self, store: Store, data: MiningData, prices: PriceBook, outbox: Outbox, clock: Clock,
                 wake: Callable[[], None] | None = None):
        self.store, self.data, self.prices, self.outbox, self.clock = store, data, prices, outbox, clock
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
        net = read[0]
        now = self.clock.time()
        notices: list[tuple[StoredFleet, Notice]] = []
        for fleet in fleets:
            e = m.economics(m.Fleet(fleet.hashrate_th, fleet.efficiency_j_th, fleet.power_usd_kwh, fleet.pool_fee), net, price)
            losing = e.margin_usd < 0 if not fleet.losing else e.margin_share < CLEAR_MARGIN
            if losing == fleet.losing:
                continue
            platform, kind, owner_id = fleet.owner_key.split(":", 2)
            if not self.store.alerts_enabled(Owner(platform, kind, owner_id)):
                continue  # "/alerts off" quiets the fleets too; the crossing is told once they are back on
            chat = ChatRef(platform, owner_id, kind == "group")
            ref = f"Fleet {fleet.number}"
            if losing:
                text = (f"{ref} now spends more on power than it earns: {fmt_usd(e.revenue_usd)} a day against "
                        f"{fmt_usd(e.power_usd)} at BTC {fmt_usd(price)}; it breaks even at BTC {fmt_usd(e.break_even_price)}.")
                item = AlertItem("mining-loss", WARNING, ref, text, None, (("Details", f"/mining {fleet.number}"),))
            else:
                text = (f"{ref} earns more than its power again: margin {fmt_usd(e.margin_usd)} a day "
                        f"({e.margin_share:.0%} of revenue) at BTC {fmt_usd(price)}.")
                item = AlertItem("mining-profit", OK, ref, text, None, (("Details", f"/mining {fleet.number}"),))
            notices.append((fleet, Notice(chat, (item,), now)))
        if notices:
            with self.store.transaction() as db:
                for fleet, notice in notices:
                    self.outbox.enqueue(db, notice, now)
                    db.execute("UPDATE fleets SET losing = ? WHERE id = ?", [int(not fleet.losing), fleet.row_id])
            if self.wake is not None:
                self.wake()
        return len(notices)
