"""A throwaway PostgreSQL server for the tests: its own cluster in a temporary directory, on a free loopback port.

TEST_DATABASE_URL points the tests at a server that is already running instead (a database the tests may
create databases on). Where neither works, the PostgreSQL tests are skipped with the reason, unless
REQUIRE_POSTGRES=1 (CI sets it): then they fail, so CI cannot pass without having run them.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

from core.storage.migrations import migrate
from core.storage.postgres_engine import PostgresDatabase


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


class PostgresServer:
    """One server for the whole test session; every test gets a fresh database copied from a migrated template."""

    TEMPLATE = "collateral_template"

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable  # fsync as an operator's server would (benchmarks); the tests go without
        self.url = ""
        self.dir: Path | None = None
        self.port = 0
        self._bin: Path | None = None
        self._owner: str | None = None
        self._numbers = itertools.count(1)

    def _run(self, *args: str) -> None:
        command = [str(self._bin / args[0]), *args[1:]]
        if self._owner:  # initdb refuses to run as root: the cluster belongs to the postgres user
            command = ["runuser", "-u", self._owner, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        """Start a cluster (or use TEST_DATABASE_URL); raises RuntimeError saying why it cannot."""
        given = os.environ.get("TEST_DATABASE_URL")
        if given:
            self.url = given
        else:
            self._bin = _bin_dir()
            if self._bin is None:
                raise RuntimeError("no PostgreSQL server binaries (initdb) on this machine")
            self.dir = Path(tempfile.mkdtemp(prefix="collateral-pg-"))
            if os.geteuid() == 0:
                try:
                    pwd.getpwnam("postgres")
                except KeyError:
                    raise RuntimeError("running as root and there is no postgres user to own a cluster") from None
                self._owner = "postgres"
                shutil.chown(self.dir, "postgres")
            self.port = free_port()
            data = self.dir / "data"
            self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--locale=C", "-E", "UTF8", "--no-sync")
            # fsync off: the tests' databases need not survive a power cut, and it makes a fresh database cheap.
            fast = "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 {fast}-c max_connections=300 "
                       "-c shared_buffers=256MB")
            self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.dir / "log"), "-w", "-t", "60", "start")
            self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.TEMPLATE}")
            conn.execute(f"CREATE DATABASE {self.TEMPLATE}")
        db = PostgresDatabase(self.database_url(self.TEMPLATE))
        migrate(db)
        db.close()

    def database_url(self, name: str) -> str:
        """The URL of a database on this server."""
        return self.url.rsplit("/", 1)[0] + "/" + name

    def new_database(self, migrated: bool = True) -> str:
        """A new empty database (migrated, or not at all); returns its URL."""
        name = f"t{os.getpid()}_{next(self._numbers)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {self.TEMPLATE}" if migrated else ""))
        return self.database_url(name)

    def drop(self, url: str) -> None:
        """Drop a test's database (its connections are ended first)."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the cluster this started and remove its files."""
        if self.dir is not None and self._bin is not None:
            try:
                self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
            finally:
                shutil.rmtree(self.dir, ignore_errors=True)
