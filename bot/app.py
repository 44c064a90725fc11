"""The composition root: Settings -> Store -> price book -> Assistant -> adapters, in one event loop."""

from __future__ import annotations

import logging
import sys
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from core.assets import AssetRegistry
from core.config import Settings
from core.ports import Clock, SystemClock
from core.prices.book import OnDemandPriceBook
from core.prices.coingecko import CoinGeckoSource
from core.protocols import Presets
from core.service import Assistant
from core.store import Store

from .console_adapter import ConsoleChat

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything built from the settings, ready for an adapter."""

    settings: Settings
    store: Store
    assistant: Assistant
    session: aiohttp.ClientSession


def price_sources(settings: Settings, session: aiohttp.ClientSession) -> list:
    """The configured price sources, in PRICE_SOURCES order."""
    built = []
    for name in settings.price_sources:
        if name == "coingecko":
            key = settings.coingecko_api_key.reveal() if settings.coingecko_api_key else None
            built.append(CoinGeckoSource(session, settings.coingecko_base_url, key, settings.http_timeout_seconds))
    return built


@asynccontextmanager
async def build(settings: Settings, clock: Clock | None = None) -> AsyncIterator[App]:
    """Open the database (migrated), the HTTP session and the assistant; close them on exit."""
    clock = clock or SystemClock()
    registry = AssetRegistry.bundled()
    presets = Presets.bundled()
    store = Store(settings.database_path)
    try:
        async with aiohttp.ClientSession(trust_env=True) as session:
            book = OnDemandPriceBook(price_sources(settings, session), registry, clock, ttl=settings.price_cache_seconds)
            yield App(settings, store, Assistant(store, book, registry, presets, clock), session)
    finally:
        store.close()


async def run_console(settings: Settings, user: str, stdin=None, stdout=None) -> None:
    """The console chat against the configured database and price sources."""
    async with build(settings) as app:
        chat = ConsoleChat(app.assistant, user, stdin or sys.stdin, stdout or sys.stdout)
        await chat.run()


async def run(settings: Settings, user: str) -> None:
    """Start what is configured: chat adapters when tokens are set, else the console."""
    if settings.telegram_bot_token or settings.discord_bot_token:
        raise SystemExit("Telegram and Discord adapters are not part of this build yet; unset the tokens to use the console.")
    await run_console(settings, user)
