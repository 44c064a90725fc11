"""Online backups of the database (SQLite's backup API), verified, and restores that refuse to clobber a running bot."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from core.storage.migrations import TABLES


class BackupError(Exception):
    """A backup or restore could not be made safely; the message says why in one line."""


def _lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


@contextmanager
def running_lock(db_path: Path):
    """Held by a running bot for as long as it uses the database (restore refuses to run under it).

    Taken beside the resolved file, so a symlink (or a second spelling of the path) meets the same lock.
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db_path = db_path.resolve()
    with open(_lock_path(db_path), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"another collateral-bot is already running on {db_path}") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def verify(path: Path) -> dict[str, int]:
    """integrity_check must say ok and it must be a collateral-bot database; returns its row counts."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"{path} failed integrity_check: {result}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"positions", "legs", "owners", TABLES["sqlite"]} <= tables:
            raise BackupError(f"{path} is not a collateral-bot database")
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("owners", "positions", "legs", "outbox")
                if t in tables}
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{path} is not a readable SQLite database ({err})") from None
    finally:
        conn.close()


def copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup into a temporary file, renamed into place only once complete."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)
        # One self-contained file: in WAL mode, merely reading the copy would leave -wal and -shm files beside it.
        # The bot switches a restored database back to WAL when it opens it.
        dst.execute("PRAGMA journal_mode=DELETE").fetchone()
    finally:
        dst.close()
        src.close()
    os.replace(partial, target)


def backup(db_path: Path, target: Path) -> dict[str, int]:
    """Copy the live database to `target` (safe while the bot runs) and verify the copy."""
    verify(db_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    copy_database(db_path, target)
    return verify(target)


def restore(source: Path, db_path: Path) -> dict[str, int]:
    """Replace the database with a verified backup; the current one is kept as <db>.before-restore."""
    counts = verify(source)
    with running_lock(db_path):
        if db_path.exists():
            copy_database(db_path, db_path.with_name(db_path.name + ".before-restore"))
        for suffix in ("-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)
        copy_database(source, db_path)
    verify(db_path)
    return counts
