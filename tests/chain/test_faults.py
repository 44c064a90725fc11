"""What a flaky or wrong RPC does to followed positions: never a warning from a failed read, one notice per outage."""

from __future__ import annotations

import json

import aiohttp
import pytest

from core.chain.addresses import AddressBook
from core.chain.rpc import RpcClient, RpcError
from tests.chain.test_track import Rig, borrower


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def followed(tmp_path, registry, presets, node, session, urls=None, **kw):
    rig = Rig(tmp_path, registry, presets, urls or node.url, session, **kw)
    rig.node = node
    wallet = borrower(node)
    reply, text = await rig.say(f"/track {wallet}")
    assert "added" in reply.title, text
    await rig.tick()
    return rig, wallet


def kinds(rig):
    return [item.kind for row in rig.outbox.pending(1e12) for item in row.notice.items]


async def test_429_backs_off_honours_retry_after_and_rotates_to_the_next_url(node, session):
    node.state.fault = "429"
    node.state.retry_after = 30
    now = [1000.0]
    rpc = RpcClient("ethereum", [node.url + "/first-key", node.url + "/second-key"], session, lambda: now[0], timeout=2)
    with pytest.raises(RpcError) as err:
        await rpc.call("eth_chainId", [])
    assert err.value.kind == "rate-limited" and "rate-limited for 30s" in err.value.message
    assert "first-key" not in err.value.message and "second-key" not in err.value.message  # keys are masked
    assert len(node.state.requests) == 2  # each URL once, then it gives up for now
    node.state.fault = None
    with pytest.raises(RpcError):
        await rpc.call("eth_chainId", [])
    assert len(node.state.requests) == 2  # both sit out their Retry-After: not asked again
    now[0] += 31
    assert int(await rpc.call("eth_chainId", []), 16) == 1


async def test_a_rate_limited_url_is_skipped_until_its_retry_after_passes(node, session):
    now = [1000.0]
    good = node.url + "/good"
    rpc = RpcClient("ethereum", [node.url + "/limited", good], session, lambda: now[0], timeout=2)
    node.state.fault = "limit"  # -32005 from both
    with pytest.raises(RpcError):
        await rpc.call("eth_blockNumber", [])
    node.state.fault = None
    with pytest.raises(RpcError) as err:  # both still paused for the second the node asked for
        await rpc.call("eth_blockNumber", [])
    assert "paused" in err.value.message
    now[0] += 2
    assert await rpc.call("eth_blockNumber", [])


async def test_a_timeout_rotates_to_the_next_url(node, session, unused_tcp_port):
    dead = f"http://127.0.0.1:{unused_tcp_port}"  # nothing listens
    rpc = RpcClient("ethereum", [dead, node.url], session, lambda: 0.0, timeout=1)
    assert int(await rpc.call("eth_chainId", []), 16) == 1
    assert rpc.url_in_use == "http://127.0.0.1" and rpc.last_error == ""


async def test_a_wrong_chain_id_refuses_that_chain_in_one_line(tmp_path, registry, presets, node, session):
    node.state.fault = "chain-id"
    rig = Rig(tmp_path, registry, presets, node.url, session)
    lines = await rig.tracker.check_chain_ids(["ethereum"])
    assert len(lines) == 1 and "Ethereum is not read" in lines[0] and "chain id 42" in lines[0]
    node.state.fault = None
    _, text = await rig.say(f"/track {node.chain.accounts[2]}")
    assert "No RPC URL is set" in text or "not read" in text
    rig.store.close()


async def test_an_address_book_pointing_at_no_contract_is_a_configuration_error(tmp_path, registry, presets, node, session):
    raw = json.loads(json.dumps(_bundled()))
    raw["aave-v3"]["ethereum"]["provider"] = "0x" + "12" * 20  # no code there
    path = tmp_path / "book.json"
    path.write_text(json.dumps(raw))
    rig = Rig(tmp_path, registry, presets, node.url, session, book=AddressBook.from_file(str(path)))
    borrower(node)
    _, text = await rig.say(f"/track {node.chain.accounts[2]}")
    assert "does not answer" in text and "check the address book" in text
    assert rig.store.chain_links() == []
    rig.store.close()


async def test_chain_addresses_file_replaces_the_bundled_book(tmp_path, registry, presets, node, session):
    raw = _bundled()
    raw["aave-v3"] = {"ethereum": {"provider": node.market.provider.address,
                                   "reserves": {"WETH": [node.market.tokens["WETH"].address, 18]}}}
    del raw["compound-v3"], raw["morpho"]  # a file of the same shape: only what it names is read
    path = tmp_path / "book.json"
    path.write_text(json.dumps(raw))
    rig = Rig(tmp_path, registry, presets, node.url, session, book=AddressBook.from_file(str(path)))
    wallet = borrower(node)
    _, text = await rig.say(f"/track {wallet}")
    assert "HF 1.650000" in text  # the lender's own: it counts the USDC debt the book does not name
    _, health = await rig.say("/health 1")
    assert "Not shown" in health  # and the answer says a leg is not listed
    rig.store.close()


@pytest.mark.parametrize("fault", ["frozen", "backwards", "malformed", "timeout"])
async def test_a_failed_read_pauses_warnings_once_and_says_restored_once(tmp_path, registry, presets, node, session, fault):
    rig, wallet = await followed(tmp_path, registry, presets, node, session)
    rig.rpc.timeout = 0.5
    node.state.fault = fault
    await rig.tick()  # a frozen head stops here
    node.market.set_price("WETH", 1_700)  # on chain the position is now liquidatable ...
    node.chain.mine()
    await rig.tick()
    await rig.tick(seconds=700)  # a head standing still this long is stale
    assert "worse" not in kinds(rig)  # ... but a read that failed never warns
    assert kinds(rig).count("degraded") == 1, kinds(rig)
    node.state.fault = None
    node.chain.mine()
    await rig.tick()
    await rig.tick()
    assert kinds(rig).count("restored") == 1 and "worse" in kinds(rig), kinds(rig)
    rig.store.close()


async def test_one_reverting_account_leaves_the_others_read(tmp_path, registry, presets, node, session):
    rig, wallet = await followed(tmp_path, registry, presets, node, session)
    other = node.chain.accounts[3]
    node.market.supply(other, "WETH", 5)
    node.market.borrow(other, "USDC", 1_000)
    _, text = await rig.say(f"/track {other}", who="bob")
    assert "added" in text
    node.state.fault = f"revert:{wallet}"
    node.market.repay(other, "USDC", 500)
    await rig.tick()
    bob = next(link for link in rig.store.chain_links() if link.address == other.lower())
    assert bob.reading["debt_usd"] == pytest.approx(500, abs=1)  # read fine
    alice = next(link for link in rig.store.chain_links() if link.address == wallet.lower())
    assert alice.reading.get("failed")  # hers kept its last reading, marked failed
    rig.store.close()


def _bundled() -> dict:
    from importlib import resources
    return json.loads(resources.files("core.chain").joinpath("data/addresses.json").read_text())



async def test_a_slow_chain_is_cut_off_and_paused_instead_of_holding_up_every_warning(tmp_path, registry, presets, node,
                                                                                       session):
    rig, wallet = await followed(tmp_path, registry, presets, node, session)
    rig.tracker.budget = 0.2  # one aggregate3 answered 0.3 s late does not fit
    node.state.fault = "slow"
    node.market.set_price("WETH", 1_700)
    node.chain.mine()
    await rig.tick()
    assert "worse" not in kinds(rig) and kinds(rig).count("degraded") == 1, kinds(rig)
    assert "no complete answer within" in rig.tracker.chains["ethereum"].error
    rig.store.close()
