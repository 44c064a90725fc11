"""The real python-telegram-bot against the Telegram Bot API emulator: updates in, messages out, faults mapped."""

from __future__ import annotations

import asyncio
import time
import warnings

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.emulators.telegram import ANONYMOUS_ADMIN_ID, TelegramEmulator

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter int -> timedelta


def seconds(value) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB settings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def build_app(emu: TelegramEmulator, timeout: float = 5.0) -> Application:
    """A PTB Application pointed at the emulator."""
    return (ApplicationBuilder().token(emu.token).base_url(f"{emu.root}/bot").base_file_url(f"{emu.root}/file/bot")
            .read_timeout(timeout).write_timeout(timeout).connect_timeout(timeout).build())


@pytest.fixture
async def emu(monkeypatch):
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    emulator = TelegramEmulator()
    await emulator.start()
    yield emulator
    await emulator.close()


@pytest.fixture
async def app(emu):
    """An initialized Application (getMe done), not polling: for direct bot calls."""
    application = build_app(emu, timeout=2.0)
    async with application:
        yield application


# ---------------------------------------------------------------- a polling bot end to end


async def test_echo_bot_commands_buttons_and_edits(emu):
    presses: list[tuple[str, int]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Again", callback_data="again")]])
        await update.effective_message.reply_text(f"hello {update.effective_user.first_name}", reply_markup=buttons)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        presses.append((query.data, query.from_user.id))
        await query.answer("done")
        await query.edit_message_text(f"<b>pressed</b> {query.data} by {query.from_user.first_name}", parse_mode=ParseMode.HTML)

    application = build_app(emu)
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(pressed))
    alice, bob = emu.user(1001, "Alice", "alice"), emu.user(1002, "Bob")
    private, group = emu.private_chat(alice), emu.group_chat(-1001234567890, "Borrowers", supergroup=True)

    async with application:
        await application.updater.start_polling(poll_interval=0, timeout=1)
        await application.start()
        try:
            emu.send_text(private, alice, "/start")
            emu.send_text(group, bob, "/start@other_bot")  # addressed to another bot: ignored
            emu.send_text(group, bob, "/start@collateral_bot")
            hello = await emu.wait_for(lambda m: m["chat"]["id"] == 1001 and m["text"] == "hello Alice")
            await emu.wait_for(lambda m: m["chat"]["id"] == group["id"] and m["text"] == "hello Bob")
            assert hello["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "again"
            assert hello["from"]["id"] == emu.bot_id

            emu.press_button(private, alice, hello["message_id"], "again")
            edited = await emu.wait_for(lambda m: m["message_id"] == hello["message_id"] and m["text"].startswith("pressed"))
        finally:
            await application.updater.stop()
            await application.stop()

    assert presses == [("again", 1001)]
    assert edited["text"] == "pressed again by Alice" and edited["source"].startswith("<b>pressed</b>")
    assert "reply_markup" not in edited  # a text edit without a keyboard removes it, as on Telegram
    assert [a["text"] for a in emu.callback_answers] == ["done"]
    assert [m["text"] for m in emu.messages(group["id"])] == ["hello Bob"]
    methods = [name for name, _ in emu.calls]
    assert methods[:2] == ["getMe", "deleteWebhook"] and "getUpdates" in methods and "editMessageText" in methods


async def test_anonymous_admin_command_arrives_as_the_group(emu):
    seen = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        seen.append((update.effective_user.id, message.sender_chat.id if message.sender_chat else None))
        await message.reply_text("seen")

    application = build_app(emu)
    application.add_handler(CommandHandler("start", start))
    group = emu.group_chat(-42, "Old group")
    async with application:
        await application.updater.start_polling(poll_interval=0, timeout=1)
        await application.start()
        try:
            emu.send_anonymous_admin_command(group, "/start")
            await emu.wait_for(lambda m: m["chat"]["id"] == -42)
        finally:
            await application.updater.stop()
            await application.stop()
    assert seen == [(ANONYMOUS_ADMIN_ID, -42)]


# ---------------------------------------------------------------- faults map to PTB's exceptions


async def test_faults_map_to_ptb_exceptions(emu, app):
    emu.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(RetryAfter) as retry:
        await app.bot.send_message(1, "x")
    assert seconds(retry.value.retry_after) == 3

    emu.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden):
        await app.bot.send_message(1, "x")

    emu.fail_next("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await app.bot.send_message(1, "x")

    emu.fail_next("sendMessage", 400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=-1009)
    with pytest.raises(ChatMigrated) as migrated:
        await app.bot.send_message(-9, "x")
    assert migrated.value.new_chat_id == -1009

    emu.fail_next("sendMessage", 403, "Forbidden: bot was kicked", chat_id=7, times=2)
    await app.bot.send_message(8, "other chats are fine")
    for _ in range(2):
        with pytest.raises(Forbidden):
            await app.bot.send_message(7, "x")
    await app.bot.send_message(7, "the fault is used up")
    assert [m["text"] for m in emu.sent] == ["other chats are fine", "the fault is used up"]
    assert len(emu.calls) == 1 + 8  # getMe, then every call (failed ones too)


async def test_a_late_answer_is_timed_out_but_may_still_be_delivered(emu, app):
    emu.delay_next("sendMessage", 0.6)
    with pytest.raises(TimedOut):
        await app.bot.send_message(5, "late", read_timeout=0.2, write_timeout=0.2)
    await emu.wait_for(lambda m: m["text"] == "late", timeout=2)  # Telegram got it anyway


async def test_wrong_token_and_unknown_method(emu, app):
    stranger = Bot("999:WRONG", base_url=f"{emu.root}/bot", base_file_url=f"{emu.root}/file/bot")
    with pytest.raises(InvalidToken):
        async with stranger:
            pass
    with pytest.raises(EndPointNotFound):  # the emulator's 404 "method not found"
        await app.bot.do_api_request("noSuchMethod")


async def test_emulated_refusals_blocked_kicked_migrated_html_and_not_modified(emu, app):
    alice = emu.user(1, "Alice")
    emu.block(alice["id"])
    with pytest.raises(Forbidden, match="(?i)blocked"):
        await app.bot.send_message(1, "x")
    group = emu.group_chat(-5, "G")
    emu.set_member(group["id"], emu.bot_id, "kicked")
    with pytest.raises(Forbidden, match="(?i)kicked"):
        await app.bot.send_message(-5, "x")
    emu.migrate(-6, -1006)
    with pytest.raises(ChatMigrated) as migrated:
        await app.bot.send_message(-6, "x")
    assert migrated.value.new_chat_id == -1006

    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await app.bot.send_message(2, "1 < 2 <b>bold</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await app.bot.send_message(2, "<b>cut in the middle", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)too long"):
        await app.bot.send_message(2, "x" * 4097)
    sent = await app.bot.send_message(2, "<b>Health</b> 1 &lt; 2", parse_mode=ParseMode.HTML)
    assert sent.text == "Health 1 < 2"
    with pytest.raises(BadRequest, match="(?i)not modified"):  # it has no keyboard to remove
        await app.bot.edit_message_reply_markup(2, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await app.bot.answer_callback_query("12345")


# ---------------------------------------------------------------- members, commands, files, webhook


async def test_get_chat_member_answers_per_set_member(emu, app):
    group = emu.group_chat(-100777, "Lenders", supergroup=True)
    owner, admin, member = emu.user(1, "Olga"), emu.user(2, "Adam", "adam"), emu.user(3, "Mia")
    emu.set_member(group["id"], owner["id"], "creator")
    emu.set_member(group["id"], admin["id"], "administrator", anonymous=True)
    emu.set_member(group["id"], 4, "kicked")

    got_owner = await app.bot.get_chat_member(group["id"], owner["id"])
    got_admin = await app.bot.get_chat_member(group["id"], admin["id"])
    got_member = await app.bot.get_chat_member(group["id"], member["id"])
    got_unknown = await app.bot.get_chat_member(group["id"], 99)
    got_kicked = await app.bot.get_chat_member(group["id"], 4)
    assert isinstance(got_owner, ChatMemberOwner) and got_owner.user.first_name == "Olga"
    assert isinstance(got_admin, ChatMemberAdministrator) and got_admin.is_anonymous and got_admin.can_delete_messages
    assert got_admin.user.username == "adam"
    assert isinstance(got_member, ChatMemberMember) and isinstance(got_unknown, ChatMemberMember)
    assert isinstance(got_kicked, ChatMemberBanned)
    admins = await app.bot.get_chat_administrators(group["id"])
    assert sorted(a.user.id for a in admins) == [1, 2]


async def test_set_my_commands_is_recorded(emu, app):
    await app.bot.set_my_commands([BotCommand("health", "Health of a position"), BotCommand("help", "What I can do")])
    assert emu.my_commands == [{"command": "health", "description": "Health of a position"},
                               {"command": "help", "description": "What I can do"}]
    await app.bot.set_my_commands([BotCommand("alerts", "Group alerts")], scope=BotCommandScopeAllGroupChats())
    assert emu.my_commands == [{"command": "alerts", "description": "Group alerts"}]
    assert [c.command for c in await app.bot.get_my_commands()] == ["health", "help"]
    assert [c.command for c in await app.bot.get_my_commands(scope=BotCommandScopeAllGroupChats())] == ["alerts"]
    with pytest.raises(BadRequest):
        await app.bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_send_document_records_file_name_and_size(emu, app):
    content = b"date,health\n2024-01-01,1.5\n" * 10
    message = await app.bot.send_document(1001, InputFile(content, filename="history.csv"), caption="Your history")
    assert message.document.file_name == "history.csv" and message.document.file_size == len(content)
    record = emu.messages(1001)[-1]
    assert record["file_name"] == "history.csv" and record["size"] == len(content)
    assert record["document"]["file_name"] == "history.csv" and record["caption"] == "Your history"
    assert emu.calls[-1][1]["document"] == {"file_name": "history.csv", "size": len(content)}
    downloaded = await (await app.bot.get_file(message.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content

    photo = await app.bot.send_photo(1001, InputFile(b"\x89PNG fake", filename="chart.png"))
    assert photo.photo[-1].file_size == 9 and emu.sent[-1]["file_name"] == "chart.png"


async def test_webhook_is_recorded_and_blocks_get_updates(emu, app):
    await app.bot.set_webhook("https://example.invalid/telegram", secret_token="s3cret", allowed_updates=["message"])
    assert emu.webhook["url"] == "https://example.invalid/telegram" and emu.webhook["secret_token"] == "s3cret"
    with pytest.raises(Conflict):
        await app.bot.get_updates(timeout=0)
    await app.bot.delete_webhook()
    assert emu.webhook is None and await app.bot.get_updates(timeout=0) == ()


async def test_long_poll_wakes_on_injection_honours_offset_and_close_is_fast(emu, app):
    user = emu.user(5, "Eve")
    chat = emu.private_chat(user)
    first = emu.send_text(chat, user, "/health 1")
    updates = await app.bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [first]
    entity = updates[0].message.entities[0]
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 7)

    asyncio.get_running_loop().call_later(0.1, emu.send_text, chat, user, "later")
    began = time.monotonic()
    updates = await app.bot.get_updates(offset=first + 1, timeout=5, read_timeout=10)
    assert [u.message.text for u in updates] == ["later"] and time.monotonic() - began < 3

    pending = asyncio.create_task(app.bot.get_updates(offset=updates[0].update_id + 1, timeout=30, read_timeout=40))
    await asyncio.sleep(0.1)
    began = time.monotonic()
    await emu.close()
    assert time.monotonic() - began < 3
    assert await pending == ()


# ---------------------------------------------------------------- Telegram's sending limits


async def test_enforced_limits_refuse_bursts(emu, app):
    emu.enforce_limits()
    results = await asyncio.gather(*(app.bot.send_message(2000 + i, f"m{i}") for i in range(40)), return_exceptions=True)
    refusals = [r for r in results if isinstance(r, Exception)]
    assert refusals and all(isinstance(r, RetryAfter) and seconds(r.retry_after) >= 1 for r in refusals)
    assert emu.refused == len(refusals) and len(emu.sent) + emu.refused == 40 and len(emu.sent) >= 30

    emu.enforce_limits()  # fresh counters
    await app.bot.send_message(3000, "first")
    with pytest.raises(RetryAfter):
        await app.bot.send_message(3000, "second")


async def test_deliver_webhook_posts_updates_with_the_secret(emu, app):
    received: list[tuple[str, dict]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), await request.json()))
        return web.Response(text="ok")

    server = web.Application()
    server.router.add_post("/telegram", hook)
    async with TestServer(server, host="127.0.0.1") as hook_server:
        await app.bot.set_webhook(f"http://127.0.0.1:{hook_server.port}/telegram", secret_token="s3cret")
        user = emu.user(9, "Ivy")
        update_id = emu.send_text(emu.private_chat(user), user, "/start")
        assert await emu.deliver_webhook() == [200]
        assert await emu.deliver_webhook() == []  # delivered updates are gone
    assert received == [("s3cret", {"update_id": update_id, "message": received[0][1]["message"]})]
    assert Update.de_json(received[0][1], app.bot).message.text == "/start"
