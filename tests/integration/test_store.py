"""Storage on real SQLite files: migrations, durability across reopen, numbering, limits."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from core.errors import LimitReached
from core.lending.models import Leg, Overrides, Owner
from core.storage.migrations import migrations
from core.storage.store import MAX_POSITIONS_PER_OWNER, Store

ALICE = Owner("console", "user", "alice")
BOB = Owner("telegram", "user", "42")


def add(store, owner=ALICE, label=None):
    return store.add_position(owner, "aave-v3", "core", (Leg("ETH", Decimal("10")),), (Leg("USDC", Decimal("15000.5")),),
                              Overrides(lt=Decimal("0.8")), label)


def test_data_survives_a_restart(tmp_path):
    path = tmp_path / "bot.db"
    store = Store(path)
    add(store, label="main")
    store.close()
    reopened = Store(path)
    [p] = reopened.positions(ALICE)
    assert p.number == 1 and p.label == "main" and p.debt[0].amount == Decimal("15000.5")
    assert p.overrides.lt == Decimal("0.8")
    reopened.close()


def test_wal_and_full_sync(tmp_path):
    store = Store(tmp_path / "bot.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    store.close()


def test_migrations_are_named_and_rerunnable(tmp_path):
    path = tmp_path / "bot.db"
    Store(path).close()
    store = Store(path)  # a second start applies nothing
    applied = [m.name for m in migrations.applied(store.db)]
    assert applied == [m.name for m in migrations._migrations]
    assert migrations.pending(store.db) == []
    store.close()


def test_numbers_are_per_owner_and_not_reused(store):
    assert add(store).number == 1
    assert add(store).number == 2
    assert add(store, BOB).number == 1
    store.delete_position(ALICE, 2)
    assert add(store).number == 3


def test_owners_are_isolated(store):
    add(store)
    assert store.position(BOB, 1) is None
    assert store.delete_position(BOB, 1) is False
    assert store.forget(BOB) == 0
    assert store.position(ALICE, 1) is not None


def test_deleting_a_position_deletes_its_legs(store):
    add(store)
    store.delete_position(ALICE, 1)
    assert store.counts()["legs"] == 0


def test_forget_removes_everything_of_the_owner(store):
    add(store)
    add(store)
    add(store, BOB)
    assert store.forget(ALICE) == 2
    assert store.counts() == {"owners": 1, "positions": 1, "legs": 2}


def test_position_cap(store):
    for _ in range(MAX_POSITIONS_PER_OWNER):
        add(store)
    with pytest.raises(LimitReached):
        add(store)
    assert store.counts()["positions"] == MAX_POSITIONS_PER_OWNER


def test_a_failed_write_rolls_back(store):
    add(store)
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as db:
        db.execute("DELETE FROM legs")
        db.execute("INSERT INTO positions (owner_key, number, protocol, created_at, updated_at) VALUES ('x', 1, 'p', 'n', 'n')")
    assert store.counts()["legs"] == 2


def test_default_path_is_per_user(monkeypatch, tmp_path):
    from core.config import default_database_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_database_path() == tmp_path / "collateral-bot" / "collateral-bot.db"


def test_changing_alert_settings_reads_and_writes_in_one_transaction(store):
    """Another writer cannot slip in between the read of the settings and the write of the merged ones."""
    position = add(store)
    store.update_alert_settings(position, warn=1.8, critical=1.4)
    other = sqlite3.connect(store.path, timeout=0, isolation_level=None)
    slipped_in = []

    def between(sql: str) -> None:  # runs as the store starts each statement
        if sql.startswith("SELECT warn, critical") and not slipped_in:
            try:
                other.execute("UPDATE alert_settings SET snoozed_until = 99 WHERE position_id = ?", [position.row_id])
                slipped_in.append(True)
            except sqlite3.OperationalError:  # locked: the store holds the write lock from before its read
                slipped_in.append(False)

    store.db.conn.set_trace_callback(between)
    try:
        store.update_alert_settings(position, enabled=False)
    finally:
        store.db.conn.set_trace_callback(None)
        other.close()
    assert slipped_in == [False]
    assert store.alert_settings(position) == {"warn": 1.8, "critical": 1.4, "enabled": False, "snoozed_until": 0.0,
                                              "remind_cap": None, "redemption": None}


def test_assets_in_use_are_every_distinct_asset_held_or_owed(tmp_path):
    store = Store(tmp_path / "bot.db")
    assert store.assets_in_use() == []
    add(store)
    store.add_position(BOB, "ledn", "loan", (Leg("BTC", Decimal("1")), Leg("ETH", Decimal("2"))), (Leg("USD", Decimal("100")),),
                       Overrides(), None)
    assert store.assets_in_use() == ["BTC", "ETH", "USD", "USDC"]
    store.close()


def test_names_stored_before_cleaning_existed_are_cleaned_once_by_the_migration(tmp_path):
    from sqlite_utils import Database

    from core.storage.migrations import migrations

    db = Database(tmp_path / "old.db")
    migrations.apply(db, stop_before="0006_reminder_cap_watch_numbers_buttons")
    db.execute("INSERT INTO owners (key, platform, kind, external_id, created_at, display_name) "
               "VALUES ('telegram:user:9', 'telegram', 'user', '9', 'x', ?)", ["\u202eecilA\u202c\u200b"])
    db.close()
    store = Store(tmp_path / "old.db")
    assert store.db.execute("SELECT display_name FROM owners").fetchone()[0] == "ecilA"
    store.close()
