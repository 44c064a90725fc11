"""Telegram on python-telegram-bot: parse the update, make one core call, render the Reply as HTML."""

from __future__ import annotations

import html
import logging
import secrets
import warnings

from aiohttp import web
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from core.chat.assistant import Assistant
from core.chat.buttons import EXPIRED, ButtonBook
from core.chat.commands import COMMANDS
from core.chat.grammar import command_name
from core.lending.models import Actor, ChatRef, Owner
from core.replies import Reply
from core.watch.delivery import ChatMoved, MaybeDelivered, Rejected, RetryLater, Undeliverable
from core.watch.notices import Notice
from core.watch.outbox import Outbox

from .render import fitted_notice, html_text, split_message
from .telegram_request import AiohttpRequest

log = logging.getLogger(__name__)

ANONYMOUS_ADMIN = 1087968824  # Telegram's "GroupAnonymousBot": an admin posting as the group
UNAUTHORIZED_PAUSE = 600.0  # seconds without any Telegram send after a 401
# all the bot handles (its own membership tells when it may post in a group again); edits and channel posts are not asked for
UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]


def _seconds(retry_after) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB settings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def keyboard(reply: Reply, tokens: tuple[str, ...]) -> InlineKeyboardMarkup | None:
    """Buttons as an inline keyboard; each carries only its token (core.chat.buttons says what it stands for)."""
    buttons = [InlineKeyboardButton(b.label, callback_data=token) for b, token in zip(reply.buttons, tokens, strict=False)]
    return InlineKeyboardMarkup([buttons]) if buttons else None


def chat_ref(chat) -> ChatRef:
    """The core's address of a Telegram chat."""
    return ChatRef("telegram", str(chat.id), chat.type in (ChatType.GROUP, ChatType.SUPERGROUP))


class TelegramAdmins:
    """core.ports.ChatAdmins over getChatMember, asked at the moment of each action."""

    def __init__(self, application: Application):
        self.application = application

    async def is_admin(self, chat: ChatRef, user: Owner, right: str = "positions") -> bool:
        """Creator or administrator of the group right now (both rights on Telegram)."""
        if chat.platform != "telegram" or user.platform != "telegram":
            return False
        try:
            member = await self.application.bot.get_chat_member(int(chat.chat_id), int(user.id))
        except TelegramError as err:
            log.warning("could not ask Telegram who administers %s: %s", chat.key, type(err).__name__)
            return False
        return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


class TelegramNotifier:
    """core.watch.delivery.Notifier for Telegram, mapping its errors as docs/operations.md says."""

    platform = "telegram"

    def __init__(self, application: Application, buttons: ButtonBook):
        self.application = application
        self.buttons = buttons

    def accepts(self, chat: ChatRef) -> bool:
        """Every Telegram chat."""
        return True

    async def send(self, chat: ChatRef, notice: Notice) -> None:
        """sendMessage; returns once Telegram accepted it."""
        # One message, not parts: a warning must be sent or retried as a whole (4096 is Telegram's limit).
        reply = fitted_notice(notice, lambda r: len(html_text(r)) <= 4096)
        reader = None if chat.is_group else Owner("telegram", "user", chat.chat_id)  # a DM's buttons are its reader's
        tokens = self.buttons.issue(chat, reply.buttons, reader)
        try:
            sent = await self.application.bot.send_message(int(chat.chat_id), html_text(reply), parse_mode=ParseMode.HTML,
                                                           reply_markup=keyboard(reply, tokens), disable_web_page_preview=True)
        except RetryAfter as err:
            raise RetryLater(_seconds(err.retry_after), "chat") from None
        except ChatMigrated as err:
            raise ChatMoved(str(err.new_chat_id)) from None
        except InvalidToken:  # the token was revoked: pause all of Telegram rather than dead-letter every warning
            log.error("Telegram answered 401 Unauthorized: the bot token was revoked; warnings wait in the outbox")
            raise RetryLater(UNAUTHORIZED_PAUSE, "global") from None
        except Forbidden as err:
            raise Undeliverable(f"Forbidden: {err.message}") from None
        except TimedOut as err:
            raise MaybeDelivered(str(err)) from None
        except BadRequest as err:
            text = err.message.lower()
            if "chat not found" in text or "user not found" in text or "deactivated" in text:
                raise Undeliverable(f"Bad Request: {err.message}") from None
            raise Rejected(f"Bad Request: {err.message}") from None
        self.buttons.bind(tokens, sent.message_id)  # unbound tokens still work: the first press binds them


class TelegramAdapter:
    """Handlers: every command through one core call; button presses re-run as whoever pressed them."""

    def __init__(self, application: Application, assistant: Assistant, outbox: Outbox | None = None):
        self.application = application
        self.assistant = assistant
        self.outbox = outbox
        self.username = ""
        self._requests: tuple[AiohttpRequest, ...] = ()  # closed by hand when a start fails half-way
        # New messages only: an edited "/borrow 500 ..." must not borrow again.
        application.add_handler(MessageHandler(filters.COMMAND & filters.UpdateType.MESSAGE, self.on_command))
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        application.add_error_handler(self.on_error)

    @classmethod
    def build(cls, token: str, api_base: str, assistant: Assistant, outbox: Outbox | None = None, webhook: bool = False,
              timeout: float = 10.0) -> TelegramAdapter:
        """An Application pointed at `api_base` (the real Bot API, a self-hosted one, or an emulator)."""
        builder = (ApplicationBuilder().token(token).base_url(f"{api_base}/bot").base_file_url(f"{api_base}/file/bot")
                   .concurrent_updates(64))
        requests = (AiohttpRequest(32, timeout, timeout, timeout), AiohttpRequest(1, timeout, timeout, timeout))
        builder = builder.request(requests[0]).get_updates_request(requests[1])
        if webhook:
            builder = builder.updater(None)
        adapter = cls(builder.build(), assistant, outbox)
        adapter._requests = requests
        return adapter

    # ---------------------------------------------------------------- life cycle

    async def start(self, webhook_url: str | None = None, secret: str | None = None) -> None:
        """Initialize, publish the command menu, then poll (or register the webhook); a failure closes what was opened."""
        await self.open()
        try:
            await self.register(webhook_url, secret)
            if not webhook_url:
                await self.poll()
        except BaseException:
            await self.stop()
            raise

    async def open(self) -> None:
        """Initialize and start handling updates (every replica); a failure closes what was opened."""
        try:
            await self.application.initialize()
            self.username = self.application.bot.username or ""
            await self.application.start()
        except BaseException:
            await self.stop()
            for request in self._requests:  # PTB's shutdown skips an Application whose initialize() failed
                await request.shutdown()
            raise

    async def register(self, webhook_url: str | None, secret: str | None) -> None:
        """Publish the command menu and, in webhook mode, the webhook (one replica does this)."""
        await self.application.bot.set_my_commands(
            [BotCommand(name, spec.summary[:256]) for name, spec in COMMANDS.items()])
        if webhook_url:
            await self.application.bot.set_webhook(webhook_url, secret_token=secret, allowed_updates=UPDATES)

    async def poll(self) -> None:
        """Long polling: one consumer per token, so one replica at a time."""
        await self.application.updater.start_polling(allowed_updates=UPDATES, drop_pending_updates=False)

    async def stop_polling(self) -> None:
        """Stop long polling (another replica takes it over)."""
        if self.application.updater and self.application.updater.running:
            await self.application.updater.stop()

    async def stop(self) -> None:
        """Stop polling and handling, then shut down."""
        if self.application.updater and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        try:
            await self.application.shutdown()
        except Exception as err:  # noqa: BLE001 - shutting down anyway; the sessions are closed below
            log.warning("telegram shutdown: %s", type(err).__name__)

    def webhook_route(self, secret: str) -> web.RouteDef:
        """An aiohttp route that checks Telegram's secret token and queues the update for PTB."""

        async def receive(request: web.Request) -> web.Response:
            if not secrets.compare_digest(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), secret):
                return web.Response(status=403)
            try:
                update = Update.de_json(await request.json(), self.application.bot)
            except (ValueError, TypeError, KeyError):
                return web.Response(status=400)
            await self.application.update_queue.put(update)
            return web.Response(text="ok")

        return web.post("/telegram", receive)

    # ---------------------------------------------------------------- handlers

    def _actor(self, user, chat) -> Actor:
        name = user.username or user.first_name or str(user.id)
        return Actor(Owner("telegram", "user", str(user.id)), chat_ref(chat), name, chat_title=chat.title)

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A slash command in any chat."""
        message = update.effective_message
        if message is None or not message.text:
            return
        token = message.text.split(maxsplit=1)[0]
        if "@" in token and token.split("@", 1)[1].lower() != self.username.lower():
            return  # addressed to another bot in the same group
        if command_name(message.text) is None:
            return
        user, chat = update.effective_user, update.effective_chat
        if user is None or user.id == ANONYMOUS_ADMIN or (message.sender_chat and message.sender_chat.id == chat.id):
            await message.reply_text("You are posting as the group (anonymous admin). Please send commands from your own "
                                     "account so I can check who you are.")
            return
        actor = self._actor(user, chat)
        note = self.assistant.welcome_back(actor)  # a private chat again: they unblocked the bot

        async def progress(text: str) -> None:  # said at once while the answer waits (a queued chart)
            await self.application.bot.send_message(chat.id, html.escape(text), parse_mode=ParseMode.HTML)

        reply = await self.assistant.handle(actor, message.text, progress)
        if not reply.silent:
            await self._send(chat, reply, actor)
        if note is not None:
            await self._send(chat, note, actor)

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Telegram says the bot was added to, removed from or restricted in a group: warnings there follow."""
        change = update.my_chat_member
        if change is None or change.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
            return
        member = change.new_chat_member
        status = member.status
        may_post = status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER) or (
            status == ChatMemberStatus.RESTRICTED and getattr(member, "is_member", False) and getattr(member, "can_send_messages", False))
        reason = "the bot was removed from the group" if status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED) \
            else "the bot may not send messages there"
        self.assistant.chat_access(chat_ref(change.chat), may_post, change.chat.title, reason)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: only what the bot issued on that message runs, as the presser, so the core checks their rights."""
        query = update.callback_query
        if query.message is None:  # a button on an inline message: the bot sends none
            await query.answer(EXPIRED)
            return
        actor = self._actor(query.from_user, query.message.chat)
        pressed = await self.assistant.press(actor, query.data or "", query.message.message_id)
        reply = pressed.reply
        if pressed.action == "refused":  # for the presser alone: a pop-up, the message and the group left as they were
            await query.answer(reply.title[:190], show_alert=not reply.silent)
            return
        await query.answer(reply.title[:190])
        if pressed.action == "dismiss":
            await query.edit_message_reply_markup(None)
        elif pressed.action == "confirm":  # the question becomes its answer
            await query.edit_message_text(html_text(reply), parse_mode=ParseMode.HTML)
        elif pressed.action == "show":
            await self._send(query.message.chat, reply, actor)

    async def _send(self, chat, reply: Reply, actor: Actor) -> None:
        parts = split_message(html_text(reply))
        tokens = self.assistant.buttons.issue(chat_ref(chat), reply.buttons, actor.user) if reply.buttons else ()
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            sent = await self.application.bot.send_message(chat.id, part, parse_mode=ParseMode.HTML,
                                                           reply_markup=keyboard(reply, tokens) if last else None,
                                                           disable_web_page_preview=True)
            if last:  # the tokens belong to the message Telegram made of them
                self.assistant.buttons.bind(tokens, sent.message_id)
        attachment = reply.attachment
        if attachment is not None and attachment.mime.startswith("image/"):
            await self.application.bot.send_photo(chat.id, InputFile(attachment.content, filename=attachment.filename))
        elif attachment is not None:
            await self.application.bot.send_document(chat.id, InputFile(attachment.content, filename=attachment.filename))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log handler errors (without update contents, which may hold amounts)."""
        log.error("telegram handler failed: %s", type(context.error).__name__, exc_info=context.error)
