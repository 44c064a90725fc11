"""Helpers both storage engines share; the port itself (core.ports.Database) is written once for SQLite and PostgreSQL.

Queries are written once, with `?` placeholders and the SQL both engines share (ON CONFLICT upserts,
coalesce); where they differ, `greatest`/`least` spell it. Each engine is one module: sqlite_engine
(sqlite-utils) and postgres_engine (psycopg 3 with its pool).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.ports import Database

__all__ = ["Database", "DatabaseUnavailable", "insert_sql", "is_postgres_url"]


class DatabaseUnavailable(Exception):
    """The PostgreSQL server named by DATABASE_URL cannot be reached or refused the login."""


def insert_sql(table: str, columns: Sequence[str]) -> str:
    """INSERT INTO table (a, b) VALUES (?, ?)."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def is_postgres_url(target: object) -> bool:
    """Whether a DATABASE_URL (or path) names a PostgreSQL server."""
    return isinstance(target, str) and target.split("://", 1)[0] in ("postgresql", "postgres")
