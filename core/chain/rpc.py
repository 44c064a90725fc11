"""JSON-RPC over aiohttp to one chain: a list of URLs tried in order, back-off on limits, rotation on failure."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from core.errors import CoreError
from core.redact import scrub

log = logging.getLogger(__name__)

LIMIT_CODES = {-32005, -32090, 429}  # "limit exceeded" as nodes and providers spell it
MAX_PAUSE = 300.0  # never sit out longer than this on one Retry-After


class RpcError(CoreError):
    """Every URL of a chain failed this request; `kind` says how (rate-limited, timeout, http, rpc, bad-body)."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


class CallReverted(CoreError):
    """The node ran the call and it reverted (an answer, not an outage)."""


def masked(url: str) -> str:
    """How a URL is shown anywhere: its scheme and host, never its path or query (where keys live)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" + ("/…" if parts.path.strip("/") or parts.query else "")


@dataclass
class _Url:
    url: str
    paused_until: float = 0.0
    errors: int = 0


@dataclass
class RpcClient:
    """One chain's endpoints; `call` answers from the first URL that works, rotating past the others."""

    chain: str
    urls: list[str]
    session: aiohttp.ClientSession
    clock: Callable[[], float]
    timeout: float = 10.0
    requests: int = 0  # HTTP requests sent (the benchmark counts them)
    last_error: str = ""
    _state: list[_Url] = field(default_factory=list)
    _current: int = 0
    _ids: int = 0

    def __post_init__(self) -> None:
        self._state = [_Url(u) for u in self.urls]

    @property
    def url_in_use(self) -> str:
        return masked(self._state[self._current].url) if self._state else "none"

    async def call(self, method: str, params: list[Any]) -> Any:
        """The result of one JSON-RPC method, or RpcError once every URL has failed or is paused."""
        now = self.clock()
        failures: list[str] = []
        kind = "http"
        for step in range(len(self._state)):
            index = (self._current + step) % len(self._state)
            url = self._state[index]
            if url.paused_until > now:
                failures.append(f"{masked(url.url)} paused")
                kind = "rate-limited"
                continue
            try:
                result = await self._post(url.url, method, params)
            except _Limited as err:
                url.paused_until = now + min(err.retry_after, MAX_PAUSE)
                url.errors += 1
                kind, reason = "rate-limited", f"{masked(url.url)} rate-limited for {err.retry_after:.0f}s"
            except _Failed as err:
                url.errors += 1
                kind, reason = err.kind, f"{masked(url.url)}: {err}"
            else:
                self._current = index
                return result
            failures.append(reason)
            log.info("rpc %s: %s", self.chain, reason)
        self.last_error = scrub("; ".join(failures)) or "no RPC URL"
        raise RpcError(f"{self.chain} RPC: {self.last_error}", kind)

    async def _post(self, url: str, method: str, params: list[Any]) -> Any:
        self._ids += 1
        self.requests += 1
        body = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}
        try:
            async with self.session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                if resp.status == 429:
                    raise _Limited(_retry_after(resp.headers.get("Retry-After")))
                if resp.status != 200:
                    raise _Failed(f"HTTP {resp.status}", "http")
                text = await resp.text()
        except TimeoutError as err:
            raise _Failed(f"no answer in {self.timeout:.0f}s", "timeout") from err
        except aiohttp.ClientError as err:
            raise _Failed(type(err).__name__, "http") from err
        try:
            answer = json.loads(text)
        except ValueError as err:
            raise _Failed("the answer is not JSON", "bad-body") from err
        if not isinstance(answer, dict):
            raise _Failed("the answer is not a JSON object", "bad-body")
        error = answer.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            if code in LIMIT_CODES:
                data = error.get("data")
                wait = data.get("retryAfter") if isinstance(data, dict) else None
                raise _Limited(_retry_after(wait))
            if code == 3 or "revert" in str(error.get("message", "")).lower():
                raise CallReverted(str(error.get("message", "reverted"))[:120])
            raise _Failed(f"error {code}: {str(error.get('message', ''))[:80]}", "rpc")
        if "result" not in answer:
            raise _Failed("no result in the answer", "bad-body")
        return answer["result"]


class _Limited(Exception):
    def __init__(self, retry_after: float):
        super().__init__(f"retry after {retry_after}")
        self.retry_after = retry_after


class _Failed(Exception):
    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def _retry_after(value: object) -> float:
    """Seconds from a Retry-After value; 5 when it is missing or unreadable."""
    try:
        seconds = float(str(value))
    except ValueError:
        return 5.0
    return seconds if 0 < seconds < 86_400 else 5.0
