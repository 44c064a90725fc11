"""SQLite storage through sqlite-utils: owners, positions and their legs."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from sqlite_utils import Database

from .errors import LimitReached
from .migrations import migrate
from .models import Leg, Overrides, Owner, Position

MAX_POSITIONS_PER_OWNER = 100


def default_database_path() -> Path:
    """Per-user data directory: $XDG_DATA_HOME/collateral-bot/collateral-bot.db (~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "collateral-bot" / "collateral-bot.db"


def _utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """The one writer to the database file; every read-then-write runs under BEGIN IMMEDIATE."""

    def __init__(self, path: str | Path, now: Callable[[], str] = _utcnow):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=10, check_same_thread=False)
        self.db = Database(conn)
        self.db.execute("PRAGMA busy_timeout = 10000")
        self.db.execute("PRAGMA foreign_keys = ON")
        if str(path) != ":memory:":
            self.db.enable_wal()
        # Alert state and the outbox must survive power loss, not only a process crash.
        self.db.execute("PRAGMA synchronous = FULL")
        self.now = now
        migrate(self.db)

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.rollback()
            raise
        else:
            self.db.commit()

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
    ) -> Position:
        """Store a new position under the owner's next number."""
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
            row_id = db["positions"].insert(
                {
                    "owner_key": owner.key,
                    "number": number,
                    "protocol": protocol,
                    "market": market,
                    "overrides": json.dumps(overrides.as_dict()),
                    "label": label,
                    "created_at": now,
                    "updated_at": now,
                }
            ).last_pk
            self._insert_legs(db, row_id, collateral, debt)
        return Position(owner, number, protocol, market, collateral, debt, overrides, label, now, row_id)

    def _insert_legs(self, db: Database, row_id: int, collateral, debt) -> None:
        rows = [
            {"position_id": row_id, "side": side, "asset": leg.asset, "amount": str(leg.amount)}
            for side, legs in (("collateral", collateral), ("debt", debt))
            for leg in legs
        ]
        if rows:
            db["legs"].insert_all(rows)

    def position(self, owner: Owner, number: int) -> Position | None:
        """One of the owner's positions, or None (whether it is missing or someone else's)."""
        found = self._load("owner_key = ? AND number = ?", [owner.key, number])
        return found[0] if found else None

    def positions(self, owner: Owner) -> list[Position]:
        """All of the owner's positions, by number."""
        return self._load("owner_key = ?", [owner.key])

    def all_positions(self) -> list[Position]:
        """Every stored position (for the scheduler and benchmarks)."""
        return self._load("1 = 1", [])

    def _load(self, where: str, params: list) -> list[Position]:
        rows = list(self.db["positions"].rows_where(where, params, order_by="owner_key, number"))
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        legs: dict[int, dict[str, list[Leg]]] = {i: {"collateral": [], "debt": []} for i in ids}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            for leg in self.db.query(
                f"SELECT position_id, side, asset, amount FROM legs WHERE position_id IN ({marks}) ORDER BY id", chunk
            ):
                legs[leg["position_id"]][leg["side"]].append(Leg(leg["asset"], Decimal(leg["amount"])))
        return [
            Position(
                owner=Owner.from_key(r["owner_key"]),
                number=r["number"],
                protocol=r["protocol"],
                market=r["market"],
                collateral=tuple(legs[r["id"]]["collateral"]),
                debt=tuple(legs[r["id"]]["debt"]),
                overrides=Overrides.from_dict(json.loads(r["overrides"] or "{}")),
                label=r["label"],
                created_at=r["created_at"],
                row_id=r["id"],
            )
            for r in rows
        ]

    def replace_legs(self, position: Position, collateral: tuple[Leg, ...], debt: tuple[Leg, ...]) -> Position:
        """Write a position's new legs (after a deposit, withdrawal, borrow or repayment)."""
        with self.transaction() as db:
            db.execute("DELETE FROM legs WHERE position_id = ?", [position.row_id])
            self._insert_legs(db, position.row_id, collateral, debt)
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
            return count

    def assets_in_use(self) -> list[str]:
        """Every asset held or owed in any position (what the scheduler prices)."""
        return [row[0] for row in self.db.execute("SELECT DISTINCT asset FROM legs ORDER BY asset")]

    def counts(self) -> dict[str, int]:
        """Row counts per table (for /status and tests)."""
        return {t: self.db[t].count for t in ("owners", "positions", "legs")}
