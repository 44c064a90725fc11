"""The store: owners, positions and their legs, alert options and watches, on SQLite or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.errors import LimitReached
from core.lending.models import Card, ChatRef, Leg, Overrides, Owner, Position
from core.storage.migrations import migrate
from core.storage.sql import Database, is_postgres_url
from core.storage.sqlite_engine import SqliteDatabase
from core.text import clean_name

MAX_POSITIONS_PER_OWNER = 100


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ChainLink:
    """A wallet on a lender and chain that a position follows, and its last reading (the lender's own numbers)."""

    chain: str
    lender: str
    address: str
    ens: str | None
    reading: dict[str, Any] = field(default_factory=dict)
    read_at: float | None = None
    position_id: int = 0
    number: int = 0  # the owner's number for the position
    market_ref: str | None = None  # which market, where a lender has many (a Morpho Blue market id)


def open_database(target: str | Path) -> Database:
    """A connection to DATABASE_URL's PostgreSQL, or to the SQLite file at `target` (not migrated yet)."""
    if is_postgres_url(target):
        from core.storage.postgres_engine import PostgresDatabase  # psycopg is loaded only when asked for

        return PostgresDatabase(str(target))
    return SqliteDatabase(target)


class Store:
    """The one way into the database: a SQLite file (the default) or a PostgreSQL server (DATABASE_URL).

    Every read-then-write runs in transaction(), one writer at a time; a single statement commits on its own.
    """

    def __init__(self, target: str | Path, now: Callable[[], str] = _utcnow):
        self.db = open_database(target)
        self.path = None if is_postgres_url(target) else Path(target)
        self.now = now
        try:
            migrate(self.db, self.db.where)
        except BaseException:
            self.db.close()
            raise

    @property
    def dialect(self) -> str:
        """"sqlite" or "postgresql"."""
        return self.db.dialect

    def close(self) -> None:
        """Close the connection (checkpointing SQLite's WAL)."""
        self.db.close()

    def transaction(self) -> AbstractContextManager[Database]:
        """BEGIN ... COMMIT with the writers' turn (BEGIN IMMEDIATE on SQLite), rolled back on any error."""
        return self.db.transaction()

    # ---------------------------------------------------------------- positions

    def add_position(
        self,
        owner: Owner,
        protocol: str,
        market: str | None,
        collateral: tuple[Leg, ...],
        debt: tuple[Leg, ...],
        overrides: Overrides,
        label: str | None,
        follows: ChainLink | None = None,
    ) -> Position:
        """Store a new position under the owner's next number (with the chain account it follows, if any)."""
        now = self.now()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO owners (key, platform, kind, external_id, next_number, created_at) "
                "VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT(key) DO NOTHING",
                [owner.key, owner.platform, owner.kind, owner.id, now],
            )
            count = db.execute("SELECT count(*) FROM positions WHERE owner_key = ?", [owner.key]).fetchone()[0]
            if count >= MAX_POSITIONS_PER_OWNER:
                raise LimitReached(f"You already track {count} positions, the most one owner may have.")
            number = db.execute("SELECT next_number FROM owners WHERE key = ?", [owner.key]).fetchone()[0]
            db.execute("UPDATE owners SET next_number = ? WHERE key = ?", [number + 1, owner.key])
            # SQLite hands a deleted row's id to the next insert; a button or message pinned to the old
            # position must never find a new one under it, so ids only grow.
            row_id = db.execute("SELECT " + db.greatest("coalesce((SELECT CAST(value AS INTEGER) FROM kv WHERE key = 'position_seq'), 0)",
                                                        "coalesce((SELECT max(id) FROM positions), 0)") + " + 1").fetchone()[0]
            db.execute("INSERT INTO kv (key, value) VALUES ('position_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       [str(row_id)])
            db.insert(
                "positions",
                {
                    "id": row_id,
                    "owner_key": owner.key,
                    "number": number,
                    "protocol": protocol,
                    "market": market,
                    "overrides": json.dumps(overrides.as_dict()),
                    "label": label,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            self._insert_legs(db, row_id, collateral, debt)
            if follows is not None:
                db.execute("INSERT INTO chain_links (position_id, chain, lender, address, market_ref, ens, reading, read_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [row_id, follows.chain, follows.lender, follows.address,
                                                               follows.market_ref, follows.ens, json.dumps(follows.reading),
                                                               follows.read_at])
        return Position(owner, number, protocol, market, collateral, debt, overrides, label, now, row_id)

    def _insert_legs(self, db: Database, row_id: int, collateral, debt) -> None:
        rows = [
            {"position_id": row_id, "side": side, "asset": leg.asset, "amount": str(leg.amount)}
            for side, legs in (("collateral", collateral), ("debt", debt))
            for leg in legs
        ]
        if rows:
            db.insert_all("legs", rows)

    def position(self, owner: Owner, number: int) -> Position | None:
        """One of the owner's positions, or None (whether it is missing or someone else's)."""
        found = self._load("owner_key = ? AND number = ?", [owner.key, number])
        return found[0] if found else None

    def positions(self, owner: Owner) -> list[Position]:
        """All of the owner's positions, by number."""
        return self._load("owner_key = ?", [owner.key])

    def positions_by_row_ids(self, row_ids: list[int]) -> dict[int, Position]:
        """Positions by storage id (for the monitor, which knows them by row id)."""
        out: dict[int, Position] = {}
        for start in range(0, len(row_ids), 500):
            chunk = row_ids[start : start + 500]
            for p in self._load(f"id IN ({','.join('?' * len(chunk))})", chunk):
                out[p.stored_id] = p
        return out

    def cards(self, row_ids: list[int]) -> dict[int, Card]:
        """Just what a warning needs about each position, read in bulk (a fan-out reads thousands)."""
        conn = self.db
        out: dict[int, Card] = {}
        owners: dict[str, Owner] = {}
        for start in range(0, len(row_ids), 500):
            chunk = row_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            legs: dict[int, tuple[list, list]] = {pid: ([], []) for pid in chunk}
            for pid, side, asset, amount in conn.execute(
                f"SELECT position_id, side, asset, amount FROM legs WHERE position_id IN ({marks}) ORDER BY id", chunk
            ):
                legs[pid][side == "debt"].append((asset, float(amount)))
            for pid, key, number, label, protocol, market, overrides in conn.execute(
                f"SELECT id, owner_key, number, label, protocol, market, overrides FROM positions WHERE id IN ({marks})", chunk
            ):
                owner = owners.get(key) or owners.setdefault(key, Owner.from_key(key))
                out[pid] = Card(pid, owner, number, label, protocol, market, overrides or "{}",
                                tuple(legs[pid][0]), tuple(legs[pid][1]))
        return out

    def _load(self, where: str, params: list) -> list[Position]:
        conn = self.db
        rows = conn.execute(
            "SELECT id, owner_key, number, protocol, market, overrides, label, created_at FROM positions "
            f"WHERE {where} ORDER BY owner_key, number", params).fetchall()
        if not rows:
            return []
        legs: dict[int, tuple[list[Leg], list[Leg]]] = {r[0]: ([], []) for r in rows}
        ids = list(legs)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for pid, side, asset, amount in conn.execute(
                f"SELECT position_id, side, asset, amount FROM legs WHERE position_id IN ({marks}) ORDER BY id", chunk
            ):
                legs[pid][side == "debt"].append(Leg(asset, Decimal(amount)))
        owners: dict[str, Owner] = {}
        return [
            Position(
                owner=owners.get(key) or owners.setdefault(key, Owner.from_key(key)),
                number=number,
                protocol=protocol,
                market=market,
                collateral=tuple(legs[pid][0]),
                debt=tuple(legs[pid][1]),
                overrides=Overrides.from_dict(json.loads(overrides)) if overrides and overrides != "{}" else Overrides(),
                label=label,
                created_at=created_at,
                row_id=pid,
            )
            for pid, key, number, protocol, market, overrides, label, created_at in rows
        ]

    def replace_legs(self, position: Position, collateral: tuple[Leg, ...], debt: tuple[Leg, ...]) -> Position:
        """Write a position's new legs (after a deposit, withdrawal, borrow or repayment)."""
        with self.transaction() as db:
            db.execute("DELETE FROM legs WHERE position_id = ?", [position.row_id])
            self._insert_legs(db, position.stored_id, collateral, debt)
            db.execute("UPDATE positions SET updated_at = ? WHERE id = ?", [self.now(), position.row_id])
        return Position(
            position.owner,
            position.number,
            position.protocol,
            position.market,
            collateral,
            debt,
            position.overrides,
            position.label,
            position.created_at,
            position.row_id,
        )

    # ---------------------------------------------------------------- positions that follow a chain account

    def chain_link(self, position: Position) -> ChainLink | None:
        """The chain account a position follows, with its last reading; None for a position typed by hand."""
        links = self.chain_links("position_id = ?", [position.stored_id])
        return links[0] if links else None

    def chain_links(self, where: str = "1 = 1", params: list | None = None) -> list[ChainLink]:
        """Every followed account matching `where` (the tracker reads them all each tick)."""
        rows = self.db.execute("SELECT position_id, chain, lender, address, ens, reading, read_at, p.number, market_ref "
                               "FROM chain_links JOIN positions p ON p.id = position_id "
                               f"WHERE {where} ORDER BY position_id", params or []).fetchall()
        return [ChainLink(chain, lender, address, ens, json.loads(reading) if reading else {}, read_at, pid, number, market)
                for pid, chain, lender, address, ens, reading, read_at, number, market in rows]

    def chain_scan(self, chain: str) -> int | None:
        """The last block whose liquidation logs were read on a chain (None: never)."""
        row = self.db.execute("SELECT block FROM chain_scans WHERE chain = ?", [chain]).fetchone()
        return int(row[0]) if row else None

    def record_chain_events(self, chain: str, through: int, events: list[tuple[str, int, int, int, str, str]]) -> None:
        """Liquidations found up to block `through`, (tx, log index, position id, block, kind, detail JSON), once each."""
        with self.transaction() as db:
            db.executemany("INSERT INTO chain_events (chain, tx, log_index, position_id, block, kind, detail) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", [(chain, *e) for e in events])
            db.execute("INSERT INTO chain_scans (chain, block) VALUES (?, ?) ON CONFLICT(chain) DO UPDATE SET block = "
                       "excluded.block", [chain, through])

    def record_notices(self, chain: str, rows: list[tuple[str, int, int, int, str, str]]) -> None:
        """News found while reading (a Maker price an hour ahead), keyed so each is told once."""
        with self.transaction() as db:
            db.executemany("INSERT INTO chain_events (chain, tx, log_index, position_id, block, kind, detail) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", [(chain, *r) for r in rows])

    def follows_any(self) -> bool:
        """Whether any position follows a wallet (so /status has chains to show)."""
        return self.db.execute("SELECT 1 FROM chain_links LIMIT 1").fetchone() is not None

    def save_readings(self, readings: list[tuple[ChainLink, tuple[Leg, ...], tuple[Leg, ...]]]) -> None:
        """New readings and, where the amounts moved, new legs: one transaction for the whole tick."""
        if not readings:
            return
        with self.transaction() as db:
            for link, collateral, debt in readings:
                db.execute("UPDATE chain_links SET reading = ?, read_at = ? WHERE position_id = ?",
                           [json.dumps(link.reading), link.read_at, link.position_id])
                if (collateral or debt or link.reading.get("empty")) and not link.reading.get("failed"):
                    db.execute("DELETE FROM legs WHERE position_id = ?", [link.position_id])
                    self._insert_legs(db, link.position_id, collateral, debt)

    def delete_position(self, owner: Owner, number: int) -> bool:
        """Delete one of the owner's positions; False when there is none with that number."""
        with self.transaction() as db:
            cursor = db.execute("DELETE FROM positions WHERE owner_key = ? AND number = ?", [owner.key, number])
            return cursor.rowcount > 0

    def forget(self, owner: Owner) -> int:
        """Delete everything stored about an owner; returns how many positions went."""
        with self.transaction() as db:
            count = db.execute("SELECT count(*) FROM positions WHERE owner_key = ?", [owner.key]).fetchone()[0]
            db.execute("DELETE FROM owners WHERE key = ?", [owner.key])
            db.execute("DELETE FROM positions WHERE owner_key = ?", [owner.key])
            db.execute("DELETE FROM fleets WHERE owner_key = ?", [owner.key])
            return count

    # ---------------------------------------------------------------- owners' names and alert options

    def set_display_name(self, owner: Owner, name: str) -> None:
        """How others see this owner in a group ('alice'), cleaned of invisible characters; only for an owner already stored."""
        name = clean_name(name)
        if name:
            self.db.execute("UPDATE owners SET display_name = ? WHERE key = ? AND coalesce(display_name, '') != ?",
                            [name, owner.key, name])

    def alerts_enabled(self, owner: Owner) -> bool:
        """The owner's master switch for pushed warnings."""
        row = self.db.execute("SELECT alerts_enabled FROM owners WHERE key = ?", [owner.key]).fetchone()
        return bool(row[0]) if row else True

    def set_alerts_enabled(self, owner: Owner, on: bool) -> None:
        """Switch all of an owner's warnings on or off (remembered for positions added later, too)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO owners (key, platform, kind, external_id, next_number, created_at, alerts_enabled) "
                "VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT(key) DO UPDATE SET alerts_enabled = excluded.alerts_enabled",
                [owner.key, owner.platform, owner.kind, owner.id, self.now(), int(on)],
            )

    def alert_settings(self, position: Position) -> dict:
        """warn, critical (None: the lender's defaults), enabled, snoozed_until, remind_cap (None: the default), and
        redemption (a Liquity v2 trove's line as a share of its branch's debt; None: the default)."""
        row = self.db.execute("SELECT warn, critical, enabled, snoozed_until, remind_cap, redemption FROM alert_settings "
                              "WHERE position_id = ?", [position.row_id]).fetchone()
        if row is None:
            return {"warn": None, "critical": None, "enabled": True, "snoozed_until": 0.0, "remind_cap": None,
                    "redemption": None}
        return {"warn": row[0], "critical": row[1], "enabled": bool(row[2]), "snoozed_until": row[3], "remind_cap": row[4],
                "redemption": row[5]}

    def update_alert_settings(self, position: Position, **fields) -> None:
        """Change some of a position's alert options (warn, critical, enabled, snoozed_until, remind_cap, redemption)."""
        with self.transaction() as db:  # read, merge, write: another writer must not slip in between
            current = self.alert_settings(position)
            current.update(fields)
            db.execute(
                "INSERT INTO alert_settings (position_id, warn, critical, enabled, snoozed_until, remind_cap, redemption) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(position_id) DO UPDATE SET warn = excluded.warn, critical = excluded.critical, "
                "enabled = excluded.enabled, snoozed_until = excluded.snoozed_until, remind_cap = excluded.remind_cap, "
                "redemption = excluded.redemption",
                [position.row_id, current["warn"], current["critical"], int(current["enabled"]), current["snoozed_until"],
                 current["remind_cap"], current["redemption"]],
            )

    def redemption_lines(self, position_ids: list[int]) -> dict[int, float]:
        """The redemption lines owners set for these positions (the others use the default)."""
        if not position_ids:
            return {}
        marks = ",".join("?" * len(position_ids))
        rows = self.db.execute(f"SELECT position_id, redemption FROM alert_settings WHERE redemption IS NOT NULL AND "
                               f"position_id IN ({marks})", position_ids).fetchall()
        return {int(pid): float(line) for pid, line in rows}

    def borrow_apr(self, position: Position) -> float | None:
        """What the owner says the debt costs (APR), if they said."""
        row = self.db.execute("SELECT borrow_apr FROM positions WHERE id = ?", [position.row_id]).fetchone()
        return row[0] if row else None

    def set_borrow_apr(self, position: Position, apr: float | None) -> None:
        """Set (or clear) the position's borrow APR."""
        self.db.execute("UPDATE positions SET borrow_apr = ? WHERE id = ?", [apr, position.row_id])

    # ---------------------------------------------------------------- watches: positions shared into groups

    def add_watch(self, chat: ChatRef, position: Position, title: str | None = None) -> tuple[int, bool]:
        """Share a position into a group chat; returns (its W-number there, whether it is new)."""
        with self.transaction() as db:
            row = db.execute("SELECT number FROM watches WHERE chat_key = ? AND position_id = ?", [chat.key, position.row_id]).fetchone()
            if row:
                return row[0], False
            db.execute("INSERT INTO destinations (chat_key, platform, chat_id, is_group, title) VALUES (?, ?, ?, 1, ?) "
                       "ON CONFLICT(chat_key) DO UPDATE SET title = coalesce(excluded.title, destinations.title)",
                       [chat.key, chat.platform, chat.chat_id, title])
            # Never a number used before in this chat: an old "Details" button or message naming W2 must not reach
            # another member's position once W2 was unshared.
            number = db.execute("SELECT " + db.greatest("d.next_watch", "coalesce((SELECT max(number) + 1 FROM watches WHERE chat_key = ?), 1)")
                                + " FROM destinations d WHERE d.chat_key = ?", [chat.key, chat.key]).fetchone()[0]
            db.execute("INSERT INTO watches (chat_key, number, position_id, created_at) VALUES (?, ?, ?, ?)",
                       [chat.key, number, position.row_id, self.now()])
            db.execute("UPDATE destinations SET next_watch = ? WHERE chat_key = ?", [number + 1, chat.key])
            return number, True

    def watched(self, chat: ChatRef, number: int) -> Position | None:
        """The position shared into this chat under W-number `number`."""
        row = self.db.execute("SELECT position_id FROM watches WHERE chat_key = ? AND number = ?", [chat.key, number]).fetchone()
        return self.positions_by_row_ids([row[0]]).get(row[0]) if row else None

    def watch_number(self, chat: ChatRef, position: Position) -> int | None:
        """Position's W-number in this chat, if shared there."""
        row = self.db.execute("SELECT number FROM watches WHERE chat_key = ? AND position_id = ?", [chat.key, position.row_id]).fetchone()
        return row[0] if row else None

    def watches_in(self, chat: ChatRef) -> list[tuple[int, Position, str]]:
        """Every position shared into this chat: (W-number, position, owner's display name)."""
        rows = self.db.execute(
            "SELECT w.number, w.position_id, coalesce(o.display_name, o.external_id) FROM watches w "
            "JOIN positions p ON p.id = w.position_id JOIN owners o ON o.key = p.owner_key WHERE w.chat_key = ? ORDER BY w.number",
            [chat.key]).fetchall()
        positions = self.positions_by_row_ids([r[1] for r in rows])
        return [(r[0], positions[r[1]], r[2] or "someone") for r in rows if r[1] in positions]

    def shared_in(self, position: Position) -> list[tuple[str, str | None, int]]:
        """Where a position is shared: (chat key, the chat's title if known, its W-number there)."""
        return [tuple(r) for r in self.db.execute(
            "SELECT w.chat_key, d.title, w.number FROM watches w LEFT JOIN destinations d ON d.chat_key = w.chat_key "
            "WHERE w.position_id = ? ORDER BY w.chat_key", [position.row_id])]

    def remove_watch(self, chat: ChatRef, position: Position) -> bool:
        """Stop sharing a position into a chat."""
        cursor = self.db.execute("DELETE FROM watches WHERE chat_key = ? AND position_id = ?", [chat.key, position.row_id])
        return cursor.rowcount > 0

    def assets_in_use(self) -> list[str]:
        """Every asset held or owed in any position (what the scheduler prices)."""
        # A skip scan: one index seek per distinct asset. SELECT DISTINCT walks every leg's index entry,
        # 150 ms a price tick at a million positions, for some fifty names.
        return [row[0] for row in self.db.execute(
            "WITH RECURSIVE held(asset) AS (SELECT min(asset) FROM legs UNION ALL "
            "SELECT (SELECT min(asset) FROM legs WHERE asset > held.asset) FROM held WHERE held.asset IS NOT NULL) "
            "SELECT asset FROM held WHERE asset IS NOT NULL")]

    def counts(self) -> dict[str, int]:
        """Row counts per table (for /status and tests)."""
        return {t: self.db.count(t) for t in ("owners", "positions", "legs")}
