"""Helpers both storage engines share; the port itself (core.ports.Database) is written once for SQLite and PostgreSQL.

Queries are written once, with `?` placeholders and the SQL both engines share (ON CONFLICT upserts,
coalesce); where they differ, `greatest`/`least` spell it. Each engine is one module: sqlite_engine
(sqlite-utils) and postgres_engine (psycopg 3 with its pool).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from core.ports import Cursor, Database

__all__ = ["Database", "DatabaseUnavailable", "RowWrites", "insert_sql", "is_postgres_url"]


class DatabaseUnavailable(Exception):
    """The PostgreSQL server named by DATABASE_URL cannot be reached or refused the login."""


def insert_sql(table: str, columns: Sequence[str]) -> str:
    """INSERT INTO table (a, b) VALUES (?, ?)."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def is_postgres_url(target: object) -> bool:
    """Whether a DATABASE_URL (or path) names a PostgreSQL server."""
    return isinstance(target, str) and target.split("://", 1)[0] in ("postgresql", "postgres")


class RowWrites:
    """insert, insert_all and count, for an engine that has execute and executemany."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def insert(self, table: str, row: dict[str, Any]) -> None:
        """Insert one row given as column -> value."""
        self.execute(insert_sql(table, list(row)), list(row.values()))

    def insert_all(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows that share their columns."""
        if rows:
            self.executemany(insert_sql(table, list(rows[0])), [list(r.values()) for r in rows])

    def count(self, table: str) -> int:
        """Rows in a table."""
        return self.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
