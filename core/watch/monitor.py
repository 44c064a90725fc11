"""The warning tick: prices -> evaluation -> alert rules -> outbox, stored in one transaction."""

from __future__ import annotations

import gc
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from core.chain.tracker import LENDERS as LENDER_NAMES
from core.chain.tracker import is_oracle_symbol, oracle_symbol
from core.errors import CoreError
from core.lending.assets import AssetRegistry
from core.lending.models import Card, ChatRef, Overrides, Owner, PriceSnapshot
from core.lending.numbers import age_text, fmt_amount, fmt_hf, fmt_usd
from core.lending.protocols import Presets, Terms, lender_name
from core.lending.valuation import levels
from core.market.ports import PriceBook
from core.market.prices.feed import PriceFeed
from core.market.prices.guard import AssetState, Trust
from core.ports import Clock, Database
from core.storage.store import Store
from core.watch.alerts import DANGER, LIQUIDATABLE, OK, WARNING, AlertState, Policy
from core.watch.evaluation import PAR, Decision, Evaluator
from core.watch.notices import AlertItem, Notice, hf_phrase, redemption_text, sort_items
from core.watch.outbox import Outbox

log = logging.getLogger(__name__)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: a crash tick builds tens of thousands of short-lived, acyclic objects
    (cards, texts, payloads), and the collections they would trigger cost a tenth of the fan-out, finding nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Options(NamedTuple):
    """What the evaluator needs to know about one position besides its legs, as the queries below select it."""

    row_id: int
    protocol: str
    market: str | None
    overrides: str | None
    owner_enabled: int
    warn: float | None
    critical: float | None
    enabled: int | None
    snoozed_until: float | None
    remind_cap: float | None
    reading: str | None  # the last chain reading of a position that follows a wallet (JSON); None for one typed in


_OPTIONS_SQL = ("p.id, p.protocol, p.market, p.overrides, o.alerts_enabled, s.warn, s.critical, s.enabled, s.snoozed_until, "
                "s.remind_cap, c.reading")
_OPTIONS_JOINS = "LEFT JOIN alert_settings s ON s.position_id = p.id LEFT JOIN chain_links c ON c.position_id = p.id"
_N_OPTIONS = len(_Options._fields)


class Monitor:
    """Keeps every position in the evaluator, and turns each tick's decisions into queued messages."""

    def __init__(self, store: Store, feed: PriceFeed, registry: AssetRegistry, presets: Presets, clock: Clock,
                 outbox: Outbox, policy: Policy = Policy(), wake: Callable[[], None] = lambda: None,
                 on_commit: Callable[[Database, float], None] | None = None, oracle: PriceBook | None = None):
        self.oracle = oracle  # the lenders' own prices, for positions that follow a wallet
        self.store, self.feed, self.registry, self.presets, self.clock = store, feed, registry, presets, clock
        self.outbox = outbox
        self.evaluator = Evaluator(policy)
        self.wake = wake
        self.on_commit = on_commit  # extra state saved with each tick (a replay's position)
        self._terms: dict[tuple, Terms | None] = {}  # by the stored fields that decide them
        self._names: dict[int, str] = {}  # lender_name by id() of the cached terms
        self._followed: dict[int, tuple[Terms, str]] = {}  # positions that follow a wallet: chain terms, chain name
        self._degraded: set[str] | None = None  # the degraded assets of the last tick (None: not looked yet)
        self.last_tick: dict[str, float] = {}
        self.publish = False  # also store last_tick for other replicas (kv 'last_tick')

    # ---------------------------------------------------------------- loading

    def reload(self) -> int:
        """Start again from the database (a replica that just became the one that ticks: others wrote meanwhile)."""
        self.evaluator = Evaluator(self.evaluator.policy)
        self._terms.clear()
        self._names.clear()
        self._followed.clear()
        self._degraded = None
        return self.load()

    def load(self) -> int:
        """Build the evaluator from the database (every position, its options and alert state)."""
        with self.store.db.snapshot() as db:  # one moment of the database, streamed (PostgreSQL: server-side cursors)
            # Two cursors walked in step (a merge join) so a million positions never sit in memory as rows.
            legs = iter(db.stream("SELECT position_id, side, asset, amount FROM legs ORDER BY position_id, id"))
            rows = db.stream(
                f"SELECT {_OPTIONS_SQL}, a.level, a.since, a.last_sent, a.told FROM positions p JOIN owners o ON o.key = p.owner_key "
                f"{_OPTIONS_JOINS} LEFT JOIN alert_state a ON a.position_id = p.id ORDER BY p.id"
            )
            count = 0
            leg = next(legs, None)
            for r in rows:
                options = _Options._make(r[:_N_OPTIONS])
                coll: list[tuple[str, str]] = []
                debt: list[tuple[str, str]] = []
                while leg is not None and leg[0] < options.row_id:
                    leg = next(legs, None)
                while leg is not None and leg[0] == options.row_id:  # legs stay tuples: 2.6M of them at a million positions
                    (debt if leg[1] == "debt" else coll).append((leg[2], leg[3]))
                    leg = next(legs, None)
                level, since, last_sent, told = r[_N_OPTIONS:]
                state = AlertState(level, since, last_sent, told) if level is not None else AlertState()
                if self._put(options, coll, debt, state):
                    count += 1
            for asset, price, at, sources in db.execute("SELECT asset, price, at, sources FROM price_state"):
                if asset not in self.feed.guard.states:  # the guard's last good prices survive a restart
                    self.feed.guard.states[asset] = AssetState(asset, Trust.DEGRADED, price, at, None,
                                                                "restarted: waiting for a fresh check", tuple(sources.split("+")))
        return count

    def _put(self, o: _Options, coll: list[tuple[str, str]], debt: list[tuple[str, str]], state: AlertState | None = None) -> bool:
        if o.reading is not None:
            return self._put_followed(o, coll, debt, state)
        terms = self._terms_for(o.row_id, o.protocol, o.market, o.overrides or "{}", coll, debt)
        if terms is None or not coll:
            self.evaluator.remove(o.row_id)
            return False
        at_par = terms.preset.debt_at_par
        return self._put_weighted(o, terms, [(a, float(amount) * terms.collateral[a].lt) for a, amount in coll],
                                  [(PAR if at_par and self.registry.get(a).stable else a, float(amount)) for a, amount in debt],
                                  state)

    def _put_followed(self, o: _Options, coll: list[tuple[str, str]], debt: list[tuple[str, str]],
                      state: AlertState | None) -> bool:
        """A position that follows a wallet: the lender's thresholds, its assets priced by the lender's oracle."""
        reading = json.loads(o.reading or "{}")
        per_asset = reading.get("terms", {})
        if not coll or not reading.get("prices") or any(a not in per_asset for a, _ in coll):
            self.evaluator.remove(o.row_id)
            return False
        terms = self.presets.followed(o.protocol, o.market, per_asset, f"block {reading.get('block')}")
        where = reading.get("chain_name", "")
        self._followed[o.row_id] = (terms, where)
        weighted = [(oracle_symbol(a, o.protocol, where), float(x) * per_asset[a][1]) for a, x in coll]
        if reading.get("marker"):
            # The position's own read, as a leg too small to move its health factor (a zero weight would read
            # as a removed leg): while that read fails, the position is frozen like one without a trusted price.
            weighted.append((reading["marker"], 1e-300))
        return self._put_weighted(o, terms, weighted, [(oracle_symbol(a, o.protocol, where), float(x)) for a, x in debt],
                                  state)

    def _put_weighted(self, o: _Options, terms: Terms, coll: list[tuple[str, float]], debt: list[tuple[str, float]],
                      state: AlertState | None) -> bool:
        default_warn, default_danger = levels(terms)
        self.evaluator.put(
            o.row_id,
            coll,
            debt,
            o.warn if o.warn is not None else default_warn,
            o.critical if o.critical is not None else default_danger,
            state or AlertState(),
            o.snoozed_until or 0.0,
            not ((o.enabled if o.enabled is not None else 1) and o.owner_enabled),
            o.remind_cap,
        )
        return True

    # ---------------------------------------------------------------- the service's change events

    def position_changed(self, row_id: int) -> None:
        """Reload one position (added, changed, new thresholds, snoozed, muted)."""
        db = self.store.db
        r = db.execute(
            f"SELECT {_OPTIONS_SQL} FROM positions p JOIN owners o ON o.key = p.owner_key "
            f"{_OPTIONS_JOINS} WHERE p.id = ?", [row_id]).fetchone()
        if r is None:
            self.evaluator.remove(row_id)
            return
        coll: list[tuple[str, str]] = []
        debt: list[tuple[str, str]] = []
        for side, asset, amount in db.execute("SELECT side, asset, amount FROM legs WHERE position_id = ? ORDER BY id", [row_id]):
            (debt if side == "debt" else coll).append((asset, amount))
        self._put(_Options._make(r), coll, debt, self.evaluator.state_of(row_id))

    def position_removed(self, row_id: int) -> None:
        """Forget a deleted position."""
        self.evaluator.remove(row_id)
        self._followed.pop(row_id, None)

    def owner_changed(self, owner: Owner) -> None:
        """Reload every position of an owner (alerts switched on or off for all)."""
        for (row_id,) in self.store.db.execute("SELECT id FROM positions WHERE owner_key = ?", [owner.key]).fetchall():
            self.position_changed(row_id)

    # ---------------------------------------------------------------- the tick

    async def tick(self) -> int:
        """Evaluate every position at the feed's current prices; returns how many messages were queued."""
        started = time.perf_counter()
        now = self.clock.time()
        symbols = [s for s in self.evaluator.assets if s != PAR]
        snap = self.feed.quotes([s for s in symbols if not is_oracle_symbol(s)])
        oracle = [s for s in symbols if is_oracle_symbol(s)]
        if oracle:  # a wallet's position is priced as its lender prices it
            lenders = self.oracle.quotes(oracle) if self.oracle is not None else PriceSnapshot(missing=dict.fromkeys(oracle, "no chain reader"))
            snap = PriceSnapshot({**snap.quotes, **lenders.quotes}, {**snap.missing, **lenders.missing})
        prices = {s: q.price for s, q in snap.quotes.items() if q.trusted}
        untrusted = {s for s, q in snap.quotes.items() if not q.trusted} | set(snap.missing)
        reasons = {s: snap.quotes[s].note if s in snap.quotes else snap.missing[s] for s in untrusted}
        decisions = self.evaluator.evaluate(now, prices, untrusted)
        evaluated = time.perf_counter()
        degraded = {s for s in untrusted if s in self.evaluator.assets}
        try:
            with _collector_paused():
                by_chat: dict[ChatRef, list[AlertItem]] = defaultdict(list)
                self._position_items([d for d in decisions if d.message], now, by_chat)
                told = self._chain_news_items(by_chat)
                outage_rows = self._outage_items(degraded, reasons, by_chat)
                worded = time.perf_counter()
                self._store(now, snap, decisions, by_chat, outage_rows, told)
        except BaseException:
            # Nothing was stored (busy, disk full ...): the next tick must decide all of it again.
            self.evaluator.forget_tick()
            raise
        self.evaluator.apply(decisions)
        self._degraded = degraded
        self.last_tick = {"at": now, "positions": len(self.evaluator.index), "decisions": len(decisions),
                          "queued": len(by_chat), "evaluate_ms": (evaluated - started) * 1000,
                          "words_ms": (worded - evaluated) * 1000, "total_ms": (time.perf_counter() - started) * 1000}
        if self.publish:  # replicas that stand by show this tick in their /status
            self.store.db.execute("INSERT INTO kv (key, value) VALUES ('last_tick', ?) ON CONFLICT(key) DO UPDATE SET "
                                  "value = excluded.value", [json.dumps(self.last_tick)])
        if by_chat:
            self.wake()
        return len(by_chat)

    def published_tick(self) -> dict[str, float]:
        """The last tick of whichever replica ticks (one with publish set), as this one's last_tick would say it."""
        row = self.store.db.execute("SELECT value FROM kv WHERE key = 'last_tick'").fetchone()
        return json.loads(row[0]) if row else {}

    def _store(self, now: float, snap, decisions: list[Decision], by_chat: dict[ChatRef, list[AlertItem]],
               outage_rows: dict[str, set[str]], told: list[tuple[str, str, int, int]] | None = None) -> None:
        """The tick's states, messages, chat outages, liquidations told and good prices, in one transaction."""
        wall = time.time()
        with self.store.transaction() as db:
            db.executemany("UPDATE chain_events SET told = 1 WHERE chain = ? AND tx = ? AND log_index = ? "
                           "AND position_id = ?", told or [])
            db.executemany(
                "INSERT INTO alert_state (position_id, level, since, last_sent, told) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(position_id) DO UPDATE SET level = excluded.level, since = excluded.since, "
                "last_sent = excluded.last_sent, told = excluded.told",
                [(d.row_id, d.state.level, d.state.since, d.state.last_sent, d.state.told) for d in decisions])
            self.outbox.enqueue_many(db, [Notice(chat, sort_items(items), now) for chat, items in by_chat.items()], wall)
            for key, assets in outage_rows.items():
                if assets:
                    db.execute("INSERT INTO chat_outages (chat_key, assets, since) VALUES (?, ?, ?) ON CONFLICT(chat_key) "
                               "DO UPDATE SET assets = excluded.assets", [key, json.dumps(sorted(assets)), now])
                else:
                    db.execute("DELETE FROM chat_outages WHERE chat_key = ?", [key])
            for s, q in snap.quotes.items():
                if q.trusted and q.source not in ("peg", "fixed"):
                    db.execute("INSERT INTO price_state (asset, price, at, sources) VALUES (?, ?, ?, ?) ON CONFLICT(asset) "
                               "DO UPDATE SET price = excluded.price, at = excluded.at, sources = excluded.sources",
                               [s, q.price, q.as_of, q.source])
            if self.on_commit is not None:
                self.on_commit(db, now)

    # ---------------------------------------------------------------- what the messages say, and where they go

    def _routes(self, cards: list[Card]) -> dict[int, list[tuple[ChatRef, str, str]]]:
        """Per position row id: (chat, how that chat names it, the id its commands take there) for every destination."""
        disabled = self.outbox.disabled()
        routes: dict[int, list] = defaultdict(list)
        by_id = {}
        for c in cards:
            chat = ChatRef(c.owner.platform, c.owner.id, c.owner.kind == "group")
            if chat.key not in disabled:
                routes[c.row_id].append((chat, c.ref, str(c.number)))
            by_id[c.row_id] = c
        if not self.store.db.execute("SELECT 1 FROM watches LIMIT 1").fetchone():
            return routes  # nothing is shared anywhere: no need to look
        ids = list(by_id)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for pid, number, platform, chat_id, is_group, owner_name in self.store.db.execute(
                "SELECT w.position_id, w.number, d.platform, d.chat_id, d.is_group, o.display_name FROM watches w "
                "JOIN destinations d ON d.chat_key = w.chat_key JOIN positions p ON p.id = w.position_id "
                f"JOIN owners o ON o.key = p.owner_key WHERE w.position_id IN ({marks}) AND d.disabled_reason IS NULL", chunk):
                c = by_id[pid]
                ref = f"W{number} ({owner_name or c.owner.id}'s #{c.number})"
                routes[pid].append((ChatRef(platform, chat_id, bool(is_group)), ref, f"W{number}"))
        return routes

    def _position_items(self, decisions: list[Decision], now: float, by_chat) -> None:
        if not decisions:
            return
        cards = self.store.cards([d.row_id for d in decisions])
        routes = self._routes(list(cards.values()))
        for d in decisions:
            card = cards.get(d.row_id)
            if card is None or d.message is None:  # the caller passes only decisions with a message
                continue
            text, act = self._describe(card, d, now)
            for chat, ref, handle in routes.get(d.row_id, ()):
                # Commands name the position the way this chat does: "1" where it is owned, "W3" where it is shared.
                said = f"{text}. Act: /capacity {handle} shows how much to repay or add." if act else f"{text}."
                buttons = (("Details", f"/health {handle}"), ("Snooze 1h", f"/snooze {handle} 1h"),
                           ("Snooze 24h", f"/snooze {handle} 24h"))
                by_chat[chat].append(AlertItem(d.message, d.state.level, ref, f"{ref} · {said}", d.hf,
                                               buttons if d.message != "safe" else buttons[:1], d.row_id))

    def _terms_for(self, row_id: int, protocol: str, market: str | None, overrides: str,
                   coll: Sequence[tuple[str, Any]], debt: Sequence[tuple[str, Any]]) -> Terms | None:
        """The preset resolved for a stored position (cached: thousands share a handful)."""
        key = (protocol, market, overrides, tuple([a for a, _ in coll]), tuple([a for a, _ in debt]))
        if key not in self._terms:
            try:
                self._terms[key] = self.presets.terms(protocol, market, list(key[3]), list(key[4]),
                                                      Overrides.from_dict(json.loads(overrides)))
            except CoreError as err:  # a preset changed under a stored position: say so, keep going
                log.warning("position %s cannot be monitored: %s", row_id, err.message)
                self._terms[key] = None
        return self._terms[key]

    def _describe(self, card: Card, d: Decision, now: float) -> tuple[str, bool]:
        """('Aave v3: health factor 1.18 (danger below 1.20). ETH $2,100.00, liquidation at $1,807.23 (13.9% below)',
        whether to point at /capacity); the sentence's end depends on the chat."""
        i = self.evaluator.index[d.row_id]
        warn, danger = float(self.evaluator.warn[i]), float(self.evaluator.danger[i])
        followed = self._followed.get(card.row_id)
        terms = followed[0] if followed else self._terms_for(card.row_id, card.protocol, card.market, card.overrides,
                                                             card.collateral, card.debt)
        if terms is None:
            return hf_phrase(d.hf, warn, danger, d.state.level), False
        name = self._names.get(id(terms))  # terms live in self._terms for good, so id() is stable
        if name is None:
            name = self._names[id(terms)] = lender_name(terms)
        if d.message == "safe":
            return f"{name}: health factor {fmt_hf(d.hf)}, back above {fmt_hf(warn)}", False
        text = f"{name}: {hf_phrase(d.hf, warn, danger, d.state.level)}"
        if d.message == "reminder":
            text += f", for {age_text(now - d.state.since)}"
        hint = self._liquidation_hint(card, terms, i)
        if hint:
            text += f". {hint}"
        if d.state.level >= LIQUIDATABLE:
            return text + ". Repay or add collateral now", False
        return text, d.state.level >= DANGER

    def _liquidation_hint(self, card: Card, terms: Terms, i: int) -> str:
        """'ETH $2,100.00, liquidation at $1,807.23 (13.9% below)' for the largest collateral asset.

        Read off the evaluator's sums (this tick's prices) so a fan-out of thousands stays cheap:
        with every other price fixed, HF = 1 where num - w*p + w*P = den - d*p + d*P.
        """
        ev = self.evaluator
        best = None
        followed = self._followed.get(card.row_id)
        for asset, amount in card.collateral:
            # a followed position is priced by its lender's oracle, under that symbol
            a = ev.assets.get(oracle_symbol(asset, card.protocol, followed[1]) if followed else asset)
            if a is None or not ev.known[a]:
                continue
            price = float(ev.price[a])
            w = amount * terms.collateral[asset].lt
            owed = sum(x for s, x in card.debt if s == asset)
            if best is None or w * price > best[0]:
                best = (w * price, asset, price, w, owed)
        if best is None:
            return ""
        _, asset, price, w, owed = best
        slope = w - owed
        if slope <= 0:
            return ""
        liq = (float(ev.den[i]) - owed * price - (float(ev.num[i]) - w * price)) / slope
        if liq <= 0:
            return ""
        where = "already past it" if liq >= price else f"{(1 - liq / price) * 100:.1f}% below"
        return f"{asset} {fmt_usd(price)}, liquidation at {fmt_usd(liq)} ({where})"

    def _chain_news_items(self, by_chat) -> list[tuple[str, str, int, int]]:
        """News from the chain not yet told, to the owner and the chats it is shared in: one item per liquidation or
        redemption (one per transaction), Maker's next price an hour ahead, and a Liquity v2 trove crossing its
        redemption line; returns the rows told.

        The owner's chat gets the block and the transaction; a group gets neither, as either leads to the address.
        """
        rows = self.store.db.execute("SELECT chain, tx, log_index, position_id, detail FROM chain_events WHERE told = 0 "
                                     "ORDER BY block, log_index").fetchall()
        if not rows:
            return []
        cards = self.store.cards(sorted({r[3] for r in rows}))
        routes = self._routes(list(cards.values()))
        merged: dict[tuple[str, int], dict] = {}  # one message per transaction and position (Comet logs each asset)
        for _, tx, _, row_id, detail in rows:
            d = json.loads(detail)
            if d.get("event") in ("redemption-risk", "redemption-clear"):  # Liquity v2's redemption line crossed
                at_risk = d["event"] == "redemption-risk"
                card = cards.get(row_id)
                if card is None or not self._warnings_on(card):  # a warning, not news: /alerts off quiets it
                    continue
                for chat, ref, handle in routes.get(row_id, ()):
                    by_chat[chat].append(AlertItem(d["event"], WARNING if at_risk else OK, ref, redemption_text(ref, d),
                                                   None, (("Details", f"/health {handle}"),), row_id))
                continue
            if tx.startswith("osm:"):  # Maker's next price, an hour ahead: not a log, nothing to merge
                when = datetime.fromtimestamp(d["at"], UTC).strftime("%H:%M UTC")
                for chat, ref, handle in routes.get(row_id, ()):
                    by_chat[chat].append(AlertItem(
                        "next-price", DANGER, ref,
                        f"at {when} Maker's price becomes {fmt_usd(d['price'])}; {ref} will be liquidatable then "
                        f"(ratio {d['ratio']:.0%} < {d['mat']:.0%}). Repay or add collateral before then.", 0.5,
                        (("Details", f"/health {handle}"), ("How much", f"/capacity {handle}")), row_id))
                continue
            if (tx, row_id) in merged:
                merged[(tx, row_id)]["taken"] += d["taken"]
                merged[(tx, row_id)]["repaid"] += d["repaid"]
            else:
                merged[(tx, row_id)] = d
        for (tx, row_id), d in merged.items():
            taken = ", ".join(f"{fmt_amount(Decimal(x))} {s}" for s, x in d["taken"]) or "collateral"
            repaid = ", ".join(f"{fmt_amount(Decimal(x))} {s}" for s, x in d["repaid"])
            happened = "was redeemed against" if d.get("event") == "redeemed" else "was liquidated"
            what = f"{happened} on {LENDER_NAMES.get(d['lender'], d['lender'])} ({d['chain_name']}): {taken} taken"
            what += f", {repaid} {d.get('verb', 'of debt repaid')}" if repaid else ""
            for chat, ref, handle in routes.get(row_id, ()):
                where = "" if chat.is_group else f" Block {d['block']:,}, transaction {tx}."
                kind = "redeemed" if d.get("event") == "redeemed" else "liquidated"
                by_chat[chat].append(AlertItem(kind, LIQUIDATABLE, ref, f"{ref} {what}.{where}", 0.0,
                                               (("Details", f"/health {handle}"),), row_id))
        return [(chain, tx, log_index, row_id) for chain, tx, log_index, row_id, _ in rows]

    def _warnings_on(self, card: Card) -> bool:
        """The owner's master switch and the position's own are both on."""
        row = self.store.db.execute("SELECT enabled FROM alert_settings WHERE position_id = ?", [card.row_id]).fetchone()
        return self.store.alerts_enabled(card.owner) and (row is None or bool(row[0]))

    def _outage_items(self, degraded: set[str], reasons: dict[str, str], by_chat) -> dict[str, set[str]]:
        """Per chat, one 'monitoring paused' per asset going bad and one 'restored' per asset trusted again.

        Returns the chat_outages rows to store (an empty set: delete). Looks only when the set of
        degraded assets changed; changes nothing in memory (the caller adopts `degraded` after commit).
        """
        if degraded == self._degraded:
            return {}
        outages = {k: set(json.loads(a)) for k, a in self.store.db.execute("SELECT chat_key, assets FROM chat_outages")}
        previous = self._degraded if self._degraded is not None else set().union(*outages.values())
        involved = degraded | previous
        affected: dict[str, set[str]] = defaultdict(set)
        chats: dict[str, ChatRef] = {}
        if involved:
            holders: dict[int, set[str]] = defaultdict(set)
            ev = self.evaluator
            for symbol in involved & set(ev.assets):  # an outage stored before a restart may name a gone asset
                a = ev.assets[symbol]
                for legs in (ev.coll, ev.debt):
                    idx = legs.of_asset(a, len(ev.assets))
                    for i in legs.pos[idx[legs.w[idx] != 0]]:
                        if ev.alive[i]:
                            holders[int(ev.row_id[i])].add(symbol)
            for row_id, routes in self._routes(list(self.store.cards(list(holders)).values())).items():
                for chat, _, _ in routes:
                    chats[chat.key] = chat
                    affected[chat.key] |= holders[row_id] & degraded
        changes: dict[str, set[str]] = {}
        for key in set(affected) | set(outages):
            now_bad, was_bad = affected.get(key, set()), outages.get(key, set())
            if now_bad == was_bad:
                continue
            changes[key] = now_bad
            newly = now_bad - was_bad
            # Trusted again only if priced and not degraded; one still bad but no longer held here is dropped quietly.
            restored = (was_bad - now_bad - degraded) & set(self.evaluator.assets)
            found = chats.get(key) or self._chat_of(key)
            if found is None:
                continue
            chat = found
            if newly:
                why = "; ".join(f"{s}: {reasons.get(s, 'no trusted price')}" for s in sorted(newly))
                by_chat[chat].append(AlertItem("degraded", -1, "", f"Prices for {', '.join(sorted(newly))} cannot be trusted "
                                               f"right now ({why}). Warnings for positions holding them wait until they can."))
            if restored:
                by_chat[chat].append(AlertItem("restored", -1, "", f"Prices for {', '.join(sorted(restored))} are trusted again; "
                                               "warnings for positions holding them are back on."))
        return changes

    def _chat_of(self, key: str) -> ChatRef | None:
        row = self.store.db.execute("SELECT platform, chat_id, is_group FROM destinations WHERE chat_key = ?", [key]).fetchone()
        return ChatRef(row[0], row[1], bool(row[2])) if row else None

