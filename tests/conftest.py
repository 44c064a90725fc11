"""Shared fixtures: registry and presets, real SQLite files and a real PostgreSQL server, an assistant on fake prices."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
from aiohttp.test_utils import TestServer

from core.chat.assistant import Assistant
from core.lending.assets import AssetRegistry
from core.lending.models import Actor, ChatRef, Owner
from core.lending.protocols import Presets
from core.storage.store import Store
from tests.emulators.mempool import MempoolState, mempool_app
from tests.emulators.prices import VECTOR_PRICES as EMULATED_PRICES
from tests.emulators.prices import PriceWorld, price_app
from tests.fakes import VECTOR_PRICES, FakeClock, FakePriceBook


@pytest.fixture(scope="session")
def registry() -> AssetRegistry:
    return AssetRegistry.bundled()


@pytest.fixture(scope="session")
def presets() -> Presets:
    return Presets.bundled()


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the session (tests/pg.py); skipped with the reason where none can start, failed under CI."""
    from tests.pg import PostgresServer

    server = PostgresServer()
    try:
        server.start()
    except Exception as err:  # noqa: BLE001 - any reason the server cannot start is reported as it is
        server.stop()
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but no PostgreSQL server could be started: {err}")
        pytest.skip(f"no PostgreSQL server could be started: {err}")
    yield server
    server.stop()


ENGINES = ["sqlite", "postgresql"]


def pytest_generate_tests(metafunc):
    """A test marked both_engines that uses a store runs once on SQLite and once on PostgreSQL."""
    if "store_target" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_engines"):
        metafunc.parametrize("store_target", ENGINES, indirect=True)


@pytest.fixture
def store_target(request, tmp_path):
    """Where a test's store lives: a SQLite file, or a fresh migrated database on the session's PostgreSQL.

    Parametrize it indirectly with ENGINES to run a test on both; TEST_STORE=postgresql moves every other test too.
    """
    kind = getattr(request, "param", os.environ.get("TEST_STORE", "sqlite"))
    if kind == "sqlite":
        return tmp_path / "bot.db"
    server = request.getfixturevalue("postgres")
    url = server.new_database()
    request.addfinalizer(lambda: server.drop(url))
    return url


@pytest.fixture
def store(store_target):
    s = Store(store_target)
    yield s
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def prices(clock) -> FakePriceBook:
    return FakePriceBook(VECTOR_PRICES, clock)


@pytest.fixture
def assistant(store, prices, registry, presets, clock) -> Assistant:
    return Assistant(store, prices, registry, presets, clock)


def actor(name: str, platform: str = "console") -> Actor:
    """A user typing in their private chat."""
    return Actor(Owner(platform, "user", name), ChatRef(platform, name), name)


@pytest.fixture
def alice() -> Actor:
    return actor("alice")


@pytest.fixture
def bob() -> Actor:
    return actor("bob")


@dataclass
class PriceAPIs:
    """The emulated price APIs: their shared world and the base URL of each."""

    world: PriceWorld
    root: str
    mining: MempoolState = field(default_factory=MempoolState)  # mempool.space and blockchain.info, under /mempool

    @property
    def coingecko_url(self) -> str:
        return f"{self.root}/coingecko"

    @property
    def binance_url(self) -> str:
        return f"{self.root}/binance"

    @property
    def coinbase_url(self) -> str:
        return f"{self.root}/coinbase"

    def env(self) -> dict[str, str]:
        """Settings that point the bot at these emulators."""
        return {"COINGECKO_BASE_URL": self.coingecko_url, "BINANCE_BASE_URL": self.binance_url,
                "COINBASE_BASE_URL": self.coinbase_url, "MEMPOOL_BASE_URL": f"{self.root}/mempool",
                "BLOCKCHAIN_INFO_BASE_URL": f"{self.root}/mempool"}


@pytest.fixture
async def price_apis(registry):
    """Emulated CoinGecko, Binance and Coinbase on 127.0.0.1, serving the prices of docs/lending.md's worked examples."""
    world = PriceWorld(prices=dict(EMULATED_PRICES))
    mining = MempoolState()
    app = price_app(world, registry)
    app.add_subapp("/mempool", mempool_app(mining))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield PriceAPIs(world, str(server.make_url("")).rstrip("/"), mining)
    await server.close()


@dataclass
class Bot:
    """The core wired as the composition root does, on fakes of our own ports."""

    store: Store
    feed: object
    source: object
    monitor: object
    outbox: object
    assistant: Assistant
    admins: object
    clock: FakeClock

    async def tick(self, seconds: float = 60.0, **prices: float) -> int:
        """Move time, set prices, run one price tick and one warning tick; returns messages queued."""
        self.clock.advance(seconds)
        self.source.prices.update(prices)
        await self.feed.tick()
        return await self.monitor.tick()

    def queued(self):
        """Pending outbox rows, oldest first."""
        return self.outbox.pending(1e12)


@pytest.fixture
def bot(store_target, registry, presets):
    from core.market.prices.feed import PriceFeed
    from core.watch.monitor import Monitor
    from core.watch.outbox import Outbox
    from tests.fakes import FakeAdmins, FakePriceSource

    clock = FakeClock()
    store = Store(store_target)
    source = FakePriceSource(dict(VECTOR_PRICES))
    feed = PriceFeed([source], registry, clock, in_use=store.assets_in_use)
    outbox = Outbox(store)
    monitor = Monitor(store, feed, registry, presets, clock, outbox)
    monitor.load()
    admins = FakeAdmins()
    assistant = Assistant(store, feed, registry, presets, clock, events=monitor, admins=admins, outbox=outbox,
                          monitor_status=lambda: monitor.last_tick)
    yield Bot(store, feed, source, monitor, outbox, assistant, admins, clock)
    store.close()


def group_actor(user: str, chat_id: str = "-100", platform: str = "telegram") -> Actor:
    """A user typing in a group chat."""
    return Actor(Owner(platform, "user", user), ChatRef(platform, chat_id, is_group=True), user)
