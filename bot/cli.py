"""The `collateral-bot` command: run, console, config, migrate, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import os
import sys
from pathlib import Path

from core import redact
from core.config import ConfigError, Settings
from core.storage.backup import BackupError, backup, restore
from core.storage.migrations import NewerDatabase, migrate
from core.storage.sql import DatabaseUnavailable
from core.storage.store import open_database

from . import app, logs

log = logging.getLogger(__name__)


def default_user() -> str:
    """The OS user name, or 'me' where there is none (some containers)."""
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER") or "me"


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(prog="collateral-bot", description="Know how close your crypto loans are to liquidation.")
    sub = p.add_subparsers(dest="command")
    for name, text in (("run", "start what is configured (the console when no chat token is set)"),
                       ("console", "chat in this terminal; reads commands from stdin when piped")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--user", default=default_user(), help="who is typing (default: your OS user)")
        s.add_argument("--db", help="database file (default: DATABASE_PATH or the per-user data directory)")
        if name == "console":
            s.add_argument("--replay", metavar="WHEN", help="replay bundled history instead of live prices: "
                           "2020-03, 2021-05, 2022-06, 2022-11, or a day in them like 2020-03-11")
            s.add_argument("--speed", type=float, default=3600.0,
                           help="replay speed: simulated seconds per real second (default 3600: an hour a second)")
            s.add_argument("--until", metavar="DAY", help="end the replay after this day (YYYY-MM-DD)")
            s.add_argument("--resume", action="store_true", help="continue an interrupted replay where it stopped")
    sub.add_parser("config", help="print the effective settings, secrets masked")
    sub.add_parser("migrate", help="apply the schema migrations the database lacks (the bot also does at start)")
    s = sub.add_parser("backup", help="copy the database to PATH while the bot runs, and verify the copy")
    s.add_argument("path")
    s = sub.add_parser("restore", help="replace the database with a verified backup (stop the bot first)")
    s.add_argument("path")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = parser().parse_args(argv)
    try:
        settings = Settings.load()
    except ConfigError as err:
        print(f"collateral-bot: configuration error: {err}", file=sys.stderr)
        return 2
    command = args.command or "run"
    quiet = command == "console" or not (settings.telegram_bot_token or settings.discord_bot_token)
    logs.setup(settings, "ERROR" if quiet else "INFO")
    if command == "config":
        for key, value in settings.describe().items():
            print(f"{key}={value}")
        return 0
    if command == "migrate":
        return migrate_database(settings)
    if command in ("backup", "restore"):
        if settings.database_url is not None:
            print(f"collateral-bot: {command} copies the SQLite file; on PostgreSQL use pg_dump -Fc (backup) and "
                  "pg_restore --clean (restore) against DATABASE_URL, as docs/replicas.md shows", file=sys.stderr)
            return 2
        return backup_or_restore(command, settings.database_path, Path(args.path))
    if getattr(args, "db", None):
        settings = dataclasses.replace(settings, database_path=Path(args.db))
    user = getattr(args, "user", None) or default_user()
    try:
        if command == "console" and args.replay:
            if not 0 < args.speed <= 1e9:
                print("collateral-bot: --speed must be a positive number", file=sys.stderr)
                return 2
            asyncio.run(app.run_replay(settings, user, args.replay, args.speed, args.until, args.resume))
        elif command == "console":
            asyncio.run(app.run_console(settings, user))
        else:
            asyncio.run(app.run(settings, user))
    except KeyboardInterrupt:
        pass
    except (ValueError, BackupError, NewerDatabase, DatabaseUnavailable) as err:  # a replay window the bundle lacks; the database
        # in use, too new or not answering
        print(f"collateral-bot: {logs.scrub(str(err))}", file=sys.stderr)
        return 2
    except app.StartupError as err:  # the platform refused or failed the start: one line, no traceback
        log.debug("start failed", exc_info=err.__cause__)
        print(f"collateral-bot: stopped: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # e.g. Telegram refusing the token, whose message quotes the token: mask it
        log.error("stopped by %s", type(err).__name__, exc_info=True)
        print(f"collateral-bot: stopped: {logs.scrub(str(err))[:300]}", file=sys.stderr)
        return 1
    return 0


def migrate_database(settings: Settings) -> int:
    """`collateral-bot migrate`: what was applied, in one line; a refusal in one line too."""
    redact.remember(*settings.secrets())
    try:
        db = open_database(settings.database_target)
    except Exception as err:  # noqa: BLE001 - a server that does not answer, a file that cannot be made
        print(f"collateral-bot: migrate failed: {logs.scrub(str(err))[:300]}", file=sys.stderr)
        return 1
    try:
        done = migrate(db, db.where)
    except NewerDatabase as err:
        print(f"collateral-bot: {err}", file=sys.stderr)
        return 2
    finally:
        db.close()
    print(f"{db.where}: " + (f"applied {', '.join(done)}" if done else "up to date, nothing to apply"))
    return 0


def backup_or_restore(command: str, db_path: Path, path: Path) -> int:
    """`collateral-bot backup PATH` / `restore PATH`: one line saying what happened."""
    try:
        if command == "backup":
            counts = backup(db_path, path)
            print(f"backed up {db_path} to {path}: integrity ok, {counts.get('positions', 0)} positions")
        else:
            counts = restore(path, db_path)
            print(f"restored {db_path} from {path}: integrity ok, {counts.get('positions', 0)} positions "
                  f"(the previous database is kept as {db_path.name}.before-restore)")
    except BackupError as err:
        print(f"collateral-bot: {command} failed: {err}", file=sys.stderr)
        return 1
    return 0
