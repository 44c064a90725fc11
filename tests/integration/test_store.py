"""Storage on real SQLite files and a real PostgreSQL server: migrations, durability across reopen, numbering, limits."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import psycopg
import pytest

from core.errors import LimitReached
from core.lending.models import Leg, Overrides, Owner
from core.storage.migrations import applied, migrate, migrations, pending
from core.storage.postgres_engine import WRITER_LOCK
from core.storage.store import MAX_POSITIONS_PER_OWNER, Store
from tests.conftest import ENGINES

both = pytest.mark.both_engines

ALICE = Owner("console", "user", "alice")
BOB = Owner("telegram", "user", "42")


def add(store, owner=ALICE, label=None):
    return store.add_position(owner, "aave-v3", "core", (Leg("ETH", Decimal("10")),), (Leg("USDC", Decimal("15000.5")),),
                              Overrides(lt=Decimal("0.8")), label)


@both
def test_data_survives_a_restart(store_target):
    path = store_target
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


@both
def test_migrations_are_named_and_rerunnable(store_target):
    Store(store_target).close()
    store = Store(store_target)  # a second start applies nothing
    assert applied(store.db) == migrations.names()
    assert pending(store.db) == [] and migrate(store.db) == []
    store.close()


def test_the_same_migrations_make_the_same_tables_on_both_engines(tmp_path, postgres):
    lite, pg = Store(tmp_path / "bot.db"), Store(postgres.new_database())
    tables = {r[0] for r in lite.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'")}
    assert tables == {r[0] for r in pg.db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                                     "AND tablename <> 'schema_migrations'")}
    for table in tables:
        mine = [r[1] for r in lite.db.execute(f"PRAGMA table_info({table})")]
        theirs = [r[0] for r in pg.db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                               "ORDER BY ordinal_position", [table])]
        assert mine == theirs, table
    lite.close()
    pg.close()


@both
def test_numbers_are_per_owner_and_not_reused(store):
    assert add(store).number == 1
    assert add(store).number == 2
    assert add(store, BOB).number == 1
    store.delete_position(ALICE, 2)
    assert add(store).number == 3


@both
def test_owners_are_isolated(store):
    add(store)
    assert store.position(BOB, 1) is None
    assert store.delete_position(BOB, 1) is False
    assert store.forget(BOB) == 0
    assert store.position(ALICE, 1) is not None


@both
def test_deleting_a_position_deletes_its_legs(store):
    add(store)
    store.delete_position(ALICE, 1)
    assert store.counts()["legs"] == 0


@both
def test_forget_removes_everything_of_the_owner(store):
    add(store)
    add(store)
    add(store, BOB)
    assert store.forget(ALICE) == 2
    assert store.counts() == {"owners": 1, "positions": 1, "legs": 2}


@both
def test_position_cap(store):
    for _ in range(MAX_POSITIONS_PER_OWNER):
        add(store)
    with pytest.raises(LimitReached):
        add(store)
    assert store.counts()["positions"] == MAX_POSITIONS_PER_OWNER


@both
def test_a_failed_write_rolls_back(store):
    add(store)
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)), store.transaction() as db:
        db.execute("DELETE FROM legs")
        db.execute("INSERT INTO positions (owner_key, number, protocol, created_at, updated_at) VALUES ('x', 1, 'p', 'n', 'n')")
    assert store.counts()["legs"] == 2


def test_default_path_is_per_user(monkeypatch, tmp_path):
    from core.config import default_database_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_database_path() == tmp_path / "collateral-bot" / "collateral-bot.db"


def test_changing_alert_settings_reads_and_writes_in_one_transaction(tmp_path):
    """Another writer cannot slip in between the read of the settings and the write of the merged ones."""
    store = Store(tmp_path / "bot.db")
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
    store.close()


def test_on_postgresql_a_transaction_holds_the_writers_turn_against_every_replica(postgres):
    """Each write transaction takes one advisory lock, so a read-then-write on one replica cannot interleave with another's."""
    url = postgres.new_database()
    store = Store(url)
    position = add(store)
    with psycopg.connect(url, autocommit=True) as other:
        def other_may_write() -> bool:
            with other.transaction():
                return other.execute("SELECT pg_try_advisory_xact_lock(%s)", [WRITER_LOCK]).fetchone()[0]

        with store.transaction() as db:
            db.execute("UPDATE positions SET label = 'x' WHERE id = ?", [position.row_id])
            assert other_may_write() is False
        assert other_may_write() is True
        assert other.execute("SELECT label FROM positions").fetchone()[0] == "x"
    store.close()


@both
def test_assets_in_use_are_every_distinct_asset_held_or_owed(store_target):
    store = Store(store_target)
    assert store.assets_in_use() == []
    add(store)
    store.add_position(BOB, "ledn", "loan", (Leg("BTC", Decimal("1")), Leg("ETH", Decimal("2"))), (Leg("USD", Decimal("100")),),
                       Overrides(), None)
    assert store.assets_in_use() == ["BTC", "ETH", "USD", "USDC"]
    store.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_names_stored_before_cleaning_existed_are_cleaned_once_by_the_migration(engine, tmp_path, request):
    from core.storage.postgres_engine import PostgresDatabase
    from core.storage.sqlite_engine import SqliteDatabase

    target = tmp_path / "old.db" if engine == "sqlite" else request.getfixturevalue("postgres").new_database(migrated=False)
    db = SqliteDatabase(target) if engine == "sqlite" else PostgresDatabase(str(target))
    migrate(db, stop_before="0006_reminder_cap_watch_numbers_buttons")
    db.execute("INSERT INTO owners (key, platform, kind, external_id, created_at, display_name) "
               "VALUES ('telegram:user:9', 'telegram', 'user', '9', 'x', ?)", ["\u202eecilA\u202c\u200b"])
    db.close()
    store = Store(target)
    assert store.db.execute("SELECT display_name FROM owners").fetchone()[0] == "ecilA"
    store.close()
