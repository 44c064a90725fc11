"""Mining fleets in SQLite: an owner's machines, the loan their coins back, the share pledged to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.errors import LimitReached
from core.lending.models import Owner

MAX_FLEETS_PER_OWNER = 20


@dataclass(frozen=True)
class StoredFleet:
    row_id: int
    number: int
    hashrate_th: float
    efficiency_j_th: float
    power_usd_kwh: float
    pool_fee: float
    loan_position_id: int | None
    pledge: float  # the share of the coins kept each month that goes to the loan's collateral
    losing: bool  # told that its margin is negative (cleared with hysteresis)
    call_ahead: bool  # told that its loan's projected margin call is near (cleared with hysteresis)
    owner_key: str


_COLUMNS = ("id, number, hashrate_th, efficiency_j_th, power_usd_kwh, pool_fee, loan_position_id, pledge, losing, "
            "call_ahead, owner_key")


def _fleet(row) -> StoredFleet:
    return StoredFleet(int(row[0]), int(row[1]), float(row[2]), float(row[3]), float(row[4]), float(row[5]),
                       None if row[6] is None else int(row[6]), float(row[7]), bool(row[8]), bool(row[9]), str(row[10]))


class Fleets:
    """The fleets table, over the store's connection and transactions."""

    def __init__(self, store):
        self.store = store

    def add(self, owner: Owner, hashrate_th: float, efficiency_j_th: float, power_usd_kwh: float,
            pool_fee: float) -> StoredFleet:
        """A new fleet under the owner's next fleet number."""
        now = self.store.now()
        with self.store.transaction() as db:
            db.execute("INSERT INTO owners (key, platform, kind, external_id, next_number, created_at) "
                       "VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT(key) DO NOTHING", [owner.key, owner.platform, owner.kind,
                                                                                 owner.id, now])
            count, top = db.execute("SELECT count(*), coalesce(max(number), 0) FROM fleets WHERE owner_key = ?",
                                    [owner.key]).fetchone()
            if count >= MAX_FLEETS_PER_OWNER:
                raise LimitReached(f"You already have {count} fleets, the most one owner may.")
            db.execute("INSERT INTO fleets (owner_key, number, hashrate_th, efficiency_j_th, power_usd_kwh, pool_fee, "
                       "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       # created_at is a REAL column: unix seconds (an ISO text only SQLite would take)
                       [owner.key, top + 1, hashrate_th, efficiency_j_th, power_usd_kwh, pool_fee,
                        datetime.fromisoformat(now).timestamp()])
        found = self.get(owner, top + 1)
        assert found is not None
        return found

    def of(self, owner: Owner) -> list[StoredFleet]:
        rows = self.store.db.execute(f"SELECT {_COLUMNS} FROM fleets WHERE owner_key = ? ORDER BY number",
                                     [owner.key]).fetchall()
        return [_fleet(r) for r in rows]

    def get(self, owner: Owner, number: int) -> StoredFleet | None:
        row = self.store.db.execute(f"SELECT {_COLUMNS} FROM fleets WHERE owner_key = ? AND number = ?",
                                    [owner.key, number]).fetchone()
        return _fleet(row) if row else None

    def all(self) -> list[StoredFleet]:
        """Every fleet, for the margin warnings."""
        return [_fleet(r) for r in self.store.db.execute(f"SELECT {_COLUMNS} FROM fleets ORDER BY id").fetchall()]

    def update(self, fleet: StoredFleet, **fields) -> None:
        """Change loan_position_id, pledge, losing or call_ahead."""
        allowed = {"loan_position_id", "pledge", "losing", "call_ahead"}
        assert set(fields) <= allowed
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.store.db.execute(f"UPDATE fleets SET {sets} WHERE id = ?", [*fields.values(), fleet.row_id])

    def remove(self, owner: Owner, number: int) -> bool:
        cursor = self.store.db.execute("DELETE FROM fleets WHERE owner_key = ? AND number = ?", [owner.key, number])
        return cursor.rowcount > 0
