"""The SQLite engine of the storage port: one connection through sqlite-utils, WAL, synchronous=FULL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database as SqliteUtilsDatabase

from core.storage.sql import RowWrites


class SqliteDatabase(RowWrites):
    """core.storage.sql.Database over one SQLite file (or ":memory:"); writers take BEGIN IMMEDIATE."""

    dialect = "sqlite"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.where = str(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.utils = SqliteUtilsDatabase(sqlite3.connect(str(path), timeout=10, check_same_thread=False))
        self.conn = self.utils.conn
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.conn.execute("PRAGMA foreign_keys = ON")
        if str(path) != ":memory:":
            self.utils.enable_wal()
        # Alert state and the outbox must survive power loss, not only a process crash.
        self.conn.execute("PRAGMA synchronous = FULL")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement; outside a transaction a write commits at once (sqlite-utils' rule)."""
        return self.utils.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement per row of parameters; outside a transaction they commit together."""
        opened = not self.conn.in_transaction
        try:
            self.conn.executemany(sql, rows)
        except BaseException:
            if opened and self.conn.in_transaction:
                self.conn.rollback()
            raise
        if opened and self.conn.in_transaction:
            self.conn.commit()

    @contextmanager
    def transaction(self) -> Iterator[SqliteDatabase]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.rollback()
            raise
        try:
            self.conn.commit()
        except BaseException:  # COMMIT itself can fail (busy, disk full): never leave the transaction open
            self.conn.rollback()
            raise

    atomic = transaction

    @contextmanager
    def snapshot(self) -> Iterator[SqliteDatabase]:
        """Cursors open on one connection already read one moment (WAL); nothing to do."""
        yield self

    def stream(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """sqlite3 cursors fetch as they go."""
        return self.conn.execute(sql, params)

    def greatest(self, *exprs: str) -> str:
        """SQLite's scalar max()."""
        return f"max({', '.join(exprs)})"

    def least(self, *exprs: str) -> str:
        """SQLite's scalar min()."""
        return f"min({', '.join(exprs)})"

    def commit(self) -> None:
        """Commit what a bare statement left open (sqlite3 opens a transaction before DML)."""
        self.conn.commit()

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self.utils.close()
