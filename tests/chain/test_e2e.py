"""The real `collateral-bot` processes following a wallet on the local chain: the console, and Telegram on its emulator."""

from __future__ import annotations

import asyncio
import codecs
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.chain.test_track import borrower
from tests.e2e.test_console import bot_env, console_script
from tests.emulators.telegram import TelegramEmulator

OTHER_CHAINS_OFF = {f"RPC_URL_{c}": "off" for c in ("ARBITRUM", "BASE", "OPTIMISM", "POLYGON")}  # no test leaves 127.0.0.1


class Output:
    """Everything a process prints, gathered as it comes, so a test can wait for the next thing."""

    def __init__(self, stream: asyncio.StreamReader):
        self.text = ""
        self.task = asyncio.create_task(self._gather(stream))

    async def _gather(self, stream: asyncio.StreamReader) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")()  # a chunk may end inside a character
        while chunk := await stream.read(4096):
            self.text += decoder.decode(chunk)

    async def wait(self, needle: str, after: int = 0, timeout: float = 30) -> int:
        """Wait until `needle` is printed after position `after`; returns where it ends."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while (at := self.text.find(needle, after)) < 0:
            if loop.time() > end or self.task.done():
                raise AssertionError(f"never saw {needle!r}; got:\n{self.text[-3000:]}")
            await asyncio.sleep(0.05)
        return at + len(needle)


class Console:
    """A real `collateral-bot console` process reading the local chain: type into it, wait for what it prints."""

    def __init__(self, proc: asyncio.subprocess.Process):
        assert proc.stdin is not None and proc.stdout is not None
        self.proc, self.out, self.stderr = proc, Output(proc.stdout), ""

    async def type(self, *lines: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(f"{line}\n" for line in lines).encode())
        await self.proc.stdin.drain()


@asynccontextmanager
async def console(node, price_apis, tmp_path, rpc_url: str | None = None) -> AsyncIterator[Console]:
    """The console against the local node (other chains off); at the end its input closes and it must exit 0."""
    env = bot_env(tmp_path, price_apis, RPC_URL_ETHEREUM=rpc_url or node.url, PRICE_INTERVAL_SECONDS="1",
                  **OTHER_CHAINS_OFF)
    proc = await asyncio.create_subprocess_exec(console_script(), "console", "--user", "alice", env=env, cwd=tmp_path,
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    chat = Console(proc)
    try:
        yield chat
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 30)
        await chat.out.task
        chat.stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    assert proc.returncode == 0


@asynccontextmanager
async def telegram(node, price_apis, tmp_path) -> AsyncIterator[TelegramEmulator]:
    """The real `collateral-bot run` on the Bot API emulator against the local node; it must stop cleanly on SIGTERM."""
    emu = TelegramEmulator()
    await emu.start()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(DATABASE_PATH=str(tmp_path / "bot.db"), TELEGRAM_BOT_TOKEN=emu.token, TELEGRAM_API_BASE_URL=emu.root,
               NO_PROXY="127.0.0.1,localhost", RPC_URL_ETHEREUM=node.url, PRICE_INTERVAL_SECONDS="1", **price_apis.env(),
               **OTHER_CHAINS_OFF)
    proc = await asyncio.create_subprocess_exec(str(Path(sys.executable).parent / "collateral-bot"), "run", env=env,
                                                cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        yield emu
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        await emu.close()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert emu.token not in (out + err).decode()


async def test_console_tracks_a_wallet_warns_when_the_oracle_falls_and_follows_a_repay(node, price_apis, tmp_path):
    wallet = borrower(node)
    async with console(node, price_apis, tmp_path, node.url + "/secret-key-123") as chat:
        out = chat.out
        await chat.type(f"/track {wallet}", "/health 1")
        at = await out.wait("1 position added")
        at = await out.wait("Lender's health factor  1.650000", at)
        node.market.set_price("WETH", 1_800)  # the lender's oracle falls; the market feed does not
        node.chain.mine()
        at = await out.wait("Prices: WETH Aave v3 oracle", at)  # the end of that /health
        at = await out.wait("LIQUIDATABLE: #1 (Ethereum wallet)", at)  # the warning, pushed without being asked
        at = await out.wait("health factor 0.99", at)  # the lender's oracle, not the market
        node.market.set_price("WETH", 3_000)
        node.market.repay(wallet, "USDC", 5_000)
        node.chain.mine()
        await asyncio.sleep(3)  # a few ticks
        await chat.type("/health 1", "/status")
        at = await out.wait("Lender's health factor  2.475000", at)
        at = await out.wait("Chains", at)
        await out.wait("Ethereum  http://127.0.0.1/…, block", at)  # the URL in use, its key masked
    everything = out.text + chat.stderr
    assert "secret-key-123" not in everything and "Traceback" not in everything


async def test_telegram_tracks_a_wallet_and_the_warning_lands_in_the_owners_chat(node, price_apis, tmp_path):
    wallet = borrower(node)
    async with telegram(node, price_apis, tmp_path) as emu:
        alice = emu.user(101, "Alice")
        emu.send_text(emu.private_chat(alice), alice, f"/track {wallet}")
        await emu.wait_for(lambda m: "1 position added" in m["text"] and "1.650000" in m["text"], timeout=30)
        node.market.set_price("WETH", 1_800)
        node.chain.mine()
        warned = await emu.wait_for(lambda m: "#1" in m["text"] and "health factor 0.99" in m["text"], timeout=30)
        assert wallet.lower() not in warned["text"].lower()


async def test_console_tells_once_when_the_wallet_was_liquidated(node, price_apis, tmp_path):
    wallet = borrower(node)
    async with console(node, price_apis, tmp_path) as chat:
        await chat.type(f"/track {wallet}")
        at = await chat.out.wait("1 position added")
        await asyncio.sleep(2)  # a tick or two: the log scan starts at the chain's head
        node.market.set_price("WETH", 1_700)
        node.market.liquidate(node.chain.accounts[7], wallet, "WETH", "USDC", 7_500)
        node.chain.mine(70)  # deeper than Ethereum's 64 confirmations
        at = await chat.out.wait("LIQUIDATED: #1 (Ethereum wallet)", at)
        at = await chat.out.wait("was liquidated on Aave v3 (Ethereum): 4.63235294 WETH taken, 7,500 USDC of debt repaid", at)
        await asyncio.sleep(3)  # more ticks: said once
        assert chat.out.text.count("was liquidated on") == 1


async def test_console_warns_an_hour_ahead_of_makers_oracle(node, price_apis, tmp_path):
    owner = node.chain.accounts[8]
    node.market.maker.open(owner, 10, 15_000)
    async with console(node, price_apis, tmp_path) as chat:
        await chat.type(f"/track {owner} on maker")
        at = await chat.out.wait("1 position added")
        node.market.maker.next_price(2_100)
        node.market.maker.poke_osm()
        at = await chat.out.wait("LIQUIDATABLE SOON: #1 (Ethereum wallet)", at)
        await chat.out.wait("Maker's price becomes $2,100.00; #1 (Ethereum wallet) will be liquidatable then", at)
        await asyncio.sleep(3)
        assert chat.out.text.count("Maker's price becomes") == 1


async def test_telegram_tells_the_owner_once_when_the_wallet_was_liquidated(node, price_apis, tmp_path):
    wallet = borrower(node)
    async with telegram(node, price_apis, tmp_path) as emu:
        alice = emu.user(101, "Alice")
        emu.send_text(emu.private_chat(alice), alice, f"/track {wallet}")
        await emu.wait_for(lambda m: "1 position added" in m["text"], timeout=30)
        await asyncio.sleep(2)  # a tick or two: the log scan starts at the head
        node.market.set_price("WETH", 1_700)
        node.market.liquidate(node.chain.accounts[7], wallet, "WETH", "USDC", 7_500)
        node.chain.mine(70)
        told = await emu.wait_for(lambda m: "was liquidated on Aave v3 (Ethereum)" in m["text"], timeout=30)
        assert "7,500 USDC of debt repaid" in told["text"] and "transaction 0x" in told["text"]
        await asyncio.sleep(3)
        assert sum("was liquidated on" in m.get("text", "") for m in emu.messages(alice["id"])) == 1


async def test_console_warns_when_a_liquity_v2_trove_falls_to_the_front_of_redemptions(node, price_apis, tmp_path):
    v2, a = node.market.bold, node.chain.accounts
    v2.open(a[1], "WETH", 20, 30_000, 0.03)
    mine = v2.open(a[2], "WETH", 5, 5_000, 0.04)
    async with console(node, price_apis, tmp_path) as chat:
        await chat.type(f"/track {a[2]} on liquity-v2")
        at = await chat.out.wait("1 position added")
        await chat.out.wait("Liquity v2 on Ethereum", at)
        v2.set_rate(a[2], "WETH", mine, 0.02)  # now under the 3 % trove: first in line
        node.chain.mine()
        at = await chat.out.wait("REDEMPTION RISK: #1", at)
        await chat.out.wait("Raising its rate from 2.00% to 3.10%", at)
        await chat.type("/health 1")
        await chat.out.wait("UNDER your line of 5.0%", at)
        await asyncio.sleep(3)  # more ticks: said once
        assert chat.out.text.count("REDEMPTION RISK: #1") == 1
