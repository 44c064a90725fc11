"""Emulated Discord (REST API v10 + gateway) on 127.0.0.1 that the real discord.py 2.7 logs in to.

Tests build a small world (guilds, channels, members with permissions, users), start the emulator,
point discord.py at it (`patch`), start the bot with `client.start(token)`, then inject what users
do (slash commands, autocomplete, button clicks) and read back what the bot did: interaction
callbacks, webhook followups and channel messages. `fail_next_message` makes the bot's next channel
message fail the way Discord fails it (403 Missing Permissions, 404 Unknown Channel, 429...);
`token_revoked = True` answers 401 to every authenticated REST call, as after a token reset.

What it reproduces from the real Discord, because bots trip on it:
- answers are JSON with Content-Type exactly `application/json`; errors are `{"message", "code"}`;
  a 429 carries `retry_after`, the X-RateLimit-* headers and a `Via` header (without `Via`
  discord.py takes a 429 for a Cloudflare ban and gives up);
- an interaction must be answered once (`40060` otherwise) and within `response_deadline`
  seconds (3 s, like Discord: `10062 Unknown interaction` after that); followups and
  `@original` edits before the first answer get `10015 Unknown Webhook`; the first followup after
  a deferred "thinking" answer (type 5) replaces the thinking message, as on Discord;
- empty messages (`50006`), content over 2000 characters, more than 10 embeds or embed fields
  over Discord's limits (`50035 Invalid Form Body`);
- slash commands only exist once the bot synced them: `slash` uses the id the emulator gave at
  sync, guild commands win over global ones (with `data.guild_id`), DMs see only global
  commands allowed in DMs, and a command whose `default_member_permissions` the member lacks is
  not offered (AssertionError, set `enforce_default_permissions = False` to allow it);
- READY lists guilds as unavailable, GUILD_CREATE follows only when the GUILDS intent is on, and
  carries the other members only with the GUILD_MEMBERS intent (otherwise just the bot);
- snowflakes are strings on the wire, also in option values of user/channel/role options (the
  keys discord.py uses to find them in `resolved`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1420070400000
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# permission bits
ADD_REACTIONS = 1 << 6
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
ALL_PERMISSIONS = discord.Permissions.all().value
EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS | EMBED_LINKS | ATTACH_FILES | ADD_REACTIONS
)

# gateway intents
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1

# message flags
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# interaction types and callback types
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CALLBACK_TYPES = {
    APPLICATION_COMMAND: {4, 5, 9},
    MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
    AUTOCOMPLETE: {8},
    MODAL_SUBMIT: {4, 5, 6, 7},
}

COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
OPTION_VALUE_TYPES = {3: (str,), 4: (int,), 5: (bool,), 10: (int, float)}
SNOWFLAKE_OPTION_TYPES = {6, 7, 8, 9, 11}
EMBED_LIMITS = {"title": 256, "description": 4096}


class ApiError(Exception):
    """An error answer of the emulated REST API."""

    def __init__(self, status: int, code: int, message: str, *, errors: dict | None = None,
                 headers: dict[str, str] | None = None, extra: dict | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message = status, code, message
        self.errors, self.headers, self.extra = errors, headers or {}, extra or {}

    def response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return _json(body, status=self.status, headers=self.headers)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer whose Content-Type is exactly `application/json` (discord.py parses nothing else)."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers={**(headers or {}), "Content-Type": "application/json"})


def _form_error(field_name: str, code: str, message: str) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors={field_name: {"_errors": [{"code": code, "message": message}]}})


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _sid(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass
class _Session:
    """One gateway connection."""

    ws: web.WebSocketResponse
    seq: int = 0
    session_id: str | None = None
    intents: int = 0
    shard: tuple[int, int] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class _Fault:
    status: int
    code: int
    message: str
    channel_id: int | None
    retry_after: float | None
    times: int


class DiscordEmulator:
    """Discord REST + gateway on 127.0.0.1 for the real discord.py; tests inject interactions and read what the bot did."""

    def __init__(self, token: str = "TEST.DISCORD.TOKEN", application_id: int = 1001, bot_user_id: int = 1002,
                 bot_name: str = "collateral-bot") -> None:
        self.token = token
        self.application_id = application_id
        self.bot_user_id = bot_user_id
        self.bot_name = bot_name
        self.api_base = ""
        self.gateway_url = ""
        self.port = 0
        self.response_deadline: float | None = 3.0  # seconds to answer an interaction; None: no limit
        self.enforce_default_permissions = True
        self.token_revoked = False  # True: every authenticated REST call answers 401, as after a token reset
        self.bot_permissions = EVERYONE_PERMISSIONS

        # what the bot did
        self.commands: dict[Any, list[dict]] = {}
        self.responses: list[dict] = []
        self.followups: list[dict] = []
        self.channel_messages: list[dict] = []
        self.message_edits: list[dict] = []
        self.dm_channels: dict[int, int] = {}
        self.messages: dict[int, dict] = {}  # every message the bot made, by id, as Discord stores it now (wire form)
        self.requests: list[dict] = []  # every REST call: {"method", "path", "query", "status"}
        self.gateway_received: list[dict] = []  # every gateway payload the bot sent (IDENTIFY's token masked)
        self.identified = asyncio.Event()
        self.resumed = 0

        # world
        self._users: dict[int, dict] = {}
        self._guilds: dict[int, dict] = {}
        self._channels: dict[int, dict] = {}
        self._dm_by_user: dict[int, int] = {}
        self._files: dict[int, bytes] = {}

        self._interactions: dict[int, dict] = {}
        self._faults: list[_Fault] = []
        self._sessions: list[_Session] = []
        self._session: _Session | None = None
        self._known_sessions: dict[str, int] = {}  # session id -> last sequence number
        self._known_intents: dict[str, int] = {}  # session id -> intents
        self._changed = asyncio.Event()
        self._last_id = 0
        self._runner: web.AppRunner | None = None
        self._patched: list[tuple[Any, str, Any]] = []

        self._bot_user = {
            "id": str(bot_user_id), "username": bot_name, "discriminator": "0", "global_name": None, "avatar": None,
            "bot": True, "system": False, "verified": True, "mfa_enabled": False, "flags": 0, "public_flags": 0,
            "locale": "en-US", "email": None,
        }
        self._users[bot_user_id] = self._bot_user

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/gateway/", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.api_base = f"http://127.0.0.1:{self.port}{API_PREFIX}"
        self.gateway_url = f"ws://127.0.0.1:{self.port}/gateway"

    async def close(self) -> None:
        """Stop serving. A bot still connected gets close code 4004 (not resumable), so its `start()` ends at once
        with ConnectionClosed instead of reconnecting forever; close the client first for a clean stop."""
        for session in list(self._sessions):
            if not session.ws.closed:
                with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
                    await asyncio.wait_for(session.ws.close(code=4004, message=b"emulator closed"), 2.0)
        self._sessions.clear()
        self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.unpatch()

    def patch(self, monkeypatch=None) -> None:
        """Point discord.py at the emulator (REST base and default gateway)."""
        targets = [(discord.http.Route, "BASE", self.api_base),
                   (discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url))]
        for owner, name, value in targets:
            if monkeypatch is not None:
                monkeypatch.setattr(owner, name, value)
            else:
                self._patched.append((owner, name, owner.__dict__[name]))
                setattr(owner, name, value)

    def unpatch(self) -> None:
        while self._patched:
            owner, name, old = self._patched.pop()
            setattr(owner, name, old)

    # ------------------------------------------------------------------ world

    def user(self, user_id: int, name: str) -> dict:
        """A Discord user (created or renamed); returns its wire form."""
        data = self._users.get(user_id)
        if data is None:
            data = self._users[user_id] = {
                "id": str(user_id), "username": name, "discriminator": "0", "global_name": name, "avatar": None,
                "bot": False, "system": False, "public_flags": 0,
            }
        else:
            data["username"] = data["global_name"] = name
        return copy.deepcopy(data)

    def add_guild(self, guild_id: int, name: str, owner_id: int) -> dict:
        if owner_id not in self._users:
            self.user(owner_id, f"owner{owner_id}")
        bot_role = self._next_id()
        self._guilds[guild_id] = {
            "id": guild_id, "name": name, "owner_id": owner_id, "channels": [], "members": {}, "joined_at": _now_iso(),
            "roles": {
                guild_id: self._role(guild_id, "@everyone", EVERYONE_PERMISSIONS, 0),
                bot_role: {**self._role(bot_role, self.bot_name, self.bot_permissions, 1), "managed": True,
                           "tags": {"bot_id": str(self.bot_user_id)}},
            },
        }
        self._guilds[guild_id]["members"][self.bot_user_id] = {"roles": [bot_role], "joined_at": _now_iso()}
        self._guilds[guild_id]["members"][owner_id] = {"roles": [], "joined_at": _now_iso()}
        return self._guild_payload(guild_id, members=True)

    def add_channel(self, guild_id: int | None, channel_id: int, name: str = "general") -> dict:
        """A guild text channel (type 0), or with guild_id None a DM channel (type 1) whose recipient is set
        by the first user who uses it (a DM slash command with this channel_id)."""
        if guild_id is None:
            self._channels[channel_id] = {"id": str(channel_id), "type": 1, "last_message_id": None, "flags": 0, "recipients": []}
        else:
            guild = self._guild(guild_id)
            self._channels[channel_id] = {
                "id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": name, "position": len(guild["channels"]),
                "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None, "last_message_id": None,
                "rate_limit_per_user": 0, "flags": 0,
            }
            if channel_id not in guild["channels"]:
                guild["channels"].append(channel_id)
        return copy.deepcopy(self._channels[channel_id])

    def add_member(self, guild_id: int, user_id: int, name: str, permissions: int = 0) -> dict:
        """A guild member; `permissions` becomes a role of theirs (on top of @everyone's basic text permissions)."""
        guild = self._guild(guild_id)
        self.user(user_id, name)
        roles = []
        if permissions:
            role_id = self._next_id()
            guild["roles"][role_id] = self._role(role_id, f"{name}-role", permissions, len(guild["roles"]))
            roles.append(role_id)
        guild["members"][user_id] = {"roles": roles, "joined_at": _now_iso()}
        return self._member_payload(guild_id, user_id, permissions=True)

    # ------------------------------------------------------------------ injecting interactions

    async def slash(self, user_id: int, name: str, options: list[dict] | None = None, *, guild_id: int | None = None,
                    channel_id: int | None = None) -> int:
        """A user runs /name with options in Discord's wire shape; returns the interaction id."""
        command = self._find_command(name, 1, user_id, guild_id)
        opts = self._prepare_options(command.get("options") or [], options or [], autocomplete=False, path=name)
        data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1}
        if opts:
            data["options"] = opts
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        resolved = self._resolved(opts, guild_id)
        if resolved:
            data["resolved"] = resolved
        return await self._interact(APPLICATION_COMMAND, user_id, data, guild_id=guild_id, channel_id=channel_id)

    async def autocomplete(self, user_id: int, name: str, options: list[dict], *, guild_id: int | None = None,
                           channel_id: int | None = None) -> int:
        """A user types into an autocomplete option (the one marked "focused": true, else the last one)."""
        command = self._find_command(name, 1, user_id, guild_id)
        opts = self._prepare_options(command.get("options") or [], options, autocomplete=True, path=name)
        leaves = self._leaf_options(opts)
        focused = [o for o in leaves if o.get("focused")]
        if not focused and leaves:
            leaves[-1]["focused"] = True
            focused = [leaves[-1]]
        if len(focused) != 1:
            raise AssertionError(f"autocomplete for /{name} needs exactly one focused option, got {opts}")
        schema = self._option_schema(command.get("options") or [], opts, focused[0]["name"])
        if not (schema or {}).get("autocomplete"):
            raise AssertionError(f"/{name} option {focused[0]['name']!r} was not synced with autocomplete")
        data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1, "options": opts}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return await self._interact(AUTOCOMPLETE, user_id, data, guild_id=guild_id, channel_id=channel_id)

    async def click(self, user_id: int, message_id: int, custom_id: int | str, *, guild_id: int | None = None,
                    channel_id: int | None = None, values: list[str] | None = None) -> int:
        """A user clicks a button (or picks `values` in a select) on a message the bot sent."""
        message = self.messages.get(int(message_id))
        if message is None:
            raise AssertionError(f"no message {message_id} from the bot; known: {sorted(self.messages)}")
        component = self._find_component(message.get("components") or [], str(custom_id))
        if component is None:
            raise AssertionError(f"message {message_id} has no component with custom_id {custom_id!r}: {message.get('components')}")
        if component.get("disabled"):
            raise AssertionError(f"component {custom_id!r} on message {message_id} is disabled")
        data: dict[str, Any] = {"custom_id": str(custom_id), "component_type": component["type"]}
        if component["type"] != 2:
            data["values"] = list(values or [])
        if channel_id is None:
            channel_id = int(message["channel_id"])
        if guild_id is None:
            guild_id = self._channel_guild(channel_id)
        return await self._interact(MESSAGE_COMPONENT, user_id, data, guild_id=guild_id, channel_id=channel_id,
                                    message=message)

    async def role_updated(self, guild_id: int, role_id: int | None = None, permissions: int | None = None) -> None:
        """A role of the guild changes (the bot's own by default): a GUILD_ROLE_UPDATE dispatch."""
        guild = self._guild(guild_id)
        if role_id is None:
            role_id = next(r for r, role in guild["roles"].items() if role.get("tags", {}).get("bot_id") == str(self.bot_user_id))
        if permissions is not None:
            guild["roles"][role_id]["permissions"] = str(permissions)
        await self.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": copy.deepcopy(guild["roles"][role_id])})

    async def dispatch(self, event: str, data: dict) -> None:
        """Send any DISPATCH event to the connected bot."""
        await self._dispatch(self._require_session(), event, data)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py reconnects to resume_gateway_url and RESUMEs."""
        await self._send(self._require_session(), {"op": 7, "d": None, "s": None, "t": None})

    # ------------------------------------------------------------------ what the bot did

    def response_to(self, interaction_id: int) -> dict | None:
        return next((r for r in self.responses if r["interaction_id"] == interaction_id), None)

    async def wait_for(self, predicate: Callable[[dict], Any], timeout: float = 5.0) -> dict:
        """The first record in responses + followups + channel_messages that satisfies predicate (waiting for it)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for record in [*self.responses, *self.followups, *self.channel_messages]:
                try:
                    if predicate(record):
                        return record
                except (KeyError, TypeError, IndexError, AttributeError, ValueError):
                    pass
            changed = self._changed
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                break
        raise AssertionError(
            f"nothing matched within {timeout}s.\nresponses: {self._brief(self.responses)}\n"
            f"followups: {self._brief(self.followups)}\nchannel_messages: {self._brief(self.channel_messages)}\n"
            f"last requests: {self.requests[-10:]}"
        )

    def fail_next_message(self, status: int, code: int, message: str, *, channel_id: int | None = None,
                          retry_after: float | None = None, times: int = 1) -> None:
        """The next `times` POST /channels/{id}/messages (any channel, or only channel_id) answer this error."""
        if status == 429 and retry_after is None:
            retry_after = 0.5
        self._faults.append(_Fault(status, code, message, channel_id, retry_after, times))

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(timeout=2.0, max_msg_size=0)
        await ws.prepare(request)
        session = _Session(ws)
        self._sessions.append(session)
        try:
            if request.query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"only encoding=json is emulated")
                return ws
            await self._send(session, {"op": 10, "d": {"heartbeat_interval": 45000, "_trace": ["emulator"]}, "s": None, "t": None})
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    await ws.close(code=4002, message=b"send text frames")
                    break
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=4002, message=b"decode error")
                    break
                await self._on_gateway(session, payload)
        finally:
            if session in self._sessions:
                self._sessions.remove(session)
            if self._session is session:
                self._session = None
        return ws

    async def _on_gateway(self, session: _Session, payload: dict) -> None:
        op, d = payload.get("op"), payload.get("d")
        logged = copy.deepcopy(payload)
        if isinstance(logged.get("d"), dict) and "token" in logged["d"]:
            logged["d"]["token"] = "***"
        self.gateway_received.append(logged)
        if op == 1:  # heartbeat
            await self._send(session, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:  # identify
            await self._identify(session, d or {})
        elif op == 6:  # resume
            d = d or {}
            sid = d.get("session_id")
            if d.get("token") != self.token or sid not in self._known_sessions:
                await self._send(session, {"op": 9, "d": False, "s": None, "t": None})
                return
            session.session_id, session.seq = sid, self._known_sessions[sid]
            session.intents = self._known_intents.get(sid, 0)
            self._session = session
            self.resumed += 1
            await self._dispatch(session, "RESUMED", {"_trace": ["emulator"]})
        elif op == 8:  # request guild members
            await self._members_chunk(session, d or {})
        # op 3 (presence), op 4 (voice state) and anything else: recorded and ignored

    async def _identify(self, session: _Session, d: dict) -> None:
        if session.session_id is not None:
            await session.ws.close(code=4005, message=b"Already authenticated.")
            return
        if d.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        if "intents" not in d:
            await session.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        session.intents = int(d["intents"])
        shard = d.get("shard")
        session.shard = (int(shard[0]), int(shard[1])) if shard else None
        session.session_id = secrets.token_hex(16)
        guild_ids = [g for g in self._guilds if self._on_shard(session, g)]
        ready = {
            "v": 10, "user": copy.deepcopy(self._bot_user), "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
            "session_id": session.session_id, "session_type": "normal", "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0}, "private_channels": [], "relationships": [],
            "presences": [], "guild_join_requests": [], "user_settings": {}, "geo_ordered_rtc_regions": [], "auth": {},
            "_trace": ["emulator"],
        }
        if session.shard:
            ready["shard"] = list(session.shard)
        self._session = session
        await self._dispatch(session, "READY", ready)
        if session.intents & INTENT_GUILDS:
            for gid in guild_ids:
                await self._dispatch(session, "GUILD_CREATE", self._guild_payload(gid, members=bool(session.intents & INTENT_GUILD_MEMBERS)))
        self._known_intents[session.session_id] = session.intents
        self.identified.set()

    async def _members_chunk(self, session: _Session, d: dict) -> None:
        gid = int(d.get("guild_id") or 0)
        if gid not in self._guilds:
            return
        wanted = {int(u) for u in d.get("user_ids") or []}
        query = (d.get("query") or "").lower()
        members = []
        for uid in self._guilds[gid]["members"]:
            if wanted and uid not in wanted:
                continue
            if query and not self._users[uid]["username"].lower().startswith(query):
                continue
            members.append(self._member_payload(gid, uid))
        limit = int(d.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk = {"guild_id": str(gid), "members": members, "chunk_index": 0, "chunk_count": 1,
                 "not_found": [str(u) for u in wanted if u not in self._guilds[gid]["members"]]}
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        await self._dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _on_shard(self, session: _Session, guild_id: int) -> bool:
        if not session.shard or session.shard[1] <= 1:
            return True
        return (guild_id >> 22) % session.shard[1] == session.shard[0]

    async def _send(self, session: _Session, payload: dict) -> None:
        async with session.lock:
            if session.ws.closed:
                raise AssertionError("the bot's gateway connection is closed")
            await session.ws.send_str(json.dumps(payload))

    async def _dispatch(self, session: _Session, event: str, data: dict) -> None:
        async with session.lock:
            if session.ws.closed:
                raise AssertionError("the bot's gateway connection is closed")
            session.seq += 1
            if session.session_id:
                self._known_sessions[session.session_id] = session.seq
            await session.ws.send_str(json.dumps({"op": 0, "t": event, "s": session.seq, "d": data}))

    def _require_session(self) -> _Session:
        session = self._session
        if session is None or session.ws.closed:
            raise AssertionError("the bot is not connected to the emulated gateway (await emu.identified.wait() first)")
        return session

    # ------------------------------------------------------------------ interactions

    async def _interact(self, kind: int, user_id: int, data: dict, *, guild_id: int | None, channel_id: int | None,
                        message: dict | None = None) -> int:
        session = self._require_session()
        iid = self._next_id()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        user = self._ensure_user(user_id)
        payload: dict[str, Any] = {
            "id": str(iid), "application_id": str(self.application_id), "type": kind, "token": token, "version": 1,
            "data": data, "locale": "en-US", "entitlements": [], "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "app_permissions": str(self._permissions(guild_id, self.bot_user_id) if guild_id else self.bot_permissions),
        }
        if guild_id is not None:
            guild = self._guild(guild_id)
            if user_id not in guild["members"]:
                self.add_member(guild_id, user_id, user["username"])
            if channel_id is None:
                channel_id = guild["channels"][0] if guild["channels"] else self._next_id()
                if channel_id not in self._channels:
                    self.add_channel(guild_id, channel_id)
            channel = self._channels.get(channel_id)
            if channel is None or channel.get("guild_id") != str(guild_id):
                raise AssertionError(f"channel {channel_id} is not a channel of guild {guild_id} (add_channel it)")
            perms = self._permissions(guild_id, user_id)
            payload.update({
                "guild_id": str(guild_id), "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
                "guild_locale": "en-US", "channel_id": str(channel_id),
                "channel": {**copy.deepcopy(channel), "permissions": str(perms)},
                "member": self._member_payload(guild_id, user_id, permissions=True),
                "context": 0, "authorizing_integration_owners": {"0": str(guild_id)},
            })
        else:
            channel_id = self._dm_channel(user_id, channel_id)
            payload.update({"user": copy.deepcopy(user), "channel_id": str(channel_id),
                            "channel": copy.deepcopy(self._channels[channel_id]), "context": 1})
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        self._interactions[iid] = {
            "id": iid, "token": token, "type": kind, "user_id": user_id, "guild_id": guild_id, "channel_id": channel_id,
            "created": time.monotonic(), "ack": None, "original_id": None, "name": data.get("name"),
            "message_id": int(message["id"]) if message else None,
        }
        await self._dispatch(session, "INTERACTION_CREATE", payload)
        return iid

    def _find_command(self, name: str, kind: int, user_id: int, guild_id: int | None) -> dict:
        scopes = ([guild_id] if guild_id is not None else []) + ["global"]
        for scope in scopes:
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == kind:
                    self._check_command_allowed(command, user_id, guild_id)
                    return command
        known = {str(scope): [c["name"] for c in cmds] for scope, cmds in self.commands.items()}
        where = f"guild {guild_id}" if guild_id is not None else "DMs (global commands only)"
        raise AssertionError(f"the bot has not synced a /{name} command usable in {where}; synced: {known}")

    def _check_command_allowed(self, command: dict, user_id: int, guild_id: int | None) -> None:
        contexts = command.get("contexts")
        if guild_id is None:
            if command.get("dm_permission") is False or (contexts is not None and 1 not in contexts):
                raise AssertionError(f"/{command['name']} is not available in DMs (dm_permission/contexts)")
            return
        if contexts is not None and 0 not in contexts:
            raise AssertionError(f"/{command['name']} is not available in guilds (contexts={contexts})")
        required = command.get("default_member_permissions")
        if self.enforce_default_permissions and required not in (None, ""):
            have = self._permissions(guild_id, user_id)
            if int(required) & have != int(required):
                raise AssertionError(f"Discord would not offer /{command['name']} to user {user_id}: "
                                     f"default_member_permissions={required}, member has {have}")

    def _prepare_options(self, schema: list[dict], given: list[dict], *, autocomplete: bool, path: str) -> list[dict]:
        by_name = {o["name"]: o for o in schema}
        out = []
        for option in given:
            option = copy.deepcopy(option)
            spec = by_name.get(option.get("name"))
            if spec is None:
                raise AssertionError(f"/{path} has no option {option.get('name')!r}; synced: {sorted(by_name)}")
            kind = option.setdefault("type", spec["type"])
            if kind != spec["type"]:
                raise AssertionError(f"/{path} option {spec['name']!r} is type {spec['type']}, not {kind}")
            if kind in (1, 2):
                option["options"] = self._prepare_options(spec.get("options") or [], option.get("options") or [],
                                                          autocomplete=autocomplete, path=f"{path} {spec['name']}")
            elif kind in SNOWFLAKE_OPTION_TYPES:
                option["value"] = str(option["value"])
            elif not (autocomplete and option.get("focused")):
                self._check_value(spec, option.get("value"), path)
            out.append(option)
        subcommand = any(o["type"] in (1, 2) for o in schema)
        if not autocomplete and not subcommand:
            missing = [o["name"] for o in schema if o.get("required") and o["name"] not in {g["name"] for g in out}]
            if missing:
                raise AssertionError(f"/{path} is missing required options {missing}")
        if not autocomplete and subcommand and len(out) != 1:
            raise AssertionError(f"/{path} needs exactly one subcommand, got {out}")
        return out

    @staticmethod
    def _check_value(spec: dict, value: Any, path: str) -> None:
        name, kind = spec["name"], spec["type"]
        types = OPTION_VALUE_TYPES.get(kind)
        if types and (not isinstance(value, types) or (kind in (4, 10) and isinstance(value, bool))):
            raise AssertionError(f"/{path} option {name!r} (type {kind}) cannot hold {value!r}")
        choices = spec.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise AssertionError(f"/{path} option {name!r} must be one of {[c['value'] for c in choices]}, got {value!r}")
        if kind in (4, 10):
            if spec.get("min_value") is not None and value < spec["min_value"]:
                raise AssertionError(f"/{path} option {name!r} below min_value {spec['min_value']}")
            if spec.get("max_value") is not None and value > spec["max_value"]:
                raise AssertionError(f"/{path} option {name!r} above max_value {spec['max_value']}")
        if kind == 3:
            if spec.get("min_length") is not None and len(value) < spec["min_length"]:
                raise AssertionError(f"/{path} option {name!r} shorter than min_length {spec['min_length']}")
            if spec.get("max_length") is not None and len(value) > spec["max_length"]:
                raise AssertionError(f"/{path} option {name!r} longer than max_length {spec['max_length']}")

    @classmethod
    def _leaf_options(cls, options: list[dict]) -> list[dict]:
        leaves = []
        for option in options:
            if option.get("type") in (1, 2):
                leaves.extend(cls._leaf_options(option.get("options") or []))
            else:
                leaves.append(option)
        return leaves

    @classmethod
    def _option_schema(cls, schema: list[dict], given: list[dict], name: str) -> dict | None:
        for option in given:
            spec = next((s for s in schema if s["name"] == option["name"]), None)
            if spec is None:
                continue
            if option.get("type") in (1, 2):
                found = cls._option_schema(spec.get("options") or [], option.get("options") or [], name)
                if found:
                    return found
            elif option["name"] == name:
                return spec
        return None

    def _resolved(self, options: list[dict], guild_id: int | None) -> dict:
        resolved: dict[str, dict] = {}
        for option in self._leaf_options(options):
            kind, value = option["type"], option.get("value")
            if kind not in SNOWFLAKE_OPTION_TYPES or not str(value).isdigit():
                continue
            ident = int(value)
            if kind in (6, 9) and ident in self._users:
                resolved.setdefault("users", {})[value] = copy.deepcopy(self._users[ident])
                if guild_id is not None and ident in self._guilds[guild_id]["members"]:
                    member = self._member_payload(guild_id, ident, permissions=True)
                    member.pop("user")
                    resolved.setdefault("members", {})[value] = member
            if kind in (8, 9) and guild_id is not None and ident in self._guilds[guild_id]["roles"]:
                resolved.setdefault("roles", {})[value] = copy.deepcopy(self._guilds[guild_id]["roles"][ident])
            if kind == 7 and ident in self._channels:
                channel = copy.deepcopy(self._channels[ident])
                perms = self._permissions(guild_id, self.bot_user_id) if guild_id else self.bot_permissions
                resolved.setdefault("channels", {})[value] = {**channel, "name": channel.get("name", ""), "permissions": str(perms)}
        return resolved

    @classmethod
    def _find_component(cls, components: list[dict], custom_id: str) -> dict | None:
        for component in components:
            if component.get("custom_id") == custom_id:
                return component
            for key in ("components", "accessory"):
                inner = component.get(key)
                if isinstance(inner, dict):
                    inner = [inner]
                if inner:
                    found = cls._find_component(inner, custom_id)
                    if found:
                        return found
        return None

    # ------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        record = {"method": request.method, "path": path, "query": dict(request.query), "status": None}
        self.requests.append(record)
        try:
            response = await self._route(request, path)
        except ApiError as exc:
            response = exc.response()
        record["status"] = response.status
        return response

    async def _route(self, request: web.Request, path: str) -> web.StreamResponse:
        method = request.method
        matched_path = False
        for route_method, pattern, handler, needs_auth in self._routes():
            match = re.fullmatch(pattern, path)
            if not match:
                continue
            matched_path = True
            if route_method != method:
                continue
            if needs_auth and (self.token_revoked or request.headers.get("Authorization") != f"Bot {self.token}"):
                raise ApiError(401, 0, "401: Unauthorized")
            return await handler(request, **match.groupdict())
        if matched_path:
            raise ApiError(405, 0, "405: Method Not Allowed")
        raise ApiError(404, 0, "404: Not Found")

    def _routes(self) -> list[tuple[str, str, Callable, bool]]:
        snow = r"(?P<{}>\d+)"
        return [
            ("GET", r"/users/@me", self._get_me, True),
            ("GET", r"/oauth2/applications/@me", self._get_application, True),
            ("GET", r"/gateway", self._get_gateway, False),
            ("GET", r"/gateway/bot", self._get_gateway_bot, True),
            ("GET", r"/users/" + snow.format("user_id"), self._get_user, True),
            ("POST", r"/users/@me/channels", self._create_dm, True),
            ("GET", r"/applications/" + snow.format("app_id") + r"/commands", self._get_commands, True),
            ("PUT", r"/applications/" + snow.format("app_id") + r"/commands", self._put_commands, True),
            ("GET", r"/applications/" + snow.format("app_id") + r"/guilds/" + snow.format("guild_id") + r"/commands",
             self._get_commands, True),
            ("PUT", r"/applications/" + snow.format("app_id") + r"/guilds/" + snow.format("guild_id") + r"/commands",
             self._put_commands, True),
            ("POST", r"/interactions/" + snow.format("interaction_id") + r"/(?P<token>[^/]+)/callback", self._callback, False),
            ("POST", r"/webhooks/" + snow.format("app_id") + r"/(?P<token>[^/]+)", self._followup, False),
            ("GET", r"/webhooks/" + snow.format("app_id") + r"/(?P<token>[^/]+)/messages/(?P<message_id>@original|\d+)",
             self._webhook_message, False),
            ("PATCH", r"/webhooks/" + snow.format("app_id") + r"/(?P<token>[^/]+)/messages/(?P<message_id>@original|\d+)",
             self._webhook_message, False),
            ("DELETE", r"/webhooks/" + snow.format("app_id") + r"/(?P<token>[^/]+)/messages/(?P<message_id>@original|\d+)",
             self._webhook_message, False),
            ("GET", r"/channels/" + snow.format("channel_id"), self._get_channel, True),
            ("POST", r"/channels/" + snow.format("channel_id") + r"/messages", self._post_message, True),
            ("GET", r"/channels/" + snow.format("channel_id") + r"/messages/" + snow.format("message_id"),
             self._channel_message, True),
            ("PATCH", r"/channels/" + snow.format("channel_id") + r"/messages/" + snow.format("message_id"),
             self._channel_message, True),
            ("DELETE", r"/channels/" + snow.format("channel_id") + r"/messages/" + snow.format("message_id"),
             self._channel_message, True),
            ("POST", r"/channels/" + snow.format("channel_id") + r"/typing", self._typing, True),
            ("GET", r"/guilds/" + snow.format("guild_id"), self._get_guild, True),
            ("GET", r"/guilds/" + snow.format("guild_id") + r"/channels", self._get_guild_channels, True),
            ("GET", r"/guilds/" + snow.format("guild_id") + r"/roles", self._get_guild_roles, True),
            ("GET", r"/guilds/" + snow.format("guild_id") + r"/members/" + snow.format("user_id"), self._get_member, True),
        ]

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json(self._bot_user)

    async def _get_application(self, request: web.Request) -> web.Response:
        owner = {"id": "1", "username": "developer", "discriminator": "0", "global_name": None, "avatar": None, "public_flags": 0}
        return _json({
            "id": str(self.application_id), "name": self.bot_name, "icon": None, "description": "", "summary": "",
            "type": None, "bot": copy.deepcopy(self._bot_user), "bot_public": True, "bot_require_code_grant": False,
            "verify_key": "0" * 64, "flags": 0, "owner": owner, "team": None, "rpc_origins": [], "tags": [],
            "redirect_uris": [], "interactions_endpoint_url": None, "approximate_guild_count": len(self._guilds),
        })

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url, "shards": 1,
                      "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}})

    async def _get_user(self, request: web.Request, user_id: str) -> web.Response:
        user = self._users.get(int(user_id))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return _json(user)

    async def _create_dm(self, request: web.Request) -> web.Response:
        body, _ = await self._read_body(request)
        recipient = (body or {}).get("recipient_id")
        if recipient is None or int(recipient) not in self._users or int(recipient) == self.bot_user_id:
            raise _form_error("recipient_id", "USER_NOT_FOUND", "Unknown user")
        user_id = int(recipient)
        channel_id = self._dm_channel(user_id, None)
        self.dm_channels[user_id] = channel_id
        return _json(self._channels[channel_id])

    async def _get_commands(self, request: web.Request, app_id: str, guild_id: str | None = None) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        return _json(self.commands.get(scope, []))

    async def _put_commands(self, request: web.Request, app_id: str, guild_id: str | None = None) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        body, _ = await self._read_body(request)
        if not isinstance(body, list):
            raise _form_error("_root", "LIST_TYPE_CONVERT", "Must be an array.")
        if len(body) > 100:
            raise ApiError(400, 30032, "Maximum number of application commands reached (100)")
        previous = {(c["name"], c.get("type", 1)): c["id"] for c in self.commands.get(scope, [])}
        seen: set[tuple[str, int]] = set()
        echoed = []
        for index, command in enumerate(body):
            self._validate_command(command, index)
            key = (command["name"], command.get("type", 1))
            if key in seen:
                raise _form_error(str(index), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
            seen.add(key)
            entry = {
                "type": 1, "default_member_permissions": None, "dm_permission": True, "contexts": None,
                "integration_types": [0], "nsfw": False, "name_localizations": None, "description_localizations": None,
                "description": "", **copy.deepcopy(command),
                "id": previous.get(key) or str(self._next_id()), "application_id": str(self.application_id),
                "version": str(self._next_id()),
            }
            if guild_id is not None:
                entry["guild_id"] = str(guild_id)
            echoed.append(entry)
        self.commands[scope] = echoed
        return _json(echoed)

    def _command_scope(self, guild_id: str | None) -> Any:
        if guild_id is None:
            return "global"
        if int(guild_id) not in self._guilds:
            raise ApiError(403, 50001, "Missing Access")
        return int(guild_id)

    def _check_app(self, app_id: str) -> None:
        if int(app_id) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")

    @classmethod
    def _validate_command(cls, command: dict, index: int) -> None:
        kind = command.get("type", 1)
        name = command.get("name") or ""
        if not COMMAND_NAME.match(name) or (kind == 1 and name != name.lower()):
            raise _form_error(f"{index}.name", "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")
        description = command.get("description") or ""
        if kind == 1 and not 1 <= len(description) <= 100:
            raise _form_error(f"{index}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if kind != 1 and description:
            raise _form_error(f"{index}.description", "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION", "Context menu commands "
                              "cannot have description")
        cls._validate_options(command.get("options") or [], f"{index}.options")

    @classmethod
    def _validate_options(cls, options: list[dict], where: str) -> None:
        if len(options) > 25:
            raise _form_error(where, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        names: set[str] = set()
        optional_seen = False
        for i, option in enumerate(options):
            name = option.get("name") or ""
            if not COMMAND_NAME.match(name) or name != name.lower():
                raise _form_error(f"{where}.{i}.name", "APPLICATION_COMMAND_INVALID_NAME", f"Option name is invalid: {name!r}")
            if name in names:
                raise _form_error(f"{where}.{i}.name", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique")
            names.add(name)
            if not 1 <= len(option.get("description") or "") <= 100:
                raise _form_error(f"{where}.{i}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            if option.get("type") in (1, 2):
                cls._validate_options(option.get("options") or [], f"{where}.{i}.options")
                continue
            if option.get("required"):
                if optional_seen:
                    raise _form_error(f"{where}.{i}", "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                                      "Required options must be placed before non-required options")
            else:
                optional_seen = True
            if option.get("autocomplete") and option.get("choices"):
                raise _form_error(f"{where}.{i}.autocomplete", "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_WITH_CHOICES",
                                  "Autocomplete cannot be enabled with choices")
            if len(option.get("choices") or []) > 25:
                raise _form_error(f"{where}.{i}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")

    async def _callback(self, request: web.Request, interaction_id: str, token: str) -> web.Response:
        inter = self._interactions.get(int(interaction_id))
        if inter is None or inter["token"] != token:
            raise ApiError(404, 10062, "Unknown interaction")
        body, files = await self._read_body(request)
        if inter["ack"] is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if self.response_deadline is not None and time.monotonic() - inter["created"] > self.response_deadline:
            raise ApiError(404, 10062, "Unknown interaction")
        if not isinstance(body, dict) or "type" not in body:
            raise _form_error("type", "BASE_TYPE_REQUIRED", "This field is required")
        kind, data = body["type"], body.get("data") or {}
        if kind not in CALLBACK_TYPES.get(inter["type"], set()):
            raise _form_error("type", "INTERACTION_CALLBACK_TYPE_INVALID",
                              f"Callback type {kind} is invalid for interaction type {inter['type']}")
        message: dict | None = None
        if kind == 4:
            self._validate_message(data, files)
            message = self._new_message(inter["channel_id"], data, files, interaction=inter,
                                        flags=int(data.get("flags") or 0) & ~FLAG_LOADING)
            inter["original_id"] = int(message["id"])
        elif kind == 5:
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            message = self._new_message(inter["channel_id"], {"content": ""}, [], interaction=inter, flags=flags)
            inter["original_id"] = int(message["id"])
        elif kind in (6, 7):
            if inter["message_id"] is None:
                raise ApiError(400, 50035, "Interaction has no message to update")
            inter["original_id"] = inter["message_id"]
            message = self.messages[inter["message_id"]]
            if kind == 7:
                self._validate_message(data, files, edit=True)
                self._apply_edit(message, data, files)
        elif kind == 8:
            choices = data.get("choices")
            if not isinstance(choices, list) or len(choices) > 25:
                raise _form_error("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        elif kind == 9:
            for key in ("custom_id", "title", "components"):
                if not data.get(key):
                    raise _form_error(f"data.{key}", "BASE_TYPE_REQUIRED", "This field is required")
        inter["ack"] = kind
        self._record(self.responses, {
            "interaction_id": inter["id"], "type": kind, "data": copy.deepcopy(data), "token": token,
            "message_id": int(message["id"]) if message else None, "files": self._file_records(files),
        })
        answer: dict[str, Any] = {"interaction": {
            "id": str(inter["id"]), "type": inter["type"], "response_message_id": message["id"] if message else None,
            "response_message_loading": kind == 5, "response_message_ephemeral": bool(message and message["flags"] & FLAG_EPHEMERAL),
        }}
        if message is not None and kind in (4, 5, 7):
            answer["resource"] = {"type": kind, "message": copy.deepcopy(message)}
        return _json(answer)

    def _webhook_interaction(self, app_id: str, token: str) -> dict:
        inter = next((i for i in self._interactions.values() if i["token"] == token), None)
        if int(app_id) != self.application_id or inter is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        if inter["ack"] is None or inter["type"] == AUTOCOMPLETE:
            raise ApiError(404, 10015, "Unknown Webhook")
        return inter

    async def _followup(self, request: web.Request, app_id: str, token: str) -> web.Response:
        inter = self._webhook_interaction(app_id, token)
        body, files = await self._read_body(request)
        data = body or {}
        self._validate_message(data, files)
        original = self.messages.get(inter["original_id"] or 0)
        if inter["ack"] == 5 and original is not None and original["flags"] & FLAG_LOADING:
            # Discord: the first followup after a "thinking" defer replaces the thinking message (keeping its ephemerality)
            self._apply_edit(original, data, files)
            original["flags"] &= ~FLAG_LOADING
            message = original
        else:
            message = self._new_message(inter["channel_id"], data, files, interaction=inter,
                                        flags=int(data.get("flags") or 0) & ~FLAG_LOADING)
        self._record(self.followups, {
            "token": token, "method": "POST", "data": copy.deepcopy(data), "interaction_id": inter["id"],
            "message_id": int(message["id"]), "files": self._file_records(files),
        })
        if request.query.get("wait", "").lower() in ("1", "true"):
            return _json(message)
        return web.Response(status=204)

    async def _webhook_message(self, request: web.Request, app_id: str, token: str, message_id: str) -> web.Response:
        inter = self._webhook_interaction(app_id, token)
        mid = inter["original_id"] if message_id == "@original" else int(message_id)
        message = self.messages.get(mid or 0)
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        if request.method == "GET":
            return _json(message)
        if request.method == "DELETE":
            self.messages.pop(mid, None)
            self._record(self.followups, {"token": token, "method": "DELETE", "data": None, "interaction_id": inter["id"],
                                          "message_id": mid, "files": []})
            return web.Response(status=204)
        body, files = await self._read_body(request)
        data = body or {}
        self._validate_message(data, files, edit=True)
        self._apply_edit(message, data, files)
        message["flags"] &= ~FLAG_LOADING
        self._record(self.followups, {"token": token, "method": "PATCH", "data": copy.deepcopy(data),
                                      "interaction_id": inter["id"], "message_id": mid, "files": self._file_records(files)})
        return _json(message)

    async def _get_channel(self, request: web.Request, channel_id: str) -> web.Response:
        return _json(self._channel(int(channel_id)))

    async def _post_message(self, request: web.Request, channel_id: str) -> web.Response:
        cid = int(channel_id)
        fault = self._take_fault(cid)
        if fault is not None:
            raise self._fault_error(fault)
        channel = self._channel(cid)
        body, files = await self._read_body(request)
        data = body or {}
        self._validate_message(data, files)
        message = self._new_message(cid, data, files, flags=int(data.get("flags") or 0) & ~(FLAG_EPHEMERAL | FLAG_LOADING))
        channel["last_message_id"] = message["id"]
        self._record(self.channel_messages, {
            **self._message_record(message), "guild_id": self._channel_guild(cid), "payload": copy.deepcopy(data),
            "files": self._file_records(files),
        })
        return _json(message)

    async def _channel_message(self, request: web.Request, channel_id: str, message_id: str) -> web.Response:
        cid, mid = int(channel_id), int(message_id)
        self._channel(cid)
        message = self.messages.get(mid)
        if message is None or int(message["channel_id"]) != cid or message["flags"] & FLAG_EPHEMERAL:
            raise ApiError(404, 10008, "Unknown Message")
        if request.method == "GET":
            return _json(message)
        if request.method == "DELETE":
            self.messages.pop(mid)
            self.message_edits.append({"channel_id": cid, "message_id": mid, "method": "DELETE", "data": None})
            return web.Response(status=204)
        if message["author"]["id"] != str(self.bot_user_id) or message.get("webhook_id"):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body, files = await self._read_body(request)
        data = body or {}
        self._validate_message(data, files, edit=True)
        self._apply_edit(message, data, files)
        self.message_edits.append({"channel_id": cid, "message_id": mid, "method": "PATCH", "data": copy.deepcopy(data),
                                   "files": self._file_records(files)})
        self._notify()
        return _json(message)

    async def _typing(self, request: web.Request, channel_id: str) -> web.Response:
        self._channel(int(channel_id))
        return web.Response(status=204)

    async def _get_guild(self, request: web.Request, guild_id: str) -> web.Response:
        gid = int(guild_id)
        if gid not in self._guilds:
            raise ApiError(404, 10004, "Unknown Guild")
        payload = self._guild_payload(gid, members=False)
        for key in ("channels", "members", "threads", "voice_states", "presences", "joined_at", "large", "member_count"):
            payload.pop(key, None)
        payload["approximate_member_count"] = len(self._guilds[gid]["members"])
        payload["approximate_presence_count"] = 0
        return _json(payload)

    async def _get_guild_channels(self, request: web.Request, guild_id: str) -> web.Response:
        guild = self._guild_or_404(int(guild_id))
        return _json([self._channels[c] for c in guild["channels"]])

    async def _get_guild_roles(self, request: web.Request, guild_id: str) -> web.Response:
        guild = self._guild_or_404(int(guild_id))
        return _json(list(guild["roles"].values()))

    async def _get_member(self, request: web.Request, guild_id: str, user_id: str) -> web.Response:
        guild = self._guild_or_404(int(guild_id))
        if int(user_id) not in guild["members"]:
            raise ApiError(404, 10007, "Unknown Member")
        return _json(self._member_payload(int(guild_id), int(user_id)))

    # ------------------------------------------------------------------ messages

    async def _read_body(self, request: web.Request) -> tuple[Any, list[dict]]:
        """The JSON body, or a multipart body's payload_json, and the uploaded files[n]."""
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/"):
            form = await request.post()
            try:
                payload = json.loads(form.get("payload_json") or "{}")
            except ValueError:
                raise ApiError(400, 50109, "The request body contains invalid JSON.") from None
            files = []
            for key, value in form.items():
                match = re.fullmatch(r"files\[(\d+)\]", key)
                if match and isinstance(value, web.FileField):
                    files.append({"index": int(match.group(1)), "filename": value.filename,
                                  "content_type": value.content_type, "data": value.file.read()})
            return payload, sorted(files, key=lambda f: f["index"])
        text = await request.text()
        if not text:
            return None, []
        try:
            return json.loads(text), []
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None

    @staticmethod
    def _validate_message(data: dict, files: list[dict], *, edit: bool = False) -> None:
        if not isinstance(data, dict):
            raise _form_error("_root", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        content = data.get("content")
        if content is not None and len(str(content)) > 2000:
            raise _form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = data.get("embeds") or []
        if len(embeds) > 10:
            raise _form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        total = 0
        for i, embed in enumerate(embeds):
            for key, limit in EMBED_LIMITS.items():
                if len(embed.get(key) or "") > limit:
                    raise _form_error(f"embeds.{i}.{key}", "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
            fields = embed.get("fields") or []
            if len(fields) > 25:
                raise _form_error(f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            for j, fld in enumerate(fields):
                if not fld.get("name") or len(fld["name"]) > 256:
                    raise _form_error(f"embeds.{i}.fields.{j}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 256 in length.")
                if not fld.get("value") or len(fld["value"]) > 1024:
                    raise _form_error(f"embeds.{i}.fields.{j}.value", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 1024 in length.")
                total += len(fld["name"]) + len(fld["value"])
            total += len(embed.get("title") or "") + len(embed.get("description") or "")
            total += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
        if total > 6000:
            raise _form_error("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
        rows = data.get("components") or []
        if not int(data.get("flags") or 0) & (1 << 15) and len(rows) > 5:
            raise _form_error("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
        if edit:
            return
        if not (content or embeds or rows or files or data.get("sticker_ids") or data.get("poll")):
            raise ApiError(400, 50006, "Cannot send an empty message")

    def _new_message(self, channel_id: int, data: dict, files: list[dict], *, interaction: dict | None = None,
                     flags: int = 0) -> dict:
        mid = self._next_id()
        message: dict[str, Any] = {
            "id": str(mid), "channel_id": str(channel_id), "author": copy.deepcopy(self._bot_user),
            "content": data.get("content") or "", "timestamp": _now_iso(), "edited_timestamp": None, "tts": bool(data.get("tts")),
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": self._attachments(channel_id, data, files),
            "embeds": copy.deepcopy(data.get("embeds") or []), "components": self._components(data.get("components") or []),
            "pinned": False, "type": 0, "flags": flags,
        }
        if data.get("message_reference"):
            message["message_reference"] = copy.deepcopy(data["message_reference"])
            message["type"] = 19
        if interaction is not None:
            user = self._users[interaction["user_id"]]
            message.update({
                "webhook_id": str(self.application_id), "application_id": str(self.application_id),
                "type": 20 if interaction["type"] == APPLICATION_COMMAND else 0,
                "interaction_metadata": {"id": str(interaction["id"]), "type": interaction["type"], "user": copy.deepcopy(user),
                                         "authorizing_integration_owners": {}},
            })
            if interaction["type"] == APPLICATION_COMMAND:
                message["interaction_metadata"]["name"] = interaction["name"]
        self.messages[mid] = message
        return message

    def _apply_edit(self, message: dict, data: dict, files: list[dict]) -> None:
        for key in ("content", "embeds"):
            if key in data:
                message[key] = copy.deepcopy(data[key]) if data[key] is not None else ("" if key == "content" else [])
        if "components" in data:
            message["components"] = self._components(data["components"] or [])
        if "flags" in data and data["flags"] is not None:
            message["flags"] = (message["flags"] & (FLAG_EPHEMERAL | FLAG_LOADING)) | (int(data["flags"]) & ~(FLAG_EPHEMERAL | FLAG_LOADING))
        if "attachments" in data or files:
            message["attachments"] = self._attachments(int(message["channel_id"]), data, files, existing=message["attachments"])
        message["edited_timestamp"] = _now_iso()

    def _attachments(self, channel_id: int, data: dict, files: list[dict], existing: list[dict] | None = None) -> list[dict]:
        by_index = {f["index"]: f for f in files}
        kept = {a["id"]: a for a in existing or []}
        wanted = data.get("attachments")
        if wanted is None:
            wanted = [{"id": f["index"], "filename": f["filename"]} for f in files]
            if existing:
                wanted = [{"id": a["id"]} for a in existing] + wanted
        result = []
        for spec in wanted:
            if str(spec.get("id")) in kept:
                result.append(kept[str(spec["id"])])
                continue
            upload = by_index.get(int(spec.get("id", -1))) if str(spec.get("id", "")).isdigit() else None
            if upload is None:
                continue
            aid = self._next_id()
            self._files[aid] = upload["data"]
            filename = spec.get("filename") or upload["filename"]
            attachment = {
                "id": str(aid), "filename": filename, "size": len(upload["data"]),
                "url": f"http://127.0.0.1:{self.port}/attachments/{channel_id}/{aid}/{filename}",
                "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{channel_id}/{aid}/{filename}",
                "content_type": upload["content_type"],
            }
            if spec.get("description"):
                attachment["description"] = spec["description"]
            result.append(attachment)
        return result

    def _components(self, components: list[dict]) -> list[dict]:
        """The components as Discord stores them: the bot's, with numeric ids filled in where missing."""
        components = copy.deepcopy(components)
        counter = [0]

        def used(items: list[dict]) -> None:
            for item in items:
                if isinstance(item.get("id"), int):
                    counter[0] = max(counter[0], item["id"])
                used(item.get("components") or [])

        def fill(items: list[dict]) -> None:
            for item in items:
                if not isinstance(item.get("id"), int):
                    counter[0] += 1
                    item["id"] = counter[0]
                fill(item.get("components") or [])

        used(components)
        fill(components)
        return components

    def _file_records(self, files: list[dict]) -> list[dict]:
        return [{"filename": f["filename"], "content_type": f["content_type"], "data": f["data"]} for f in files]

    def _message_record(self, message: dict) -> dict:
        record = copy.deepcopy(message)
        record["id"] = int(message["id"])
        record["channel_id"] = int(message["channel_id"])
        for attachment in record["attachments"]:
            attachment["data"] = self._files.get(int(attachment["id"]), b"")
        return record

    def _take_fault(self, channel_id: int) -> _Fault | None:
        for fault in self._faults:
            if fault.channel_id is None or fault.channel_id == channel_id:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _fault_error(fault: _Fault) -> ApiError:
        if fault.status != 429:
            return ApiError(fault.status, fault.code, fault.message)
        retry = float(fault.retry_after or 0.0)
        headers = {
            "Retry-After": str(max(1, math.ceil(retry))), "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry:.3f}", "X-RateLimit-Reset-After": f"{retry:.3f}",
            "X-RateLimit-Bucket": "emulated-channel-messages", "X-RateLimit-Scope": "user", "Via": "1.1 google",
        }
        return ApiError(429, fault.code, fault.message, headers=headers, extra={"retry_after": retry, "global": False})

    # ------------------------------------------------------------------ world helpers

    def _next_id(self) -> int:
        """A fresh snowflake (dated now, strictly increasing)."""
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_id = max(self._last_id + 1, candidate)
        return self._last_id

    @staticmethod
    def _role(role_id: int, name: str, permissions: int, position: int) -> dict:
        return {"id": str(role_id), "name": name, "permissions": str(permissions), "position": position, "color": 0,
                "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None}, "hoist": False,
                "managed": False, "mentionable": False, "flags": 0, "icon": None, "unicode_emoji": None}

    def _guild(self, guild_id: int) -> dict:
        guild = self._guilds.get(guild_id)
        if guild is None:
            raise AssertionError(f"no guild {guild_id} (add_guild it first)")
        return guild

    def _guild_or_404(self, guild_id: int) -> dict:
        guild = self._guilds.get(guild_id)
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    def _channel(self, channel_id: int) -> dict:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _channel_guild(self, channel_id: int) -> int | None:
        channel = self._channels.get(channel_id) or {}
        return int(channel["guild_id"]) if channel.get("guild_id") else None

    def _ensure_user(self, user_id: int) -> dict:
        if user_id not in self._users:
            self.user(user_id, f"user{user_id}")
        return self._users[user_id]

    def _dm_channel(self, user_id: int, channel_id: int | None) -> int:
        user = self._ensure_user(user_id)
        if channel_id is None:
            channel_id = self._dm_by_user.get(user_id)
        if channel_id is None:
            channel_id = self._next_id()
            self.add_channel(None, channel_id)
        channel = self._channels.get(channel_id)
        if channel is None:
            self.add_channel(None, channel_id)
            channel = self._channels[channel_id]
        if channel["type"] != 1:
            raise AssertionError(f"channel {channel_id} is not a DM channel")
        if not channel["recipients"]:
            channel["recipients"] = [copy.deepcopy(user)]
        elif channel["recipients"][0]["id"] != str(user_id):
            raise AssertionError(f"DM channel {channel_id} belongs to user {channel['recipients'][0]['id']}")
        self._dm_by_user[user_id] = channel_id
        return channel_id

    def _permissions(self, guild_id: int | None, user_id: int) -> int:
        if guild_id is None:
            return self.bot_permissions
        guild = self._guilds[guild_id]
        if user_id == guild["owner_id"]:
            return ALL_PERMISSIONS
        member = guild["members"].get(user_id, {"roles": []})
        total = int(guild["roles"][guild_id]["permissions"])
        for role_id in member["roles"]:
            total |= int(guild["roles"][role_id]["permissions"])
        return ALL_PERMISSIONS if total & ADMINISTRATOR else total

    def _member_payload(self, guild_id: int, user_id: int, *, permissions: bool = False) -> dict:
        member = self._guilds[guild_id]["members"][user_id]
        payload = {
            "user": copy.deepcopy(self._users[user_id]), "roles": [str(r) for r in member["roles"]], "joined_at": member["joined_at"],
            "nick": None, "avatar": None, "banner": None, "deaf": False, "mute": False, "flags": 0, "pending": False,
            "premium_since": None, "communication_disabled_until": None,
        }
        if permissions:
            payload["permissions"] = str(self._permissions(guild_id, user_id))
        return payload

    def _guild_payload(self, guild_id: int, *, members: bool) -> dict:
        guild = self._guilds[guild_id]
        member_ids = list(guild["members"]) if members else [self.bot_user_id]
        return {
            "id": str(guild_id), "name": guild["name"], "icon": None, "splash": None, "discovery_splash": None, "banner": None,
            "owner_id": str(guild["owner_id"]), "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0, "nsfw_level": 0,
            "premium_tier": 0, "preferred_locale": "en-US", "features": [], "system_channel_id": None,
            "application_id": None, "description": None,
            "roles": copy.deepcopy(list(guild["roles"].values())), "emojis": [], "stickers": [],
            "channels": [copy.deepcopy(self._channels[c]) for c in guild["channels"]],
            "members": [self._member_payload(guild_id, uid) for uid in member_ids if uid in guild["members"]],
            "member_count": len(guild["members"]), "large": False, "unavailable": False, "joined_at": guild["joined_at"],
            "threads": [], "voice_states": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # ------------------------------------------------------------------ records

    def _record(self, records: list[dict], record: dict) -> None:
        records.append(record)
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    @staticmethod
    def _brief(records: list[dict]) -> list[dict]:
        keep = ("interaction_id", "type", "data", "method", "message_id", "channel_id", "id", "content")
        return [{k: r[k] for k in keep if k in r} for r in records]
