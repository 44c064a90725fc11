"""The `collateral-bot` command: run, console, config."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import os
import sys
from pathlib import Path

from core.config import ConfigError, Settings

from . import app, logs


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
    sub.add_parser("config", help="print the effective settings, secrets masked")
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
    if getattr(args, "db", None):
        settings = dataclasses.replace(settings, database_path=Path(args.db))
    user = getattr(args, "user", None) or default_user()
    try:
        if command == "console":
            asyncio.run(app.run_console(settings, user))
        else:
            asyncio.run(app.run(settings, user))
    except KeyboardInterrupt:
        pass
    return 0
