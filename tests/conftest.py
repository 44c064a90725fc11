"""Shared fixtures: registry and presets, real SQLite files, an assistant on fake prices."""

from __future__ import annotations

import pytest

from core.assets import AssetRegistry
from core.models import Actor, ChatRef, Owner
from core.protocols import Presets
from core.service import Assistant
from core.store import Store
from tests.fakes import VECTOR_PRICES, FakeClock, FakePriceBook


@pytest.fixture(scope="session")
def registry() -> AssetRegistry:
    return AssetRegistry.bundled()


@pytest.fixture(scope="session")
def presets() -> Presets:
    return Presets.bundled()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "bot.db")
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


@pytest.fixture
async def coingecko():
    """An emulated CoinGecko on 127.0.0.1 serving DOMAIN.md's vector prices; yields (state, base URL)."""
    from aiohttp.test_utils import TestServer

    from tests.emulators.prices import VECTOR_PRICES as CG_PRICES
    from tests.emulators.prices import PriceState, coingecko_app

    state = PriceState(prices=dict(CG_PRICES))
    server = TestServer(coingecko_app(state), host="127.0.0.1")
    await server.start_server()
    yield state, str(server.make_url("")).rstrip("/")
    await server.close()
