"""A Telegram Bot API emulator on 127.0.0.1 for the real python-telegram-bot.

Point PTB at it with `ApplicationBuilder().token(emu.token).base_url(f"{emu.root}/bot")
.base_file_url(f"{emu.root}/file/bot")`. Tests inject updates (`send_text`, `press_button`, ...),
which the bot fetches with getUpdates (long polling), and read what the bot did (`calls`, `sent`,
`messages`, `wait_for`). Faults: `fail_next`, `delay_next`, `enforce_limits`, `block`, `migrate`.

Like Telegram it answers `{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description",
"parameters"}` with the same HTTP status; checks Telegram HTML (`parse_mode=HTML`) and the length limits;
refuses edits that change nothing; and removes an inline keyboard when a text edit does not repeat it.
Chats it has never seen are accepted (a positive id is a private chat, a negative one a group).
"""

from __future__ import annotations

import asyncio
import copy
import html
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

ANONYMOUS_ADMIN_ID = 1087968824  # Telegram's "GroupAnonymousBot"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
DEFAULT_EXCLUDED_UPDATES = ("chat_member", "message_reaction", "message_reaction_count")
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji",
             "code", "pre", "blockquote", "tg-time"}
ADMIN_RIGHTS = ("can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
                "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
                "can_delete_stories", "can_post_messages", "can_edit_messages", "can_pin_messages", "can_manage_topics")
STRING_PARAMS = {"text", "caption", "parse_mode", "callback_query_id", "url", "secret_token", "data", "description",
                 "short_description", "name", "inline_message_id", "language_code", "action", "ip_address", "title",
                 "business_connection_id", "message_effect_id", "emoji", "file_id", "custom_title", "document", "photo"}
RECORD_ONLY_KEYS = ("source", "parse_mode", "file_name", "size", "deleted")  # in `sent`, never sent to the bot
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message")
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
GETUPDATES_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
WEBHOOK_CONFLICT = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"


class ApiError(Exception):
    """An error the Bot API answers: HTTP status = error_code, with optional `parameters`."""

    def __init__(self, error_code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters or {}

    def body(self) -> dict:
        """The Bot API error envelope."""
        out: dict[str, Any] = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


@dataclass
class Fault:
    """The next `times` calls of `method` (for `chat_id` if set) fail with this error."""

    method: str
    error: ApiError
    chat_id: int | str | None = None
    times: int = 1

    def matches(self, method: str, params: dict) -> bool:
        """Does this call hit the fault?"""
        if self.times <= 0 or self.method != method.lower():
            return False
        return self.chat_id is None or str(params.get("chat_id")) == str(self.chat_id)


@dataclass
class Delay:
    """The next `times` calls of `method` are answered `seconds` late."""

    method: str
    seconds: float
    times: int = 1


@dataclass
class Window:
    """At most `limit` events per `seconds` (a sliding window of accepted events)."""

    limit: int
    seconds: float
    events: deque = field(default_factory=deque)

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0: it fits now)."""
        while self.events and self.events[0] <= now - self.seconds:
            self.events.popleft()
        if len(self.events) < self.limit:
            return 0.0
        return self.events[0] + self.seconds - now


class RateLimits:
    """Telegram's sending limits: 30 messages/s overall, 1/s per chat, 20/min per group."""

    def __init__(self) -> None:
        self.overall = Window(30, 1.0)
        self.per_chat: dict[int, Window] = {}
        self.per_group: dict[int, Window] = {}

    def retry_after(self, chat_id: int, now: float) -> int | None:
        """None if a message to `chat_id` may go now (and count it), else the whole seconds to wait."""
        windows = [self.overall, self.per_chat.setdefault(chat_id, Window(1, 1.0))]
        if chat_id < 0:
            windows.append(self.per_group.setdefault(chat_id, Window(20, 60.0)))
        wait = max(w.wait(now) for w in windows)
        if wait > 0:
            return max(1, math.ceil(wait))
        for w in windows:
            w.events.append(now)
        return None


# ---------------------------------------------------------------- small helpers


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def decode_param(name: str, raw: str) -> Any:
    """A form field as PTB meant it: JSON where it parses, except fields that are always plain strings."""
    if name in STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def html_to_text(source: str) -> str:
    """The visible text of Telegram HTML; ApiError 400 "can't parse entities" where Telegram would refuse it."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(source):
        lt = source.find("<", pos)
        if lt < 0:
            out.append(source[pos:])
            break
        out.append(source[pos:lt])
        offset = len(source[:lt].encode())
        tag = HTML_TAG.match(source, lt)
        if tag is None:
            raise ApiError(400, f"Bad Request: can't parse entities: Unsupported start tag at byte offset {offset}")
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if name not in HTML_TAGS:
            kind = "end" if closing else "start"
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unsupported {kind} tag "{name}" at byte offset {offset}')
        if not closing:
            stack.append(name)
        elif not stack:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unexpected end tag "{name}" at byte offset {offset}')
        elif stack[-1] != name:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unmatched end tag at byte offset {offset}, '
                                f'expected "</{stack[-1]}>", found "</{name}>"')
        else:
            stack.pop()
        pos = tag.end()
    if stack:
        raise ApiError(400, f'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return html.unescape("".join(out))


def visible_text(source: str, parse_mode: str | None) -> str:
    """What the user sees: HTML is checked and stripped; other modes are kept as written."""
    if parse_mode and parse_mode.lower() == "html":
        return html_to_text(source)
    return source


def command_entity(text: str) -> list[dict]:
    """A bot_command entity over the leading "/command[@bot]" token, as Telegram adds it."""
    if not text.startswith("/"):
        return []
    token = text.split(maxsplit=1)[0] if text.strip() else text
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(token)}]


def update_kind(update: dict) -> str:
    """The update's type ("message", "callback_query", ...)."""
    return next((key for key in update if key != "update_id"), "")


def wire(record: dict) -> dict:
    """A stored message as Telegram returns it (record-only keys and non-inline keyboards left out)."""
    out = {k: copy.deepcopy(v) for k, v in record.items() if k not in RECORD_ONLY_KEYS}
    markup = out.get("reply_markup")
    if not (isinstance(markup, dict) and "inline_keyboard" in markup):
        out.pop("reply_markup", None)
    return out


def describe(record: dict) -> str:
    """One line about a sent message, for failure reports."""
    body = record.get("text") or record.get("caption") or record.get("file_name") or ""
    buttons = [b.get("text") for row in (record.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
    extra = f" buttons={buttons}" if buttons else ""
    return f"chat {record['chat']['id']} #{record['message_id']}: {body[:160]!r}{extra}"


def _wake(waiters: set[asyncio.Future]) -> None:
    """Resolve every pending waiter future."""
    for waiter in list(waiters):
        if not waiter.done():
            waiter.set_result(None)


# ---------------------------------------------------------------- the emulator


class TelegramEmulator:
    """Bot API on 127.0.0.1 for the real PTB; tests inject updates and read what the bot sent."""

    def __init__(self, token: str = "123456:TEST-TOKEN", bot_id: int = 123456, username: str = "collateral_bot"):
        self.token, self.bot_id, self.username = token, bot_id, username
        self.root = ""
        self.calls: list[tuple[str, dict]] = []
        self.sent: list[dict] = []
        self.callback_answers: list[dict] = []
        self.my_commands: list[dict] = []
        self.webhook: dict | None = None
        self.refused = 0
        self.files: dict[str, bytes] = {}  # file_id -> uploaded bytes
        self.bot_user = {"id": bot_id, "is_bot": True, "first_name": "Collateral Bot", "username": username}
        self._users: dict[int, dict] = {}
        self._chats: dict[int, dict] = {}
        self._members: dict[tuple[int, int], tuple[str, bool]] = {}
        self._blocked: set[int] = set()
        self._migrated: dict[int, int] = {}
        self._messages: dict[tuple[int, int], dict] = {}  # every message, the bot's and the users'
        self._last_message_id: dict[int, int] = {}
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._allowed_updates: list[str] | None = None
        self._open_queries: set[str] = set()
        self._commands: dict[str, list[dict]] = {}  # scope+language -> commands
        self._faults: list[Fault] = []
        self._delays: list[Delay] = []
        self._limits: RateLimits | None = None
        self._poll_generation = 0
        self._update_waiters: set[asyncio.Future] = set()  # long polls, woken by new updates
        self._sent_waiters: set[asyncio.Future] = set()  # wait_for, woken by sent or edited messages
        self._delay_waiters: set[asyncio.Future] = set()  # delayed answers, woken only by close
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Callable[[dict], Any]] = {
            "getme": self._get_me, "logout": self._true, "close": self._true,
            "getupdates": self._get_updates, "setwebhook": self._set_webhook, "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands, "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendmessage": self._send_message, "senddocument": self._send_document, "sendphoto": self._send_photo,
            "editmessagetext": self._edit_message_text, "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message, "answercallbackquery": self._answer_callback_query,
            "sendchataction": self._send_chat_action, "getchat": self._get_chat, "getchatmember": self._get_chat_member,
            "getchatadministrators": self._get_chat_administrators, "getfile": self._get_file,
        }

    # ------------------------------------------------------------ server

    async def start(self) -> str:
        """Start the aiohttp server on a free port; returns the root url "http://127.0.0.1:PORT"."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.root = f"http://{host}:{port}"
        return self.root

    async def close(self) -> None:
        """Wake every long poll and delayed answer, then stop the server."""
        self._closing = True
        for waiters in (self._update_waiters, self._sent_waiters, self._delay_waiters):
            _wake(waiters)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _handle(self, request: web.Request) -> web.Response:
        """One Bot API call: token, decoding, recording, faults, then the method itself."""
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        try:
            params, files = await self._read_params(request)
        except ValueError:
            return web.json_response(ApiError(400, "Bad Request: can't parse request body").body(), status=400)
        self.calls.append((method, {**params, **{k: {"file_name": n, "size": len(b)} for k, (n, b) in files.items()}}))
        try:
            await self._maybe_delay(method)
            self._maybe_fail(method, params)
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = handler({**params, "_files": files})
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as err:
            return web.json_response(err.body(), status=err.error_code)
        except (ValueError, TypeError, KeyError, AttributeError) as err:  # a parameter of the wrong shape
            body = ApiError(400, f"Bad Request: invalid parameters: {type(err).__name__}: {err}").body()
            return web.json_response(body, status=400)
        return web.json_response({"ok": True, "result": result})

    async def _read_params(self, request: web.Request) -> tuple[dict, dict[str, tuple[str, bytes]]]:
        """Query string + form (url-encoded or multipart) or JSON body; files as name -> (file name, bytes)."""
        params: dict[str, Any] = {k: decode_param(k, v) for k, v in request.query.items()}
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "application/json":
            body = await request.json() if request.can_read_body else {}
            params.update(body if isinstance(body, dict) else {})
            return params, files
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files[name] = (value.filename or name, value.file.read())
            else:
                params[name] = decode_param(name, value)
        return params, files

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """GET {root}/file/bot{token}/{file_path}: the bytes a file was uploaded with."""
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if file_id not in self.files:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    async def _sleep(self, seconds: float, waiters: set[asyncio.Future]) -> None:
        """Sleep up to `seconds`; return early when `waiters` are woken (close wakes them all)."""
        if self._closing or seconds <= 0:
            return
        waiter = asyncio.get_running_loop().create_future()
        waiters.add(waiter)
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiters.discard(waiter)
            waiter.cancel()

    async def _maybe_delay(self, method: str) -> None:
        for delay in self._delays:
            if delay.method == method.lower() and delay.times > 0:
                delay.times -= 1
                self._delays = [d for d in self._delays if d.times > 0]
                await self._sleep(delay.seconds, self._delay_waiters)
                return

    def _maybe_fail(self, method: str, params: dict) -> None:
        for fault in self._faults:
            if fault.matches(method, params):
                fault.times -= 1
                self._faults = [f for f in self._faults if f.times > 0]
                raise ApiError(fault.error.error_code, fault.error.description, dict(fault.error.parameters))

    # ------------------------------------------------------------ people and chats

    def user(self, user_id: int, first_name: str, username: str | None = None) -> dict:
        """A Telegram user (remembered for getChatMember)."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        self._users[user_id] = user
        return dict(user)

    def private_chat(self, user: dict) -> dict:
        """The private chat between `user` and the bot."""
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        if user.get("username"):
            chat["username"] = user["username"]
        self._chats[chat["id"]] = chat
        return dict(chat)

    def group_chat(self, chat_id: int, title: str, supergroup: bool = False) -> dict:
        """A group (negative id; supergroups are usually -100...)."""
        if chat_id >= 0:
            raise ValueError(f"group chat ids are negative, got {chat_id}")
        chat = {"id": chat_id, "type": "supergroup" if supergroup else "group", "title": title}
        self._chats[chat_id] = chat
        return dict(chat)

    def set_member(self, chat_id: int, user_id: int, status: str, anonymous: bool = False) -> None:
        """Set someone's status in a group: creator, administrator, member, left or kicked (the bot's own too)."""
        if status not in ("creator", "administrator", "member", "left", "kicked"):
            raise ValueError(f"unknown member status {status!r}")
        self._members[(chat_id, user_id)] = (status, anonymous)

    def block(self, user_id: int, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: messages to their private chat answer 403."""
        (self._blocked.add if blocked else self._blocked.discard)(user_id)

    def migrate(self, chat_id: int, new_chat_id: int) -> dict:
        """The group becomes a supergroup: calls for the old id answer 400 with migrate_to_chat_id."""
        title = self._chat(chat_id).get("title", "")
        self._migrated[chat_id] = new_chat_id
        return self.group_chat(new_chat_id, title, supergroup=True)

    def _chat(self, chat_id: int | str) -> dict:
        """A known chat, or one made up for an unseen id (positive: private, negative: group); "@name" must be known."""
        if isinstance(chat_id, str) and not chat_id.lstrip("-").isdigit():
            for chat in self._chats.values():
                if chat_id.startswith("@") and chat.get("username", "").lower() == chat_id[1:].lower():
                    return chat
            raise ApiError(400, "Bad Request: chat not found")
        cid = int(chat_id)
        if cid == 0:
            raise ApiError(400, "Bad Request: chat not found")
        if cid not in self._chats:
            user = self._users.get(cid)
            if cid > 0:
                self._chats[cid] = {"id": cid, "type": "private", "first_name": user["first_name"] if user else f"User {cid}"}
            else:
                self._chats[cid] = {"id": cid, "type": "supergroup" if str(cid).startswith("-100") else "group",
                                    "title": f"Group {cid}"}
        return self._chats[cid]

    def _user_object(self, user_id: int) -> dict:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        return dict(self._users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"})

    def _member(self, chat_id: int, user_id: int) -> dict:
        """A ChatMember object in Bot API shape."""
        status, anonymous = self._members.get((chat_id, user_id), ("member", False))
        member: dict[str, Any] = {"status": status, "user": self._user_object(user_id)}
        if status == "creator":
            member["is_anonymous"] = anonymous
        elif status == "administrator":
            member.update({"can_be_edited": False, "is_anonymous": anonymous}, **{right: True for right in ADMIN_RIGHTS})
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def _target_chat(self, params: dict) -> dict:
        """The chat a sending call addresses, with Telegram's refusals (migrated, blocked, kicked)."""
        if params.get("chat_id") in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._chat(params["chat_id"])
        cid = chat["id"]
        if cid in self._migrated:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": self._migrated[cid]})
        if chat["type"] == "private" and cid in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        own_status = self._members.get((cid, self.bot_id), ("member", False))[0]
        if chat["type"] != "private" and own_status in ("left", "kicked"):
            kind = "supergroup chat" if chat["type"] == "supergroup" else "group chat"
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind}" if own_status == "kicked"
                           else f"Forbidden: bot is not a member of the {kind}")
        return chat

    # ------------------------------------------------------------ injecting updates

    def inject(self, payload: dict) -> int:
        """Queue any update body (e.g. {"my_chat_member": {...}}); returns its update_id."""
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **copy.deepcopy(payload)})
        _wake(self._update_waiters)
        return update_id

    def bot_membership(self, chat: dict, by: dict, status: str, old: str = "member") -> int:
        """The bot's own status in a group changes (kicked, left, added back as member): a my_chat_member update."""
        self.set_member(chat["id"], self.bot_id, status)
        def member(state: str) -> dict:
            return {"user": dict(self.bot_user), "status": state, **({"until_date": 0} if state == "kicked" else {})}
        return self.inject({"my_chat_member": {"chat": dict(chat), "from": dict(by), "date": int(time.time()),
                                               "old_chat_member": member(old), "new_chat_member": member(status)}})

    def _new_message(self, chat: dict, sender: dict, **content: Any) -> dict:
        """Store a message in `chat` with the chat's next message_id."""
        chat = self._chats.setdefault(chat["id"], dict(chat))
        message_id = self._last_message_id.get(chat["id"], 0) + 1
        self._last_message_id[chat["id"]] = message_id
        message = {"message_id": message_id, "date": int(time.time()), "chat": dict(chat), "from": dict(sender), **content}
        self._messages[(chat["id"], message_id)] = message
        return message

    def _user_message(self, chat: dict, sender: dict, text: str, **extra: Any) -> int:
        """Queue a message update from `sender`, with a bot_command entity for a leading "/command"."""
        entities = command_entity(text)
        message = self._new_message(chat, sender, text=text, **extra, **({"entities": entities} if entities else {}))
        return self.inject({"message": message})

    def send_text(self, chat: dict, user: dict, text: str) -> int:
        """A user writes `text` in `chat` (a "/command" gets its bot_command entity); returns the update_id."""
        return self._user_message(chat, user, text)

    def edit_last(self, chat: dict, user: dict, text: str) -> int:
        """`user` edits the last message they wrote in `chat` to `text`: an edited_message update."""
        message = max((m for (c, _), m in self._messages.items() if c == chat["id"] and m["from"]["id"] == user["id"]),
                      key=lambda m: m["message_id"])
        entities = command_entity(text)
        message.update(text=text, edit_date=int(time.time()), **({"entities": entities} if entities else {}))
        return self.inject({"edited_message": message})

    def send_anonymous_admin_command(self, chat: dict, text: str) -> int:
        """An anonymous admin writes in a group: from GroupAnonymousBot, sender_chat = the group."""
        anonymous = {"id": ANONYMOUS_ADMIN_ID, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
        return self._user_message(chat, anonymous, text, sender_chat=dict(chat))

    def press_button(self, chat: dict, user: dict, message_id: int, data: str) -> int:
        """`user` presses an inline button with `data` under the bot's message `message_id` in `chat`."""
        record = self._messages.get((chat["id"], message_id))
        if record is None or record.get("from", {}).get("id") != self.bot_id:
            sent = "\n".join(describe(m) for m in self.messages(chat["id"])) or "(nothing)"
            raise LookupError(f"the bot sent no message #{message_id} in chat {chat['id']}; it sent:\n{sent}")
        query_id = str(next(self._ids) * 7919 + 10**15)
        self._open_queries.add(query_id)
        query = {"id": query_id, "from": dict(user), "chat_instance": str(abs(chat["id"]) * 31 + 17),
                 "data": data, "message": wire(record)}
        return self.inject({"callback_query": query})

    # ------------------------------------------------------------ what the bot did

    def messages(self, chat_id: int) -> list[dict]:
        """Messages the bot sent in that chat, in order."""
        return [m for m in self.sent if m["chat"]["id"] == chat_id]

    async def wait_for_answer(self, predicate: Callable[[dict], bool], timeout: float = 5.0) -> dict:
        """Wait until a callback answer (a pop-up) satisfies predicate(answer) and return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for answer in self.callback_answers:
                if predicate(answer):
                    return answer
            await asyncio.sleep(0.02)
        raise AssertionError(f"no callback answer matched within {timeout}s: {self.callback_answers[-10:]}")

    async def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 5.0) -> dict:
        """Wait until a sent message satisfies predicate(msg) and return it; AssertionError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for message in self.sent:
                try:
                    if predicate(message):
                        return message
                except (KeyError, TypeError, IndexError, AttributeError):
                    continue
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                break
            await self._sleep(remaining, self._sent_waiters)
        sent = "\n".join(f"  - {describe(m)}" for m in self.sent[-30:]) or "  (nothing)"
        methods = ", ".join(name for name, _ in self.calls[-30:]) or "(none)"
        raise AssertionError(f"no sent message matched within {timeout}s.\nSent ({len(self.sent)}):\n{sent}\n"
                             f"Last calls: {methods}")

    # ------------------------------------------------------------ faults

    def fail_next(self, method: str, error_code: int, description: str, *, chat_id: int | None = None,
                  retry_after: int | None = None, migrate_to_chat_id: int | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` (only for `chat_id` if given) answer this Bot API error."""
        parameters: dict[str, int] = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        self._faults.append(Fault(method.lower(), ApiError(error_code, description, parameters), chat_id, times))

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` answer `seconds` late (and still take effect, as on Telegram)."""
        self._delays.append(Delay(method.lower(), seconds, times))

    def enforce_limits(self, on: bool = True) -> None:
        """Sending follows Telegram's limits (30/s overall, 1/s per chat, 20/min per group); over them: 429."""
        self._limits = RateLimits() if on else None

    def _check_limits(self, chat_id: int) -> None:
        if self._limits is None:
            return
        wait = self._limits.retry_after(chat_id, time.monotonic())
        if wait is not None:
            self.refused += 1
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    # ------------------------------------------------------------ Bot API methods: bot and updates

    def _true(self, params: dict) -> bool:
        return True

    def _get_me(self, params: dict) -> dict:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False}

    def _pending(self, offset: int | None, limit: int) -> list[dict]:
        """Confirm (forget) updates before `offset`; the allowed ones left, up to `limit`."""
        if offset is not None and offset < 0:
            self._updates = self._updates[offset:]
        elif offset is not None:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        allowed = self._allowed_updates
        if not allowed:
            batch = [u for u in self._updates if update_kind(u) not in DEFAULT_EXCLUDED_UPDATES]
        else:
            batch = [u for u in self._updates if update_kind(u) in allowed]
        return copy.deepcopy(batch[:limit])

    async def _get_updates(self, params: dict) -> list[dict]:
        if self.webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        self._poll_generation += 1
        generation = self._poll_generation
        _wake(self._update_waiters)  # an older long poll ends with 409, as on Telegram
        if "allowed_updates" in params and isinstance(params["allowed_updates"], list):
            self._allowed_updates = params["allowed_updates"]
        offset = params.get("offset")
        limit = max(1, min(100, int(params.get("limit") or 100)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout") or 0)
        while True:
            batch = self._pending(int(offset) if offset is not None else None, limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closing:
                return batch
            await self._sleep(remaining, self._update_waiters)
            if generation != self._poll_generation:
                raise ApiError(409, GETUPDATES_CONFLICT)

    def _set_webhook(self, params: dict) -> bool:
        url = str(params.get("url") or "")
        if not url:
            self.webhook = None
            return True
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):  # loopback allowed for tests
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = params["allowed_updates"]
        self.webhook = {k: v for k, v in params.items() if not k.startswith("_")}
        return True

    def _delete_webhook(self, params: dict) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: dict) -> dict:
        info: dict[str, Any] = {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                                "pending_update_count": len(self._updates)}
        if self._allowed_updates:
            info["allowed_updates"] = self._allowed_updates
        return info

    async def deliver_webhook(self) -> list[int]:
        """POST the queued updates to the registered webhook (with its secret token); returns the HTTP statuses."""
        if self.webhook is None:
            raise RuntimeError("no webhook is set")
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
        statuses = []
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            for update in self._pending(None, 100):
                async with session.post(self.webhook["url"], json=update, headers=headers) as response:
                    statuses.append(response.status)
                if 200 <= response.status < 300:
                    self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
        return statuses

    @staticmethod
    def _scope_key(params: dict) -> str:
        return json.dumps([params.get("scope") or {"type": "default"}, params.get("language_code") or ""], sort_keys=True)

    def _set_my_commands(self, params: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 BotCommand")
        for command in commands:
            if not COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._scope_key(params)] = commands
        self.my_commands = commands
        return True

    def _get_my_commands(self, params: dict) -> list[dict]:
        return self._commands.get(self._scope_key(params), [])

    def _delete_my_commands(self, params: dict) -> bool:
        self._commands.pop(self._scope_key(params), None)
        if params.get("scope") in (None, {"type": "default"}) and not params.get("language_code"):
            self.my_commands = []
        return True

    # ------------------------------------------------------------ Bot API methods: messages

    def _record(self, chat: dict, params: dict, **content: Any) -> dict:
        """Store a message the bot sends, wake wait_for, and return it as Telegram answers it."""
        reply_to = (params.get("reply_parameters") or {}).get("message_id") or params.get("reply_to_message_id")
        if reply_to is not None:
            replied = self._messages.get((chat["id"], int(reply_to)))
            allow = params.get("allow_sending_without_reply") or (params.get("reply_parameters") or {}).get(
                "allow_sending_without_reply")
            if replied is None and not allow:
                raise ApiError(400, "Bad Request: message to be replied not found")
            if replied is not None:
                content["reply_to_message"] = wire(replied)
        if params.get("reply_markup") is not None:
            content["reply_markup"] = params["reply_markup"]
        record = self._new_message(chat, self.bot_user, **content)
        self.sent.append(record)
        _wake(self._sent_waiters)
        return wire(record)

    def _text_content(self, source: Any, parse_mode: str | None, limit: int, what: str) -> dict:
        """Checked text fields of a message: visible text plus, when formatted, its source."""
        source = "" if source is None else str(source)
        text = visible_text(source, parse_mode)
        if what == "text" and not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > limit:
            raise ApiError(400, "Bad Request: message is too long" if what == "text" else "Bad Request: message caption is too long")
        if not text:
            return {}
        content = {what: text}
        if parse_mode:
            content.update(source=source, parse_mode=parse_mode)
        return content

    def _send_message(self, params: dict) -> dict:
        chat = self._target_chat(params)
        content = self._text_content(params.get("text"), params.get("parse_mode"), TEXT_LIMIT, "text")
        self._check_limits(chat["id"])
        return self._record(chat, params, **content)

    def _upload(self, params: dict, field_name: str) -> tuple[str, str, bytes]:
        """(file_id, file name, bytes) of an uploaded file, an attach:// reference or an earlier file_id."""
        files = params["_files"]
        value = params.get(field_name)
        if field_name in files:
            name, data = files[field_name]
        elif isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            name, data = files[value[9:]]
        elif isinstance(value, str) and value in self.files:
            return value, value, self.files[value]
        elif isinstance(value, str) and value:
            return value, value.rsplit("/", 1)[-1], b""  # a URL or a file_id we never saw
        else:
            raise ApiError(400, f"Bad Request: there is no {field_name} in the request")
        file_id = f"F{next(self._ids):06d}-{field_name}"
        self.files[file_id] = data
        return file_id, name, data

    def _send_file(self, params: dict, field_name: str) -> dict:
        chat = self._target_chat(params)
        content = self._text_content(params.get("caption"), params.get("parse_mode"), CAPTION_LIMIT, "caption")
        file_id, name, data = self._upload(params, field_name)
        self._check_limits(chat["id"])
        unique = f"U{file_id}"
        if field_name == "document":
            content["document"] = {"file_id": file_id, "file_unique_id": unique, "file_name": name, "file_size": len(data)}
        else:
            content["photo"] = [{"file_id": file_id, "file_unique_id": unique, "width": 320, "height": 320,
                                 "file_size": len(data)}]
        return self._record(chat, params, file_name=name, size=len(data), **content)

    def _send_document(self, params: dict) -> dict:
        return self._send_file(params, "document")

    def _send_photo(self, params: dict) -> dict:
        return self._send_file(params, "photo")

    def _bot_message(self, params: dict, verb: str) -> dict:
        """The bot's own stored message addressed by chat_id + message_id."""
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not emulated")
        chat = self._chat(params.get("chat_id", 0))
        record = self._messages.get((chat["id"], int(params.get("message_id") or 0)))
        if record is None or record.get("deleted"):
            raise ApiError(400, f"Bad Request: message to {verb} not found")
        if record.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited" if verb == "edit" else "Bad Request: message can't be deleted")
        return record

    def _apply_edit(self, record: dict, changes: dict) -> dict:
        """Change a stored message in place (or refuse an edit that changes nothing)."""
        if all(record.get(k) == v for k, v in changes.items() if v is not None) and \
                all(k not in record for k, v in changes.items() if v is None):
            raise ApiError(400, NOT_MODIFIED)
        for key, value in changes.items():
            if value is None:
                record.pop(key, None)
            else:
                record[key] = value
        record["edit_date"] = int(time.time())
        _wake(self._sent_waiters)
        return wire(record)

    def _edit_message_text(self, params: dict) -> dict:
        record = self._bot_message(params, "edit")
        if "text" not in record:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        content = self._text_content(params.get("text"), params.get("parse_mode"), TEXT_LIMIT, "text")
        changes = {"text": content["text"], "source": content.get("source"), "parse_mode": content.get("parse_mode"),
                   "reply_markup": params.get("reply_markup")}
        return self._apply_edit(record, changes)

    def _edit_message_reply_markup(self, params: dict) -> dict:
        record = self._bot_message(params, "edit")
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and not markup.get("inline_keyboard"):
            markup = None  # an empty inline keyboard removes it
        return self._apply_edit(record, {"reply_markup": markup})

    def _delete_message(self, params: dict) -> bool:
        record = self._bot_message(params, "delete")
        record["deleted"] = True
        return True

    def _answer_callback_query(self, params: dict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_queries:
            raise ApiError(400, QUERY_TOO_OLD)
        self._open_queries.discard(query_id)
        self.callback_answers.append({"callback_query_id": query_id, "text": params.get("text"),
                                      "show_alert": bool(params.get("show_alert", False)),
                                      **({"url": params["url"]} if params.get("url") else {})})
        return True

    def _send_chat_action(self, params: dict) -> bool:
        self._target_chat(params)
        return True

    # ------------------------------------------------------------ Bot API methods: chats and members

    def _get_chat(self, params: dict) -> dict:
        chat = self._chat(params.get("chat_id", 0))
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                                        "premium_subscription": False, "gifts_from_channels": False}}

    def _get_chat_member(self, params: dict) -> dict:
        chat = self._chat(params.get("chat_id", 0))
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise ApiError(400, "Bad Request: invalid user_id specified")
        if chat["type"] == "private":
            return {"status": "member", "user": self._user_object(user_id)}
        return self._member(chat["id"], user_id)

    def _get_chat_administrators(self, params: dict) -> list[dict]:
        chat = self._chat(params.get("chat_id", 0))
        if chat["type"] == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        return [self._member(chat["id"], user_id) for (cid, user_id), (status, _) in self._members.items()
                if cid == chat["id"] and status in ("creator", "administrator")]

    def _get_file(self, params: dict) -> dict:
        file_id = str(params.get("file_id") or "")
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": file_id, "file_unique_id": f"U{file_id}", "file_size": len(self.files[file_id]),
                "file_path": f"documents/{file_id}"}
