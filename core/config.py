"""Settings from the environment and an optional .env file; secrets are never printed."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values


def default_database_path() -> Path:
    """Per-user data directory: $XDG_DATA_HOME/collateral-bot/collateral-bot.db (~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "collateral-bot" / "collateral-bot.db"


KNOWN_SOURCES = ("coingecko", "binance", "coinbase")

# Keyless public endpoints so /track works out of the box: Allnodes' publicnode.com, then Automata's 1rpc.io,
# both listed on chainlist.org (as of 2026-12-01; not reachable from the machine this was written on). They see
# which addresses you ask about and limit how often: a private endpoint is better for both.
DEFAULT_RPC_URLS = {
    "ethereum": "https://ethereum-rpc.publicnode.com,https://1rpc.io/eth",
    "arbitrum": "https://arbitrum-one-rpc.publicnode.com,https://1rpc.io/arb",
    "base": "https://base-rpc.publicnode.com,https://1rpc.io/base",
    "optimism": "https://optimism-rpc.publicnode.com,https://1rpc.io/op",
    "polygon": "https://polygon-bor-rpc.publicnode.com,https://1rpc.io/matic",
}


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


class Secret:
    """A token or key: compares and hashes like its value, prints as ***."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one call that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


DISCORD_API_VERSION = "/api/v10"  # the version discord.py 2.7 speaks


def database_url(value: str | None) -> Secret | None:
    """DATABASE_URL, which must name PostgreSQL (it holds a password, so it is a secret)."""
    if value is None:
        return None
    if not value.startswith(("postgresql://", "postgres://")):
        raise ConfigError("DATABASE_URL must start with postgresql:// (unset it to use the SQLite file DATABASE_PATH)")
    return Secret(value)


def discord_api(root: str) -> str:
    """A Discord REST root with its version path: 'https://host' and 'https://host/api' gain '/api/v10'."""
    root = root.rstrip("/")
    if re.search(r"/api/v\d+$", root):
        return root
    return root + ("/v10" if root.endswith("/api") else DISCORD_API_VERSION)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with defaults that work for a first run."""

    database_path: Path
    # postgresql://user:password@host/db: several replicas over one PostgreSQL instead of the SQLite file
    database_url: Secret | None = None
    replica_name: str | None = None  # how this replica names itself in logs, /healthz and claims (default host-pid)
    leader_check_seconds: float = 1.0  # how often a standby tries to take a free role (and a leader checks its own)
    telegram_bot_token: Secret | None = None
    discord_bot_token: Secret | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    discord_api_base_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    price_sources: tuple[str, ...] = ("coingecko",)
    coingecko_base_url: str = "https://api.coingecko.com"
    coingecko_api_key: Secret | None = None
    binance_base_url: str = "https://api.binance.com"
    coinbase_base_url: str = "https://api.coinbase.com"
    defillama_base_url: str = "https://yields.llama.fi"
    mempool_base_url: str = "https://mempool.space"
    blockchain_info_base_url: str = "https://blockchain.info"
    price_interval_seconds: float = 60.0
    price_cache_seconds: float = 30.0
    http_timeout_seconds: float = 10.0
    http_port: int | None = None
    alert_webhook_url: Secret | None = None  # the console's warnings go here too (JSON POST); its path is often a key
    telegram_webhook_url: str | None = None  # public https URL Telegram posts updates to (webhook mode)
    telegram_webhook_secret: Secret | None = None
    telegram_webhook_port: int = 8443  # where this process listens for them
    discord_guild_id: int | None = None  # sync commands to this guild only (instant, for trying things out)
    discord_shard_count: int = 1  # gateway sessions; each is a role a replica leads (guild -> shard: (id >> 22) % count)
    log_level: str | None = None  # None: each mode picks (the console stays quiet)
    log_format: str = "text"  # or "json": one JSON object a line
    shutdown_grace_seconds: float = 5.0  # on SIGTERM, how long due warnings keep going out (Docker kills after 10 s)
    user_commands_per_minute: int = 30  # per user, in bursts of up to a third of it; 0 turns the limit off
    chat_commands_per_minute: int = 60  # per group chat, shared equally by the members active lately
    heavy_workers: int = 1  # worker processes for charts and backtests (0: a thread in this process)
    # chain -> its RPC URLs, tried in order; every one may carry a key, so all are secrets
    rpc_urls: tuple[tuple[str, tuple[Secret, ...]], ...] = ()
    chain_addresses_file: str | None = None  # replaces the bundled contract address book

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, dotenv: str | Path | None = ".env") -> Settings:
        """Read settings: the process environment wins over the .env file."""
        merged: dict[str, str] = {}
        if dotenv is not None and Path(dotenv).is_file():
            merged.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        merged.update(os.environ if env is None else env)
        return cls.from_mapping(merged)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        """Parse a mapping of variable names; raises ConfigError naming the bad one."""

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        def secret(name: str) -> Secret | None:
            value = get(name)
            return Secret(value) if value else None

        def url(name: str, default: str) -> str:
            value = get(name) or default
            if not value.startswith(("http://", "https://", "ws://", "wss://")):
                raise ConfigError(f"{name} must be a URL starting with http://, https://, ws:// or wss:// (got something else)")
            return value.rstrip("/") if not value.endswith("gateway.discord.gg/") else value

        def number(name: str, default: float, low: float, high: float) -> float:
            value = get(name)
            if value is None:
                return default
            try:
                parsed = float(value)
            except ValueError:
                raise ConfigError(f"{name} must be a number (got {value[:20]!r})") from None
            if not low <= parsed <= high:
                raise ConfigError(f"{name} must be between {low:g} and {high:g} (got {value[:20]})")
            return parsed

        def integer(name: str, default: int, low: int, high: int) -> int:
            value = get(name)
            if value is None:
                return default
            # int(), not float(): a Discord id has 19 digits, more than a float holds exactly
            if not (value.isascii() and value.isdigit() and low <= int(value) <= high):
                raise ConfigError(f"{name} must be a whole number between {low} and {high} (got {value[:20]!r})")
            return int(value)

        sources = tuple(s.strip().lower() for s in (get("PRICE_SOURCES") or "coingecko").split(",") if s.strip())
        unknown = [s for s in sources if s not in KNOWN_SOURCES]
        if unknown or not sources:
            raise ConfigError(f"PRICE_SOURCES must list some of {', '.join(KNOWN_SOURCES)} (got {unknown[0][:20] if unknown else 'nothing'!r})")
        level = (get("LOG_LEVEL") or "").upper() or None
        if level is not None and level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL (got {level[:20]!r})")
        log_format = (get("LOG_FORMAT") or "text").lower()
        if log_format not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT must be text or json (got {log_format[:20]!r})")
        return cls(
            log_format=log_format,
            database_path=Path(get("DATABASE_PATH") or default_database_path()).expanduser(),
            database_url=database_url(get("DATABASE_URL")),
            replica_name=(get("REPLICA_NAME") or "")[:64] or None,
            leader_check_seconds=number("LEADER_CHECK_SECONDS", 1.0, 0.1, 60),
            telegram_bot_token=secret("TELEGRAM_BOT_TOKEN"),
            discord_bot_token=secret("DISCORD_BOT_TOKEN"),
            telegram_api_base_url=url("TELEGRAM_API_BASE_URL", cls.telegram_api_base_url),
            discord_api_base_url=discord_api(url("DISCORD_API_BASE_URL", cls.discord_api_base_url)),
            discord_gateway_url=url("DISCORD_GATEWAY_URL", cls.discord_gateway_url),
            price_sources=sources,
            coingecko_base_url=url("COINGECKO_BASE_URL", cls.coingecko_base_url),
            coingecko_api_key=secret("COINGECKO_API_KEY"),
            binance_base_url=url("BINANCE_BASE_URL", cls.binance_base_url),
            coinbase_base_url=url("COINBASE_BASE_URL", cls.coinbase_base_url),
            defillama_base_url=url("DEFILLAMA_BASE_URL", cls.defillama_base_url),
            mempool_base_url=url("MEMPOOL_BASE_URL", cls.mempool_base_url),
            blockchain_info_base_url=url("BLOCKCHAIN_INFO_BASE_URL", cls.blockchain_info_base_url),
            price_interval_seconds=number("PRICE_INTERVAL_SECONDS", 60.0, 1, 86400),
            price_cache_seconds=number("PRICE_CACHE_SECONDS", 30.0, 0, 3600),
            http_timeout_seconds=number("HTTP_TIMEOUT_SECONDS", 10.0, 0.1, 120),
            shutdown_grace_seconds=number("SHUTDOWN_GRACE_SECONDS", 5.0, 0, 600),
            user_commands_per_minute=integer("USER_COMMANDS_PER_MINUTE", 30, 0, 100_000),
            chat_commands_per_minute=integer("CHAT_COMMANDS_PER_MINUTE", 60, 0, 100_000),
            heavy_workers=integer("HEAVY_WORKERS", 1, 0, 64),
            http_port=integer("HTTP_PORT", 0, 1, 65535) or None,
            alert_webhook_url=Secret(url("ALERT_WEBHOOK_URL", "http://unset")) if get("ALERT_WEBHOOK_URL") else None,
            telegram_webhook_url=url("TELEGRAM_WEBHOOK_URL", "http://unset") if get("TELEGRAM_WEBHOOK_URL") else None,
            telegram_webhook_secret=secret("TELEGRAM_WEBHOOK_SECRET"),
            telegram_webhook_port=integer("TELEGRAM_WEBHOOK_PORT", 8443, 1, 65535),
            discord_guild_id=integer("DISCORD_GUILD_ID", 0, 1, 2**63) or None,
            discord_shard_count=integer("DISCORD_SHARD_COUNT", 1, 1, 4096),
            log_level=level,
            rpc_urls=tuple((chain, tuple(Secret(url(f"RPC_URL_{chain.upper()}", u)) for u in urls.split(",") if u.strip()))
                           for chain, urls in ((c, get(f"RPC_URL_{c.upper()}") or d) for c, d in DEFAULT_RPC_URLS.items())
                           if urls.lower() != "off"),  # "off": that chain is never asked
            chain_addresses_file=get("CHAIN_ADDRESSES_FILE"),
        )

    def secrets(self) -> list[str]:
        """Every configured secret's value (for masking, never for showing)."""
        found = [v.reveal() for v in self.__dict__.values() if isinstance(v, Secret)]
        if self.database_url is not None:  # a driver's message may quote the password alone
            password = urlsplit(self.database_url.reveal()).password
            found += [password] if password else []
        return found + [u.reveal() for _, urls in self.rpc_urls for u in urls]

    @property
    def database_target(self) -> str | Path:
        """What the store opens: DATABASE_URL when set, else the SQLite file."""
        return self.database_url.reveal() if self.database_url is not None else self.database_path

    def describe(self) -> dict[str, str]:
        """Every setting as text, secrets masked (for `collateral-bot config`)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                value = "*** (set)"
            elif value is None:
                value = "(not set)"
            elif f.name == "rpc_urls":
                for chain, urls in value:
                    out[f"RPC_URL_{chain.upper()}"] = f"*** ({len(urls)} set)"
                continue
            elif isinstance(value, tuple):
                value = ",".join(value)
            out[f.name.upper()] = str(value)
        return out
