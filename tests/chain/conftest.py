"""One local chain with the real Aave v3 market per test session; each test starts from the same snapshot."""

from __future__ import annotations

import aiohttp
import pytest

from tests.chain.aave_market import AaveMarket, deploy
from tests.chain.comet_market import CWETHV3, deploy_comet
from tests.chain.ens_names import deploy_ens
from tests.chain.evm import LocalChain
from tests.chain.liquity_troves import deploy_liquity
from tests.chain.liquity_v2 import deploy_liquity_v2
from tests.chain.maker_vaults import deploy_maker
from tests.chain.morpho_market import deploy_morpho
from tests.chain.node import NodeState, serve


@pytest.fixture(scope="session")
def market() -> AaveMarket:
    chain = LocalChain()
    m = deploy(chain)
    m.supply(chain.accounts[1], "USDC", 5_000_000)  # a lender, so borrowers find liquidity
    m.supply(chain.accounts[1], "WETH", 1_000)
    m.blue = deploy_morpho(m)  # Morpho Blue on the same chain and tokens
    m.blue.lend(chain.accounts[1], m.blue.usdc, 5_000_000)
    m.blue.lend(chain.accounts[1], m.blue.lst, 1_000)
    m.comet = deploy_comet(m)  # Compound v3's cUSDCv3 and cWETHv3 on the same chain and tokens
    m.comet.supply(chain.accounts[1], "USDC", 5_000_000)
    deploy_comet(m, "WETH", CWETHV3)
    deploy_ens(chain, {"borrower.eth": chain.accounts[2]})
    m.maker = deploy_maker(m)  # Maker's Vat, Spotter, Dog, CDP manager and an OSM for ETH-A
    m.liquity = deploy_liquity(chain)  # Liquity v1's TroveManager, BorrowerOperations, pools and a settable PriceFeed
    m.bold = deploy_liquity_v2(m)  # Liquity v2: BOLD, its helpers, the WETH, wstETH and rETH branches
    return m


@pytest.fixture
def aave(market):
    """The market, reverted to its deployed state after the test."""
    snap = market.chain.snapshot()
    yield market
    market.chain.revert(snap)


@pytest.fixture
async def rig(tmp_path, registry, presets, node):
    """The core wired as the composition root does, reading the local chain through `node`."""
    from tests.chain.test_track import Rig

    async with aiohttp.ClientSession() as session:
        r = Rig(tmp_path, registry, presets, node.url, session)
        r.node = node
        yield r
        r.store.close()


@pytest.fixture
async def node(aave):
    """A JSON-RPC node on 127.0.0.1 over the chain; `.url`, `.state` (faults), `.market`."""
    state = NodeState()
    runner, url = await serve(aave.chain, state)

    class Node:
        pass

    n = Node()
    n.url, n.state, n.market, n.chain = url, state, aave, aave.chain
    yield n
    await runner.cleanup()
