"""The composition root: Settings -> Store -> feed -> monitor -> Assistant -> scheduler, dispatcher, adapters."""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
from aiohttp import web

from core import redact
from core.chain.addresses import AddressBook
from core.chain.rpc import RpcClient
from core.chain.tracker import Tracker
from core.chat.assistant import Assistant
from core.chat.heavy import HeavyWork
from core.chat.ratelimit import CommandLimiter
from core.config import DEFAULT_RPC_URLS, Settings
from core.errors import CoreError
from core.lending.assets import AssetRegistry
from core.lending.protocols import Presets
from core.market.mining_data import BlockchainInfoSource, MempoolSource, MiningData
from core.market.ports import PriceBook, PriceSource
from core.market.prices.binance import BinanceSource
from core.market.prices.coinbase import CoinbaseSource
from core.market.prices.coingecko import CoinGeckoSource
from core.market.prices.feed import PriceFeed
from core.market.prices.history import PriceHistory
from core.market.prices.replay import STEP, ReplayClock, ReplaySource, load_candles, window_bounds
from core.market.yield_book import DefiLlamaSource, YieldBook
from core.ports import Clock, PositionEvents, SystemClock
from core.storage.backup import copy_database, running_lock
from core.storage.replicas import EVENTS_CHANNEL, OUTBOX_CHANNEL
from core.storage.store import Store
from core.watch.delivery import Dispatcher
from core.watch.mining_watch import MiningWatch
from core.watch.monitor import Monitor
from core.watch.outbox import Outbox
from core.watch.scheduler import Scheduler
from core.watch.shared_events import SharedEvents

from . import logs
from .console_adapter import ConsoleChat, ReplayTicker
from .notifiers import ConsoleNotifier, WebhookNotifier
from .ops import start_ops
from .replica import REGISTER, TICKS, Replica, default_name, token_role

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything built from the settings, ready for an adapter."""

    settings: Settings
    store: Store
    feed: PriceFeed
    monitor: Monitor
    outbox: Outbox
    dispatcher: Dispatcher
    assistant: Assistant
    scheduler: Scheduler
    clock: Clock
    session: aiohttp.ClientSession
    yields: YieldBook
    refresher: Scheduler  # the hourly yield refresh, beside the ticks
    replica: Replica

    async def start(self) -> None:
        """Delivery in the background, and every role this process leads (all of them on SQLite; the chart workers now)."""
        self.assistant.heavy.warm()
        self.dispatcher.start()
        await self.replica.start()

    def sender_role(self, platform: str) -> str | None:
        """The role that sends for a platform's token (None: the console's, always this process's).

        Discord's is its gateway's shard 0: the notifier sends through that session's client.
        """
        token = {"telegram": self.settings.telegram_bot_token, "discord": self.settings.discord_bot_token}.get(platform)
        if token is None:
            return None
        if platform == "discord":
            return token_role("gateway", "discord", token.reveal()) + (":0" if self.settings.discord_shard_count > 1 else "")
        return token_role("sender", platform, token.reveal())

    def add_sender(self, platform: str, gateway=None) -> None:
        """Send that platform's warnings only while leading its sender role; taking it over takes the old claims."""
        role = self.sender_role(platform)
        if role is None:
            return

        async def gained() -> None:
            if gateway is not None:
                await gateway.start()
            released = self.outbox.release_claims(platform)
            if released:
                log.info("took over %d unsent %s messages", released, platform)
            self.dispatcher.wake()

        async def lost() -> None:
            if gateway is not None:
                await gateway.stop()
            self.dispatcher.wake()

        self.replica.role(role, gained, lost)


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
                record_history: bool = True, interval: float | None = None, on_commit=None) -> AsyncIterator[App]:
    """Open everything in order; close it in reverse on exit."""
    clock = clock or SystemClock()
    redact.remember(*settings.secrets())  # masked in the database's error texts as in the logs
    interval = interval or settings.price_interval_seconds
    registry, presets = AssetRegistry.bundled(), Presets.bundled()
    shared = settings.database_url is not None
    # One bot per SQLite file (a second start says so plainly); on PostgreSQL replicas are the point.
    with nullcontext() if shared else running_lock(settings.database_path):
        store = Store(settings.database_target)
        name = settings.replica_name or default_name()
        replica = Replica(name, settings.database_url.reveal() if settings.database_url else None, settings.leader_check_seconds)
        try:
            async with aiohttp.ClientSession(trust_env=True) as session:
                feed = PriceFeed(
                    sources if sources is not None else price_sources(settings, session),
                    registry,
                    clock,
                    in_use=store.assets_in_use,
                    history=PriceHistory(store.db) if record_history else None,
                    # Between scheduled ticks a command reuses the last check instead of asking again.
                    refresh_after=max(settings.price_cache_seconds, interval + 5),
                )
                outbox = Outbox(store, replica=name)
                yields = YieldBook(store, DefiLlamaSource(session, settings.defillama_base_url, settings.http_timeout_seconds * 2),
                                   clock, registry)
                dispatcher = Dispatcher(outbox, [])
                tracker = await chain_tracker(settings, store, session, clock, feed)
                monitor = Monitor(store, feed, registry, presets, clock, outbox, wake=dispatcher.wake,
                                  on_commit=fenced(replica, on_commit), oracle=tracker)
                monitor.publish = shared  # standbys' /status shows the leader's last tick
                tracker.events = monitor
                if not shared:  # among replicas the one that takes the ticks loads them (lead_ticks); standbys never do
                    log.info("monitoring %d positions", monitor.load())
                heavy = HeavyWork(settings.heavy_workers)
                events: PositionEvents = monitor
                if shared:  # a command on any replica reaches the one that ticks
                    events = SharedEvents(monitor, store.db, name, EVENTS_CHANNEL, monitor.reload, lambda: replica.holds(TICKS))
                    replica.on_notify(EVENTS_CHANNEL, events.heard)
                    replica.on_notify(OUTBOX_CHANNEL, lambda payload: dispatcher.wake())
                assistant = Assistant(store, feed, registry, presets, clock, events=events, outbox=outbox,
                                      monitor_status=lambda: monitor.last_tick if not shared or replica.holds(TICKS)
                                      else monitor.published_tick(), yields=yields, history=feed.history,
                                      heavy=heavy)
                assistant.tracker = tracker
                timeout = settings.http_timeout_seconds
                mining = MiningData(store.db, [MempoolSource(session, settings.mempool_base_url, timeout),
                                               BlockchainInfoSource(session, settings.blockchain_info_base_url, timeout)],
                                    clock)
                assistant.mining = mining
                mining_watch = MiningWatch(store, mining, feed, outbox, clock, presets, registry, wake=dispatcher.wake)
                scheduler = Scheduler([feed.tick, tracker.tick, monitor.tick], interval, "ticks")
                # Checked every few minutes, fetched only once the cache is an hour old: a restart with a fresh
                # cache downloads nothing, and an old one is refreshed within minutes.
                # Mining figures the same way: asked only while someone has a fleet, at most every half hour.
                refresher = Scheduler([yields.refresh_if_due, mining_watch.tick], yields.RETRY_SECONDS, "yields and mining")

                async def lead_ticks() -> None:
                    if shared:  # others wrote while this one stood by: alert state, positions, prices
                        log.info("monitoring %d positions", monitor.reload())
                    scheduler.start()
                    refresher.start()

                async def stop_ticks() -> None:
                    await scheduler.stop()
                    await refresher.stop()

                replica.role(TICKS, lead_ticks, stop_ticks)
                app = App(settings, store, feed, monitor, outbox, dispatcher, assistant, scheduler, clock, session, yields,
                          refresher, replica)
                if shared:  # alone on SQLite, this process sends for every platform
                    dispatcher.may_send = lambda platform: (role := app.sender_role(platform)) is None or replica.holds(role)
                try:
                    yield app
                finally:
                    await replica.stop()
                    heavy.close()
        finally:
            store.close()


def fenced(replica: Replica, on_commit):
    """The tick's extra step inside its transaction: first, on PostgreSQL, check this replica still leads the ticks."""

    def check(db, now: float) -> None:
        if replica.shared and replica.leadership is not None:
            replica.leadership.fence(db, TICKS)
        if on_commit is not None:
            on_commit(db, now)

    return check


async def chain_tracker(settings: Settings, store: Store, session: aiohttp.ClientSession, clock: Clock,
                        feed: PriceFeed) -> Tracker:
    """The chain reader; chains whose RPC URL the operator set are asked their chain id now (a wrong one is refused)."""
    try:
        book = AddressBook.from_file(settings.chain_addresses_file) if settings.chain_addresses_file else AddressBook.bundled()
    except CoreError as err:
        raise StartupError(err.message) from err
    clients = {chain: RpcClient(chain, [u.reveal() for u in urls], session, clock.time, settings.http_timeout_seconds)
               for chain, urls in settings.rpc_urls if urls}
    tracker = Tracker(store, book, clients, clock, usd=lambda symbol: trusted_price(feed, symbol),
                      budget=max(10.0, settings.http_timeout_seconds * 3))
    chosen = {chain for chain, urls in settings.rpc_urls
              if ",".join(u.reveal() for u in urls) != DEFAULT_RPC_URLS.get(chain)}
    for line in await tracker.check_chain_ids(chosen):
        log.warning("%s", line)
    return tracker


async def trusted_price(feed: PriceBook, symbol: str) -> float | None:
    """The market's trusted price of one asset (asked for if need be), or None: a Morpho oracle quotes in its loan token."""
    quote = (await feed.snapshot([symbol])).quotes.get(symbol)
    return quote.price if quote is not None and quote.trusted else None


def files_dir(settings: Settings) -> Path:
    """Where the console saves charts and exports: beside the database."""
    return settings.database_path.parent / "files"


def console_notifier(app: App, user: str, chat: ConsoleChat):
    """Warnings for the console user: printed, or POSTed to ALERT_WEBHOOK_URL and echoed."""
    printer = ConsoleNotifier(user, chat.notice)
    if app.settings.alert_webhook_url:
        return WebhookNotifier(user, app.settings.alert_webhook_url.reveal(), app.session, echo=printer)
    return printer


async def _shutdown(app: App) -> None:
    """Stop ticking, deliver what is due for SHUTDOWN_GRACE_SECONDS, stop; what is left waits in the outbox."""
    await app.scheduler.stop()
    await app.refresher.stop()
    await app.dispatcher.stop(drain=app.settings.shutdown_grace_seconds)
    await app.replica.stop()


async def run_console(settings: Settings, user: str, stdin=None, stdout=None) -> None:
    """The console chat with live prices and warnings."""
    async with build(settings) as app:
        chat = ConsoleChat(app.assistant, user, stdin or sys.stdin, stdout or sys.stdout, files_dir(settings))
        app.dispatcher.notifiers.append(console_notifier(app, user, chat))
        ops = await start_ops(app, settings.http_port) if settings.http_port else None
        await app.start()
        try:
            await chat.run()
        finally:
            await _shutdown(app)
            if ops is not None:
                await ops.cleanup()


def replay_database(main: Path, resume: bool) -> Path:
    """A copy of the main database for a replay (the real alert state is left alone); reused with --resume."""
    path = main.with_name(main.name + ".replay")
    if resume and path.exists():
        return path
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if main.exists():
        copy_database(main, path)  # SQLite's online backup, renamed into place only when complete
    return path


async def run_replay(settings: Settings, user: str, start: str, speed: float, until: str | None = None,
                     resume: bool = False, stdin=None, stdout=None) -> None:
    """The console with prices replayed from bundled history, 15 simulated minutes a step, warnings included."""
    if settings.database_url is not None:
        raise ValueError("a replay runs on a copy of the SQLite file; with DATABASE_URL set there is none to copy "
                         "(unset DATABASE_URL to replay your own positions from DATABASE_PATH)")
    candles = load_candles()
    first, end = window_bounds(candles, start)
    if until is not None:
        end = min(end, window_bounds(candles, until)[0] + 86400)
    settings = replace(settings, database_path=replay_database(settings.database_path, resume))
    key = f"replay:{start}:{until or ''}"
    probe = Store(settings.database_path)
    saved = probe.db.execute("SELECT value FROM kv WHERE key = ?", [key]).fetchone()
    probe.close()
    clock = ReplayClock(float(saved[0]) if saved and resume else first)

    def remember(db, now: float) -> None:  # the replay's place is saved with each tick's alert state
        db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   [key, repr(now + STEP)])

    async def step() -> None:
        clock.step()

    source = ReplaySource(candles, clock)
    async with build(settings, clock, sources=[source], record_history=False, interval=STEP / speed, on_commit=remember) as app:
        chat = ConsoleChat(app.assistant, user, stdin or sys.stdin, stdout or sys.stdout, files_dir(settings))
        app.dispatcher.notifiers.append(console_notifier(app, user, chat))
        ticker = ReplayTicker(chat, app.feed, clock)
        app.scheduler.steps = [app.feed.tick, app.monitor.tick, ticker.after_tick, step]
        app.scheduler.until = lambda: clock.time() >= end
        resumed = " (resumed)" if clock.time() > first else ""
        chat.say(f"Replaying {start}{resumed} from bundled Binance hourly history at {speed:,.0f}x "
                 f"(an hour every {3600 / speed:,.2g} s). Your positions are valued at the prices of the day; "
                 "warnings arrive as they would have. Your real alert state is untouched.")
        task = app.scheduler.start()
        app.dispatcher.start()
        try:
            await chat.run(until_done=task)
        finally:
            await _shutdown(app)
        chat.say(ticker.summary())


class StartupError(Exception):
    """A chat platform refused or failed the start; the message is one line, secrets masked."""


def describe(err: BaseException) -> str:
    """An exception as a short line for a person: its kind and its message, masked."""
    text = " ".join(str(err).split())
    return logs.scrub(f"{type(err).__name__}: {text}" if text else type(err).__name__)[:300]


class PlatformAdmins:
    """core.ports.ChatAdmins that asks the platform a chat lives on."""

    def __init__(self):
        self.by_platform = {}

    async def is_admin(self, chat, user, right: str = "positions") -> bool:
        """Whatever that platform says, now."""
        admins = self.by_platform.get(chat.platform)
        return bool(admins) and await admins.is_admin(chat, user, right)


async def run_chat_adapters(settings: Settings, stop: asyncio.Event) -> None:
    """Telegram (and, with its token, Discord) with the scheduler and the dispatcher, until `stop` is set."""
    from .discord_adapter import DiscordAdmins, point_at
    from .telegram_adapter import TelegramAdapter, TelegramAdmins, TelegramNotifier

    shared = settings.database_url is not None
    async with build(settings) as app:
        admins = PlatformAdmins()
        app.assistant.admins = admins
        # Chats are open to anyone; the console is one person at a keyboard and is not limited.
        app.assistant.limiter = CommandLimiter(app.clock, settings.user_commands_per_minute, settings.chat_commands_per_minute)
        started = []
        runner = None
        ops = await start_ops(app, settings.http_port) if settings.http_port else None
        try:
            if settings.telegram_bot_token:
                webhook = settings.telegram_webhook_url
                telegram = TelegramAdapter.build(settings.telegram_bot_token.reveal(), settings.telegram_api_base_url,
                                                 app.assistant, app.outbox, webhook=bool(webhook), timeout=settings.http_timeout_seconds)
                admins.by_platform["telegram"] = TelegramAdmins(telegram.application)
                app.dispatcher.notifiers.append(TelegramNotifier(telegram.application, app.assistant.buttons))
                if webhook and shared and settings.telegram_webhook_secret is None:
                    raise StartupError("TELEGRAM_WEBHOOK_SECRET must be set when replicas share DATABASE_URL: "
                                       "every replica checks the same secret")
                secret = settings.telegram_webhook_secret.reveal() if settings.telegram_webhook_secret else secrets.token_urlsafe(32)
                logs.mask(secret)  # PTB logs setWebhook's parameters at DEBUG; a generated secret is a secret too
                if webhook:
                    web_app = web.Application()
                    web_app.add_routes([telegram.webhook_route(secret)])
                    runner = web.AppRunner(web_app)
                    await runner.setup()
                    await web.TCPSite(runner, "0.0.0.0", settings.telegram_webhook_port).start()
                try:
                    await telegram.open()  # every replica handles the updates it is given
                except Exception as err:
                    raise StartupError(f"Telegram did not start: {describe(err)}") from err
                started.append(telegram)
                app.replica.role(REGISTER, registrar(telegram, webhook, secret if webhook else None), nothing)
                if not webhook:
                    if shared:
                        log.warning("telegram: long polling allows one consumer per token, so one replica polls at a time "
                                    "and the others stand by; set TELEGRAM_WEBHOOK_URL for commands on every replica")
                    app.replica.role(token_role("poll", "telegram", settings.telegram_bot_token.reveal()),
                                     telegram.poll, telegram.stop_polling)
                app.add_sender("telegram")
                log.info("telegram adapter started (%s)", "webhook" if webhook else "long polling")
            if settings.discord_bot_token:
                point_at(settings.discord_api_base_url, settings.discord_gateway_url)
                admins.by_platform["discord"] = DiscordAdmins()
                for shard in range(settings.discord_shard_count):
                    gateway = DiscordGateway(app, settings, shard)
                    if shard == 0:
                        app.dispatcher.notifiers.append(gateway.notifier)
                        app.add_sender("discord", gateway)
                    else:
                        app.replica.role(gateway.role, gateway.start, gateway.stop)
                    started.append(gateway)
            try:
                await app.start()
            except StartupError:
                raise
            except Exception as err:
                raise StartupError(describe(err)) from err
            log.info("replica %s leads: %s", app.replica.name, ", ".join(app.replica.held()) or "nothing yet (standing by)")
            await stop.wait()
        finally:
            for adapter in reversed(started):
                await adapter.stop()
            if runner is not None:
                await runner.cleanup()
            await _shutdown(app)
            if ops is not None:
                await ops.cleanup()


async def nothing() -> None:
    """A role with nothing to undo."""


def registrar(telegram, webhook: str | None, secret: str | None):
    """The one-off registration: the command menu and, in webhook mode, setWebhook (by whichever replica leads it)."""

    async def register() -> None:
        try:
            await telegram.register(webhook, secret)
        except Exception as err:
            raise StartupError(f"Telegram did not start: {describe(err)}") from err

    return register


class DiscordGateway:
    """One Discord gateway session (a shard), led by one replica at a time; a new client each time it is taken over.

    The sessions' shard 0 also sends the warnings (its client is the notifier's) and syncs the commands.
    """

    def __init__(self, app: App, settings: Settings, shard: int = 0):
        from .discord_adapter import DiscordAdapter, DiscordNotifier

        count = settings.discord_shard_count
        self._make = lambda: DiscordAdapter(app.assistant, settings.discord_guild_id, (shard, count) if count > 1 else None)
        self.token = settings.discord_bot_token.reveal() if settings.discord_bot_token else ""
        self.role = token_role("gateway", "discord", self.token) + (f":{shard}" if count > 1 else "")
        self.adapter = self._make()
        self.notifier = DiscordNotifier(self.adapter.client, app.assistant.buttons)
        self._used = False

    async def start(self) -> None:
        """Connect (a fresh client when an earlier one was closed)."""
        if self._used:
            self.adapter = self._make()
            self.notifier.client = self.adapter.client
        self._used = True
        try:
            await self.adapter.start(self.token)
        except Exception as err:
            raise StartupError(f"Discord did not start: {describe(err)}") from err
        log.info("discord adapter started (%s)", self.role)

    async def stop(self) -> None:
        """Close the gateway session."""
        await self.adapter.stop()


async def run(settings: Settings, user: str) -> None:
    """Start what is configured: chat adapters when tokens are set, else the console."""
    if not (settings.telegram_bot_token or settings.discord_bot_token):
        if not sys.stdin.isatty():  # e.g. a container started without a token: say why it answers nobody
            print("collateral-bot: no TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN is set, so this is the console chat "
                  "reading standard input", file=sys.stderr)
        await run_console(settings, user)
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_chat_adapters(settings, stop)
