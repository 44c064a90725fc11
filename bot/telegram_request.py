"""A python-telegram-bot networking backend on aiohttp (PTB's documented BaseRequest extension point).

The default backend (httpx) scans its whole connection pool on every request; under a few hundred
commands a second that scan, not the bot, was the bottleneck. aiohttp is already the project's
HTTP client. Error messages carry only the exception's type: a URL holds the bot token.
"""

from __future__ import annotations

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """PTB requests over one aiohttp session with a bounded connection pool."""

    # aiohttp has no separate write timeout: a stalled upload is caught by the read timeout that follows it.
    def __init__(self, connection_pool_size: int = 16, read_timeout: float | None = 10.0,
                 connect_timeout: float | None = 10.0, pool_timeout: float | None = 10.0):
        self._pool = connection_pool_size
        self._read, self._connect, self._pool_timeout = read_timeout, connect_timeout, pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds the long-poll timeout to it for getUpdates)."""
        return self._read

    async def initialize(self) -> None:
        """Open the session."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._pool), trust_env=True)

    async def shutdown(self) -> None:
        """Close the session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=BaseRequest.DEFAULT_NONE, write_timeout=BaseRequest.DEFAULT_NONE,
                         connect_timeout=BaseRequest.DEFAULT_NONE, pool_timeout=BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        """One call to the Bot API; form-encoded, multipart when it carries files."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")

        def pick(value, default):
            return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value

        read = pick(read_timeout, self._read)
        timeout = aiohttp.ClientTimeout(connect=pick(pool_timeout, self._pool_timeout),
                                        sock_connect=pick(connect_timeout, self._connect), sock_read=read)
        data = None
        if request_data is not None:
            if request_data.contains_files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, part in request_data.multipart_data.items():
                    filename, content, mimetype = part if len(part) == 3 else (part[0], part[1], None)
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                data = form
            else:
                data = request_data.json_parameters
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError:
            raise TimedOut() from None
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}") from None
