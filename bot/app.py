"""The composition root: Settings -> Store -> price feed -> Assistant -> scheduler and adapters, one event loop."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from core.assets import AssetRegistry
from core.config import Settings
from core.ports import Clock, PriceSource, SystemClock
from core.prices.binance import BinanceSource
from core.prices.coinbase import CoinbaseSource
from core.prices.coingecko import CoinGeckoSource
from core.prices.feed import PriceFeed
from core.prices.history import PriceHistory
from core.prices.replay import STEP, ReplayClock, ReplaySource, load_candles, window_bounds
from core.protocols import Presets
from core.scheduler import Scheduler
from core.service import Assistant
from core.store import Store

from .console_adapter import ConsoleChat, ReplayTicker

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything built from the settings, ready for an adapter."""

    settings: Settings
    store: Store
    feed: PriceFeed
    assistant: Assistant
    scheduler: Scheduler
    clock: Clock


def price_sources(settings: Settings, session: aiohttp.ClientSession) -> list[PriceSource]:
    """The configured price sources, in PRICE_SOURCES order."""
    timeout = settings.http_timeout_seconds
    built: list[PriceSource] = []
    for name in settings.price_sources:
        if name == "coingecko":
            key = settings.coingecko_api_key.reveal() if settings.coingecko_api_key else None
            built.append(CoinGeckoSource(session, settings.coingecko_base_url, key, timeout))
        elif name == "binance":
            built.append(BinanceSource(session, settings.binance_base_url, timeout))
        elif name == "coinbase":
            built.append(CoinbaseSource(session, settings.coinbase_base_url, timeout))
    return built


@asynccontextmanager
async def build(settings: Settings, clock: Clock | None = None, sources: list[PriceSource] | None = None,
                record_history: bool = True, interval: float | None = None) -> AsyncIterator[App]:
    """Open the database (migrated), the HTTP session, the feed, the assistant and the scheduler."""
    clock = clock or SystemClock()
    registry = AssetRegistry.bundled()
    store = Store(settings.database_path)
    try:
        async with aiohttp.ClientSession(trust_env=True) as session:
            feed = PriceFeed(
                sources if sources is not None else price_sources(settings, session),
                registry,
                clock,
                in_use=store.assets_in_use,
                history=PriceHistory(store.db) if record_history else None,
                # Between scheduled ticks a command reuses the last check instead of asking again.
                refresh_after=max(settings.price_cache_seconds, (interval or settings.price_interval_seconds) + 5),
            )
            assistant = Assistant(store, feed, registry, Presets.bundled(), clock)
            scheduler = Scheduler([feed.tick], interval or settings.price_interval_seconds, "prices")
            yield App(settings, store, feed, assistant, scheduler, clock)
    finally:
        store.close()


async def run_console(settings: Settings, user: str, stdin=None, stdout=None) -> None:
    """The console chat with live prices checked on schedule."""
    async with build(settings) as app:
        chat = ConsoleChat(app.assistant, user, stdin or sys.stdin, stdout or sys.stdout)
        app.scheduler.start()
        try:
            await chat.run()
        finally:
            await app.scheduler.stop()


async def run_replay(settings: Settings, user: str, start: str, speed: float, stdin=None, stdout=None) -> None:
    """The console chat with prices replayed from bundled history: 15 simulated minutes per step."""
    candles = load_candles()
    first, end = window_bounds(candles, start)
    clock = ReplayClock(first)
    replay = ReplaySource(candles, clock)
    async with build(settings, clock, sources=[replay], record_history=False, interval=STEP / speed) as app:
        chat = ConsoleChat(app.assistant, user, stdin or sys.stdin, stdout or sys.stdout)
        ticker = ReplayTicker(chat, app.feed, clock)
        app.scheduler.steps = [app.feed.tick, ticker.after_tick, lambda: _step(clock)]
        app.scheduler.until = lambda: clock.time() >= end
        chat.say(f"Replaying {start} from bundled Binance hourly history at {speed:,.0f}x "
                 f"(an hour every {3600 / speed:,.2g} s). Your positions are valued at the prices of the day.")
        task = app.scheduler.start()
        await chat.run(until_done=task)
        await app.scheduler.stop()
        chat.say(ticker.summary())


async def _step(clock: ReplayClock) -> None:
    clock.step()


async def run(settings: Settings, user: str) -> None:
    """Start what is configured: chat adapters when tokens are set, else the console."""
    if settings.telegram_bot_token or settings.discord_bot_token:
        raise SystemExit("Telegram and Discord adapters are not part of this build yet; unset the tokens to use the console.")
    await run_console(settings, user)
