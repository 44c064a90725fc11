"""The PostgreSQL engine of the storage port: psycopg 3 and its connection pool, for several replicas on one server.

psycopg rather than asyncpg: the store is called synchronously from the event loop, as SQLite is, so a
synchronous pool fits behind the same port without making every call site async; its queries are a
fraction of a millisecond on a nearby server. asyncpg has no synchronous interface. psycopg also has
an async connection, which the replicas use for advisory locks and LISTEN/NOTIFY (core.storage.replicas).

Parameters are bound on the client (ClientCursor) so a value meets its column the way SQLite takes it
(a text literal becomes the column's type); bools become 0/1 as SQLite stores them. Every write
transaction first takes one transaction-scoped advisory lock: writers run one at a time, across
replicas, as BEGIN IMMEDIATE makes them on SQLite, so no read-then-write needs its own locking.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import ClientCursor
from psycopg.types.numeric import Int8Dumper
from psycopg_pool import ConnectionPool

from core.storage.sql import DatabaseUnavailable, RowWrites

WRITER_LOCK = 0x636F6C6C  # pg_advisory_xact_lock key every write transaction takes ("coll")


class _BoolAsInt(Int8Dumper):
    """True/False as 1/0: the schema keeps flags in integer columns, as on SQLite."""

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


@functools.lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """`?` placeholders as psycopg's `%s` (outside quoted text), and every literal `%` doubled."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote:
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        out.append("%%" if ch == "%" else ch)
    return "".join(out)


def masked(url: str) -> str:
    """The URL with its password replaced, fit for a log or a reply."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class Rows:
    """A statement's rows, fetched before its connection went back to the pool."""

    def __init__(self, rows: list[Any], rowcount: int):
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        """The next row, or None."""
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        """The rows not fetched yet."""
        rest, self._next = self._rows[self._next :], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


def configure(conn: psycopg.Connection) -> None:
    """Every pooled connection: client-side binding, flags as integers."""
    conn.cursor_factory = ClientCursor
    conn.adapters.register_dumper(bool, _BoolAsInt)


class PostgresDatabase(RowWrites):
    """core.storage.sql.Database over a psycopg pool; a transaction pins one connection until it ends."""

    dialect = "postgresql"

    def __init__(self, url: str, min_size: int = 1, max_size: int = 4, timeout: float = 10.0):
        self.url = url
        self.where = masked(url)
        try:  # one plain connection first: a server that does not answer is said in one line, not retried for long
            psycopg.connect(url, connect_timeout=max(1, round(timeout))).close()
        except psycopg.Error as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise DatabaseUnavailable(f"PostgreSQL at {self.where} does not answer: {first}") from None
        self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, timeout=timeout, open=False,
                                   kwargs={"autocommit": True}, configure=configure, check=ConnectionPool.check_connection,
                                   name="collateral-bot")
        self.pool.open(wait=True, timeout=timeout)
        self._conn: psycopg.Connection | None = None  # the connection of the open transaction or snapshot
        self._streams = 0
        self.lock_timeout = 10.0  # seconds a transaction waits for the writers' turn

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        if self._conn is not None:
            yield self._conn
        else:
            with self.pool.connection() as conn:
                yield conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement (in the open transaction, if any) and fetch its rows."""
        with self._connection() as conn:
            # Without parameters psycopg sends the text as it is (a literal % stays single).
            cur = conn.execute(to_pyformat(sql), list(params)) if params else conn.execute(sql)
            return Rows(cur.fetchall() if cur.description else [], cur.rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """One statement per row of parameters, in one transaction when none is open."""
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return
        with self._connection() as conn, conn.cursor() as cur:
            if self._conn is None:
                with conn.transaction():
                    cur.executemany(to_pyformat(sql), rows)
            else:
                cur.executemany(to_pyformat(sql), rows)

    @contextmanager
    def transaction(self) -> Iterator[PostgresDatabase]:
        """BEGIN, the writers' advisory lock, ... COMMIT; rolled back on any error."""
        if self._conn is not None:
            raise RuntimeError("a transaction is already open on this store")
        with self.pool.connection() as conn, conn.transaction():
            # As SQLite's busy_timeout: a writer stuck elsewhere makes this one fail, not wait forever.
            conn.execute(f"SET LOCAL lock_timeout = '{int(self.lock_timeout * 1000)}ms'")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITER_LOCK])
            self._conn = conn
            try:
                yield self
            finally:
                self._conn = None

    atomic = transaction

    @contextmanager
    def snapshot(self) -> Iterator[PostgresDatabase]:
        """A read-only REPEATABLE READ transaction: one moment of the database, without the writers' lock."""
        if self._conn is not None:
            yield self
            return
        with self.pool.connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._conn = conn
            try:
                yield self
            finally:
                self._conn = None
                conn.execute("ROLLBACK")

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """A server-side cursor inside snapshot(): rows arrive in batches, never all at once."""
        if self._conn is None:
            return self.execute(sql, params)
        self._streams += 1
        cur = psycopg.ServerCursor(self._conn, f"stream_{self._streams}")
        cur.itersize = 5000
        cur.execute(to_pyformat(sql) if params else sql, list(params) or None)
        return cur

    def greatest(self, *exprs: str) -> str:
        """PostgreSQL's GREATEST (which, unlike SQLite's max, ignores NULLs)."""
        return f"GREATEST({', '.join(exprs)})"

    def least(self, *exprs: str) -> str:
        """PostgreSQL's LEAST."""
        return f"LEAST({', '.join(exprs)})"

    def commit(self) -> None:
        """Statements outside a transaction commit on their own."""

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool.close()
