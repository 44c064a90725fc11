"""The Telegram adapter end to end: the real PTB, the composition root and the core, against loopback emulators."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from bot import logs
from bot.app import PlatformAdmins, build, run_chat_adapters
from bot.telegram_adapter import TelegramAdapter, TelegramAdmins, TelegramNotifier
from core.config import Settings
from core.lending.models import Owner
from tests.emulators.telegram import TelegramEmulator

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ALICE, BOB = 1001, 1002
GROUP = -100500


@dataclass
class World:
    emu: TelegramEmulator
    app: object
    adapter: TelegramAdapter
    prices: object

    async def say(self, chat: dict, user: dict, text: str, contains: str) -> dict:
        """A user sends a command; wait for the bot's reply in that chat containing `contains`."""
        before = len(self.emu.messages(chat["id"]))
        self.emu.send_text(chat, user, text)
        return await self.emu.wait_for(lambda m: m["chat"]["id"] == chat["id"] and contains in m["text"]
                                       and self.emu.messages(chat["id"]).index(m) >= before)

    async def tick(self) -> None:
        """One price tick, one warning tick, and deliver what is due."""
        await self.app.feed.tick()
        await self.app.monitor.tick()
        await self.app.dispatcher.deliver(patience=3.0)


def settings_for(tmp_path: Path, emu: TelegramEmulator, apis, **extra) -> Settings:
    return Settings.from_mapping({"DATABASE_PATH": str(tmp_path / "bot.db"), "TELEGRAM_BOT_TOKEN": emu.token,
                                  "TELEGRAM_API_BASE_URL": emu.root, **apis.env(), **extra})


@pytest.fixture
async def world(tmp_path, price_apis):
    emu = TelegramEmulator()
    await emu.start()
    settings = settings_for(tmp_path, emu, price_apis)
    async with build(settings) as app:
        admins = PlatformAdmins()
        app.assistant.admins = admins
        adapter = TelegramAdapter.build(emu.token, emu.root, app.assistant, app.outbox, timeout=2.0)
        admins.by_platform["telegram"] = TelegramAdmins(adapter.application)
        app.dispatcher.notifiers.append(TelegramNotifier(adapter.application, app.assistant.buttons))
        await adapter.start()
        try:
            yield World(emu, app, adapter, price_apis.world)
        finally:
            await adapter.stop()
    await emu.close()


def people(emu):
    alice, bob = emu.user(ALICE, "Alice", "alice"), emu.user(BOB, "Bob", "bob")
    return alice, bob, emu.private_chat(alice), emu.private_chat(bob), emu.group_chat(GROUP, "Borrowers")


async def test_private_chat_tour_and_command_menu(world):
    alice, _, dm, _, _ = people(world.emu)
    await world.say(dm, alice, "/start", "collateral-bot")
    await world.say(dm, alice, "/add 10 ETH borrow 15000 USDC on aave-v3 as <main>", "Added #1 (<main>)")
    reply = await world.say(dm, alice, "/health 1", "1.66")
    assert "$1,807.23" in reply["text"] and reply["parse_mode"] == "HTML"
    assert "&lt;main&gt;" in reply["source"] and "<main>" not in reply["source"]  # what users type is escaped
    await world.say(dm, alice, "/add -5 ETH", "amounts must be positive")
    names = {c["command"] for c in world.emu.my_commands}
    assert {"start", "add", "health", "watch", "snooze", "status"} <= names


async def test_a_miner_reads_the_projection_of_a_ledn_loan_in_telegram(world):
    alice, _, dm, _, _ = people(world.emu)
    await world.say(dm, alice, "/add 1 BTC borrow 30000 USD on ledn", "Added #1")
    await world.say(dm, alice, "/mining add 200 TH/s 17.5 J/TH power 0.06 pool 2%", "Fleet 1 added")
    reply = await world.say(dm, alice, "/mining 1 loan 1", "The loan, month by month")
    assert "Month 12" in reply["text"] and "margin call at 70% LTV" in reply["text"]
    assert "network from mempool.space" in reply["text"]


async def test_export_is_a_document(world):
    alice, _, dm, _, _ = people(world.emu)
    await world.say(dm, alice, "/add 1 ETH on aave-v3", "Added #1")
    world.emu.send_text(dm, alice, "/export")
    doc = await world.emu.wait_for(lambda m: m.get("file_name") == "collateral-bot-export.json")
    assert doc["size"] > 50


def tokens(message: dict) -> dict[str, str]:
    """A message's buttons: label -> callback data, each an opaque token the bot issued."""
    found = {b["text"]: b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row}
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", v) for v in found.values()), found  # no command in the clear
    return found


async def test_remove_asks_with_buttons_and_a_replayed_press_does_nothing(world):
    alice, bob, dm, bob_dm, _ = people(world.emu)
    await world.say(dm, alice, "/add 1 ETH on aave-v3", "Added #1")
    ask = await world.say(dm, alice, "/remove 1", "Remove #1")
    yes = tokens(ask)["Remove it"]
    # bob replays alice's callback data under a message of his own: the bot never issued it there, so nothing runs
    await world.say(bob_dm, bob, "/add 2 ETH on aave-v3", "Added #1")
    bob_msg = world.emu.messages(BOB)[-1]
    world.emu.press_button(bob_dm, bob, bob_msg["message_id"], yes)
    await world.emu.wait_for_answer(lambda a: "expired" in a.get("text", ""))
    assert world.app.store.positions(Owner("telegram", "user", str(BOB)))
    assert world.app.store.positions(Owner("telegram", "user", str(ALICE)))  # alice's position is untouched
    yes = tokens(ask)["Remove it"]
    world.emu.press_button(dm, alice, ask["message_id"], yes)
    await world.emu.wait_for(lambda m: m["message_id"] == ask["message_id"] and "Removed #1" in m["text"])
    assert any("Removed #1" in a.get("text", "") for a in world.emu.callback_answers)


async def test_group_watch_warning_buttons_and_who_may_press_them(world):
    alice, bob, dm, _, group = people(world.emu)
    await world.say(dm, alice, "/add 10 ETH borrow 15000 USDC on aave-v3", "Added #1")
    await world.say(group, alice, "/watch@collateral_bot 1", "W1: your #1")
    await world.say(group, bob, "/watch 1", "Only your own positions can be shared")
    world.emu.send_text(group, bob, "/health@someotherbot 1")  # not for us: no answer
    await world.tick()  # learn the level
    world.prices.prices["ETH"] = 2000.0
    await world.tick()
    warning = await world.emu.wait_for(lambda m: m["chat"]["id"] == GROUP and "DANGER" in m["text"])
    assert "W1 (alice's #1)" in warning["text"]
    buttons = tokens(warning)
    assert list(buttons) == ["Details", "Snooze 1h", "Snooze 24h"]
    await world.emu.wait_for(lambda m: m["chat"]["id"] == ALICE and "DANGER" in m["text"])  # and in alice's DM
    position = world.app.store.position(Owner("telegram", "user", str(ALICE)), 1)

    world.emu.press_button(group, bob, warning["message_id"], buttons["Snooze 1h"])
    await asyncio.sleep(0.3)
    assert any("Only the owner of W1" in a.get("text", "") for a in world.emu.callback_answers)
    assert world.app.store.alert_settings(position)["snoozed_until"] == 0.0

    world.emu.press_button(group, alice, warning["message_id"], buttons["Snooze 1h"])
    await asyncio.sleep(0.3)
    assert any("Snoozed W1 until" in a.get("text", "") for a in world.emu.callback_answers)
    assert world.app.store.alert_settings(position)["snoozed_until"] > 0
    assert not any(m["chat"]["id"] == GROUP and "Only the owner" in m["text"] for m in world.emu.sent)  # a pop-up only


async def test_anonymous_admins_are_asked_to_use_their_own_account(world):
    _, _, _, _, group = people(world.emu)
    world.emu.send_anonymous_admin_command(group, "/add 10 ETH on aave-v3")
    await world.emu.wait_for(lambda m: m["chat"]["id"] == GROUP and "anonymous admin" in m["text"])


async def test_group_positions_need_an_admin_at_the_moment(world):
    alice, bob, _, _, group = people(world.emu)
    await world.say(group, bob, "/add 10 ETH on aave-v3", "Only this group's admins")
    world.emu.set_member(GROUP, BOB, "administrator")
    await world.say(group, bob, "/add 10 ETH borrow 1000 USDC on aave-v3 as treasury", "Added #1 (treasury)")
    world.emu.set_member(GROUP, BOB, "member")
    await world.say(group, bob, "/remove 1 yes", "Only this group's admins")


async def test_delivery_errors_are_mapped(world):
    alice, bob, dm, bob_dm, _ = people(world.emu)
    await world.say(dm, alice, "/add 10 ETH borrow 15000 USDC on aave-v3", "Added #1")
    await world.say(bob_dm, bob, "/add 10 ETH borrow 15000 USDC on aave-v3", "Added #1")
    await world.tick()
    world.emu.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", chat_id=ALICE, retry_after=1)
    world.emu.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=BOB)
    world.prices.prices["ETH"] = 2000.0
    started = asyncio.get_running_loop().time()
    await world.tick()
    await world.emu.wait_for(lambda m: m["chat"]["id"] == ALICE and "DANGER" in m["text"])
    assert asyncio.get_running_loop().time() - started >= 1.0  # waited out retry_after
    assert ("telegram:1002", "Forbidden: Forbidden: bot was blocked by the user") in world.app.outbox.disabled_destinations()
    await world.say(bob_dm, bob, "/status", "Status")  # talking again re-enables bob's chat
    assert world.app.outbox.disabled_destinations() == []


async def test_a_group_that_became_a_supergroup_is_followed(world):
    alice, _, _, _, group = people(world.emu)
    world.emu.set_member(GROUP, ALICE, "creator")
    await world.say(group, alice, "/add 10 ETH borrow 15000 USDC on aave-v3", "Added #1")
    await world.tick()
    world.emu.migrate(GROUP, -1001234)
    world.prices.prices["ETH"] = 2000.0
    await world.tick()
    await world.emu.wait_for(lambda m: m["chat"]["id"] == -1001234 and "DANGER" in m["text"])
    assert world.app.store.positions(Owner("telegram", "group", "-1001234"))  # the group's position moved with it


async def test_no_token_in_any_log_at_debug(tmp_path, price_apis, capsys):
    emu = TelegramEmulator()
    await emu.start()
    settings = settings_for(tmp_path, emu, price_apis, LOG_LEVEL="DEBUG")
    logs.setup(settings, "DEBUG")
    try:
        async with build(settings) as app:
            adapter = TelegramAdapter.build(emu.token, emu.root, app.assistant, app.outbox, timeout=2.0)
            app.dispatcher.notifiers.append(TelegramNotifier(adapter.application, app.assistant.buttons))
            await adapter.start()
            alice = emu.user(ALICE, "Alice")
            emu.send_text(emu.private_chat(alice), alice, "/price ETH")
            await emu.wait_for(lambda m: "ETH" in m["text"])
            emu.fail_next("sendMessage", 400, "Bad Request: chat not found", chat_id=ALICE)
            await app.dispatcher.deliver()
            await adapter.stop()
    finally:
        logging.getLogger().handlers.clear()
        await emu.close()
    err = capsys.readouterr().err
    assert "getUpdates" in err or "HTTP Request" in err, "debug logging was on"
    assert emu.token not in err and emu.token.split(":")[1] not in err


async def test_webhook_mode_with_a_secret(tmp_path, price_apis):
    emu = TelegramEmulator()
    await emu.start()
    settings = settings_for(tmp_path, emu, price_apis)
    async with build(settings) as app:
        adapter = TelegramAdapter.build(emu.token, emu.root, app.assistant, app.outbox, webhook=True, timeout=2.0)
        web_app = web.Application()
        web_app.add_routes([adapter.webhook_route("s3cret")])
        runner = web.AppRunner(web_app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        await adapter.start(f"http://127.0.0.1:{port}/telegram", "s3cret")
        try:
            assert emu.webhook["secret_token"] == "s3cret"
            alice = emu.user(ALICE, "Alice")
            emu.send_text(emu.private_chat(alice), alice, "/start")
            assert await emu.deliver_webhook() == [200]
            await emu.wait_for(lambda m: "collateral-bot" in m["text"])
            emu.webhook["secret_token"] = "wrong"
            emu.send_text(emu.private_chat(alice), alice, "/help")
            assert await emu.deliver_webhook() == [403]
        finally:
            await adapter.stop()
            await runner.cleanup()
    await emu.close()


async def test_the_real_collateral_bot_run_process(tmp_path, price_apis):
    emu = TelegramEmulator()
    await emu.start()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(DATABASE_PATH=str(tmp_path / "bot.db"), TELEGRAM_BOT_TOKEN=emu.token, TELEGRAM_API_BASE_URL=emu.root,
               NO_PROXY="127.0.0.1,localhost", **price_apis.env())
    proc = await asyncio.create_subprocess_exec(str(Path(sys.executable).parent / "collateral-bot"), "run", env=env, cwd=tmp_path,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        alice = emu.user(ALICE, "Alice")
        emu.send_text(emu.private_chat(alice), alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
        await emu.wait_for(lambda m: "Added #1" in m["text"], timeout=20)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        await emu.close()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert emu.token not in (out + err).decode()


async def test_a_chart_is_sent_as_a_photo(world):
    alice, _, dm, _, _ = people(world.emu)
    await world.say(dm, alice, "/add 10 ETH borrow 15000 USDC on aave-v3", "Added #1")
    world.emu.send_text(dm, alice, "/chart 1 whatif")
    photo = await world.emu.wait_for(lambda m: "photo" in m)
    assert photo["size"] > 10_000


async def test_an_edited_command_does_not_run_again(world):
    alice, _, dm, _, _ = people(world.emu)
    await world.say(dm, alice, "/add 10 ETH borrow 1000 USDC on aave-v3", "Added #1")
    world.emu.send_text(dm, alice, "/borrow 1 500 USDC")
    await world.emu.wait_for(lambda m: "Borrowed 500 USDC" in m["text"])
    world.emu.edit_last(dm, alice, "/borrow 1 600 USDC")
    await world.say(dm, alice, "/health 1", "1,500 USDC")  # still 1,000 + 500: the edit was not a new command
    assert not any("Borrowed 600" in m["text"] for m in world.emu.messages(ALICE))


async def test_a_flood_gets_one_slow_down_and_then_silence(tmp_path, price_apis):
    emu = TelegramEmulator()
    await emu.start()
    settings = settings_for(tmp_path, emu, price_apis, USER_COMMANDS_PER_MINUTE="6")
    stop = asyncio.Event()
    runner = asyncio.create_task(run_chat_adapters(settings, stop))
    try:
        alice = emu.user(ALICE, "Alice")
        dm = emu.private_chat(alice)
        for _ in range(6):  # a burst of a third of a minute's worth is taken, then the rest is refused
            emu.send_text(dm, alice, "/help")
        await emu.wait_for(lambda m: "more commands than I take" in m["text"], timeout=20)
        await asyncio.sleep(0.5)
        texts = [m["text"] for m in emu.messages(ALICE)]
        assert sum("more commands than I take" in t for t in texts) == 1 and len(texts) == 3
    finally:
        stop.set()
        await asyncio.wait_for(runner, 20)
        await emu.close()


async def test_a_warning_too_long_for_one_message_keeps_the_most_urgent(world):
    alice, _, dm, _, _ = people(world.emu)
    for i in range(40):
        await world.say(dm, alice, f"/add 10 ETH borrow {15000 + i * 10} USDC on aave-v3", f"Added #{i + 1}")
    await world.tick()
    world.prices.prices["ETH"] = 2000.0
    await world.tick()
    warning = await world.emu.wait_for(lambda m: m["chat"]["id"] == ALICE and "40 positions changed" in m["text"])
    assert len(warning["text"]) <= 4096 and "more: /positions shows them all" in warning["text"]
    assert "#40" in warning["text"]  # the most indebted, so the most urgent, comes first
    assert world.app.outbox.dead_letters() == []


async def test_a_revoked_token_pauses_all_of_telegram_instead_of_failing_each_warning(world):
    alice, bob, dm, bob_dm, _ = people(world.emu)
    await world.say(dm, alice, "/add 10 ETH borrow 15000 USDC on aave-v3", "Added #1")
    await world.say(bob_dm, bob, "/add 10 ETH borrow 15100 USDC on aave-v3", "Added #1")
    await world.tick()
    world.emu.fail_next("sendMessage", 401, "Unauthorized")  # whichever warning goes first
    world.prices.prices["ETH"] = 2000.0
    await world.app.feed.tick()
    await world.app.monitor.tick()
    sends = len([c for c in world.emu.calls if c[0] == "sendMessage"])
    await world.app.dispatcher.deliver(patience=0.5)
    # one request met the 401; the other warning was not tried with a token Telegram refuses
    assert len([c for c in world.emu.calls if c[0] == "sendMessage"]) == sends + 1
    assert world.app.outbox.dead_letters() == [] and world.app.outbox.counts()["pending"] == 2


# ---------------------------------------------------------------- buttons that cannot be forged or go stale


async def test_forged_callback_data_changes_nothing(world):
    """A non-admin pressing data the bot never put on a message (a command, or the old 'noop') in a group."""
    alice, bob, dm, _, group = people(world.emu)
    world.emu.set_member(GROUP, ALICE, "creator")
    ask = await world.say(group, alice, "/add 1 ETH on aave-v3", "Added #1")
    ask = await world.say(group, alice, "/remove 1", "Remove #1")
    edits_before = [c for c, _ in world.emu.calls if c.startswith("editMessage")]
    for forged in ("/yield USDC chain yes", "noop", "/remove 1 yes", "A" * 22):
        seen = len(world.emu.callback_answers)
        world.emu.press_button(group, bob, ask["message_id"], forged)
        await world.emu.wait_for_answer(lambda a, seen=seen: "expired" in (a.get("text") or "")
                                        and world.emu.callback_answers.index(a) >= seen)
    await asyncio.sleep(0.2)
    assert [c for c, _ in world.emu.calls if c.startswith("editMessage")] == edits_before  # the message and its buttons stay
    assert world.app.store.positions(Owner("telegram", "group", str(GROUP)))
    # a real token from this message, pressed by someone other than who asked: refused too
    world.emu.press_button(group, bob, ask["message_id"], tokens(ask)["Keep it"])
    await world.emu.wait_for_answer(lambda a: "for the person who asked" in (a.get("text") or ""))
    assert [c for c, _ in world.emu.calls if c.startswith("editMessage")] == edits_before


async def test_a_stale_remove_button_never_removes_another_position(world):
    alice, _, dm, _, group = people(world.emu)
    await world.say(dm, alice, "/add 1 ETH on aave-v3 as old", "Added #1 (old)")
    ask = await world.say(dm, alice, "/remove 1", "Remove #1")
    await world.say(dm, alice, "/forget yes", "Done: deleted 1 position")
    await world.say(dm, alice, "/add 2 ETH on aave-v3 as new", "Added #1 (new)")
    world.emu.press_button(dm, alice, ask["message_id"], tokens(ask)["Remove it"])
    await world.emu.wait_for_answer(lambda a: "no longer works" in (a.get("text") or ""))
    [left] = world.app.store.positions(Owner("telegram", "user", str(ALICE)))
    assert left.label == "new"
    # the same for a group admin: the group's #1 was replaced, the old button acts on nothing
    world.emu.set_member(GROUP, ALICE, "creator")
    await world.say(group, alice, "/add 1 ETH on aave-v3 as vault", "Added #1 (vault)")
    ask = await world.say(group, alice, "/remove 1", "Remove #1")
    await world.say(group, alice, "/forget yes", "Done: deleted 1 position")
    await world.say(group, alice, "/add 3 ETH on aave-v3 as treasury", "Added #1 (treasury)")
    world.emu.press_button(group, alice, ask["message_id"], tokens(ask)["Remove it"])
    await world.emu.wait_for_answer(lambda a: "no longer works" in (a.get("text") or "") and a is not world.emu.callback_answers[0])
    assert [p.label for p in world.app.store.positions(Owner("telegram", "group", str(GROUP)))] == ["treasury"]


async def test_w_numbers_are_never_reused_and_an_old_details_button_shows_nothing(world):
    alice, bob, dm, bob_dm, group = people(world.emu)
    carol = world.emu.user(1003, "Carol", "carol")
    carol_dm = world.emu.private_chat(carol)
    await world.say(dm, alice, "/add 10 ETH borrow 15000 USDC on aave-v3", "Added #1")
    await world.say(bob_dm, bob, "/add 10 ETH borrow 16000 USDC on aave-v3", "Added #1")
    await world.say(carol_dm, carol, "/add 10 ETH borrow 17000 USDC on aave-v3", "Added #1")
    await world.say(group, alice, "/watch 1", "W1: your #1")
    await world.say(group, bob, "/watch 1", "W2: your #1")
    await world.tick()
    world.prices.prices["ETH"] = 2000.0
    await world.tick()
    warning = await world.emu.wait_for(lambda m: m["chat"]["id"] == GROUP and "W2 (bob's #1)" in m["text"])
    await world.say(group, bob, "/unwatch W2", "no longer receives warnings for W2")
    reply = await world.say(group, carol, "/watch 1", "your #1")
    assert reply["text"].startswith("W3: your #1")  # not W2 again
    details = [t for label, t in tokens(warning).items() if label == "Details"][0]
    world.emu.press_button(group, alice, warning["message_id"], details)
    await world.emu.wait_for_answer(lambda a: "no longer works" in (a.get("text") or ""))
    assert not any(m["chat"]["id"] == GROUP and "carol" in m["text"] and m["message_id"] > warning["message_id"]
                   for m in world.emu.sent if "W3" not in m["text"])


# ---------------------------------------------------------------- delivery that heals; facts that stay private


async def test_a_group_that_refused_heals_when_the_bot_is_back_or_the_owner_watches_again(world):
    alice, bob, dm, _, group = people(world.emu)
    await world.say(dm, alice, "/add 10 ETH borrow 15000 USDC on aave-v3", "Added #1")
    await world.say(group, alice, "/watch 1", "W1: your #1")
    await world.tick()
    world.emu.bot_membership(group, bob, "kicked")  # bob removes the bot: Telegram says so, and sends then fail
    await asyncio.sleep(0.3)
    await world.app.dispatcher.deliver(patience=1.0)
    stopped = await world.emu.wait_for(lambda m: m["chat"]["id"] == ALICE and "DELIVERY STOPPED" in m["text"])
    assert "Borrowers" in stopped["text"] and "telegram:" not in stopped["text"]  # the group's title, not our key
    world.prices.prices["ETH"] = 2000.0
    await world.tick()
    assert not any(m["chat"]["id"] == GROUP and "DANGER" in m["text"] for m in world.emu.sent)
    world.emu.bot_membership(group, bob, "member", old="kicked")  # added back
    await asyncio.sleep(0.3)
    await world.app.dispatcher.deliver(patience=1.0)
    await world.emu.wait_for(lambda m: m["chat"]["id"] == ALICE and "DELIVERY RESTARTED" in m["text"] and "Borrowers" in m["text"])
    world.prices.prices["ETH"] = 1700.0
    await world.tick()
    await world.emu.wait_for(lambda m: m["chat"]["id"] == GROUP and "LIQUIDATABLE" in m["text"])

    # a send refused without a word from Telegram: the owner's /watch there restarts it, as the DM promised
    world.prices.prices["ETH"] = 2400.0  # out of liquidation (no message), then back in: refused
    await world.tick()
    world.emu.fail_next("sendMessage", 403, "Forbidden: bot is not a member of the group chat", chat_id=GROUP)
    world.prices.prices["ETH"] = 1700.0
    await world.tick()
    stopped = await world.emu.wait_for(lambda m: m["chat"]["id"] == ALICE and "DELIVERY STOPPED" in m["text"]
                                       and "not a member" in m["text"])
    assert "/watch 1 in it" in stopped["text"]
    reply = await world.say(group, alice, "/watch 1", "W1: your #1")
    assert "they restart now" in reply["text"]
    world.prices.prices["ETH"] = 2400.0
    await world.tick()
    world.prices.prices["ETH"] = 1700.0
    await world.tick()
    await world.emu.wait_for(lambda m: m["chat"]["id"] == GROUP and "LIQUIDATABLE" in m["text"]
                             and world.emu.messages(GROUP).index(m) > world.emu.messages(GROUP).index(reply))


async def test_status_in_a_group_says_nothing_of_a_members_direct_messages(world):
    alice, bob, dm, _, group = people(world.emu)
    await world.say(dm, alice, "/add 10 ETH borrow 15000 USDC on aave-v3", "Added #1")
    await world.tick()
    world.emu.block(ALICE)
    world.prices.prices["ETH"] = 2000.0
    await world.tick()
    assert [k for k, _ in world.app.outbox.disabled_destinations()] == [f"telegram:{ALICE}"]
    reply = await world.say(group, alice, "/status", "Status")
    assert "Not delivering" not in reply["text"] and "Forbidden" not in reply["text"] and "Undelivered" not in reply["text"]


async def test_display_names_are_cleaned_before_a_group_sees_them(world):
    _, _, _, _, group = people(world.emu)
    mallory = world.emu.user(1009, "\u202eecilA\u202c\u200b")  # renders as "Alice" reversed-in-place, with a hidden tail
    await world.say(world.emu.private_chat(mallory), mallory, "/add 10 ETH borrow 15000 USDC on aave-v3", "Added #1")
    await world.say(group, mallory, "/watch 1", "W1: your #1")
    watching = await world.say(group, mallory, "/watching", "W1")
    assert "ecilA's #1" in watching["text"] and not any(c in watching["text"] for c in "\u202e\u202c\u200b")
    await world.tick()
    world.prices.prices["ETH"] = 2000.0
    await world.tick()
    warning = await world.emu.wait_for(lambda m: m["chat"]["id"] == GROUP and "DANGER" in m["text"])
    assert "W1 (ecilA's #1)" in warning["text"] and not any(c in warning["text"] for c in "\u202e\u202c\u200b")


async def test_two_members_flooding_a_group_do_not_lock_out_the_admin(world):
    from core.chat.ratelimit import CommandLimiter

    world.app.assistant.limiter = CommandLimiter(world.app.clock, 30, 60)  # as `collateral-bot run` sets it
    alice, bob, _, _, group = people(world.emu)
    admin = world.emu.user(1005, "Admin", "admin")
    world.emu.set_member(GROUP, 1005, "creator")
    for _ in range(25):
        world.emu.send_text(group, alice, "/help")
        world.emu.send_text(group, bob, "/help")
    await world.emu.wait_for(lambda m: m["chat"]["id"] == GROUP and "more commands than I take" in m["text"])
    await asyncio.sleep(0.5)
    reply = await world.say(group, admin, "/status", "Status")
    assert reply["chat"]["id"] == GROUP


async def test_a_queued_chart_is_announced_then_delivered(world):
    import time as clock

    alice, _, dm, _, _ = people(world.emu)
    await world.say(dm, alice, "/add 10 ETH borrow 15000 USDC on aave-v3", "Added #1")
    busy = asyncio.create_task(world.app.assistant.heavy.run("someone else", clock.sleep, 1.5))  # the worker is taken
    await asyncio.sleep(0.1)
    await world.say(dm, alice, "/chart 1 whatif", "Your chart is queued behind 1 other request")
    photo = await world.emu.wait_for(lambda m: m["chat"]["id"] == ALICE and m.get("file_name", "").endswith(".png"), timeout=20)
    assert photo["size"] > 1000
    await busy
