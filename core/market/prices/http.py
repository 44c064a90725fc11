"""One GET against a price or data API, with every way it can fail mapped to a SourceError."""

from __future__ import annotations

import aiohttp

from core.market.prices.base import SourceError, loads_strict

MAX_BODY = 4 * 1024 * 1024


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds (only the delta-seconds form; dates are rare for these APIs)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 24 * 3600 else None


async def get_json(
    session: aiohttp.ClientSession,
    source: str,
    url: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> object:
    """GET url and return its JSON; raise SourceError(kind) on any failure.

    Error details never include the URL or headers, so keys cannot reach a log.
    """
    try:
        async with session.get(
            url, params=params, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            if response.status in (418, 429):
                raise SourceError(
                    source, "rate-limited", f"HTTP {response.status}", retry_after_seconds(response.headers.get("Retry-After"))
                )
            if response.status >= 400:
                raise SourceError(source, f"http-{response.status}", f"HTTP {response.status}")
            # read() returns whatever the first chunk holds; read to the end, up to the cap.
            chunks, size = [], 0
            async for chunk in response.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > MAX_BODY:
                    raise SourceError(source, "bad-body", "answer too large")
                chunks.append(chunk)
            body = b"".join(chunks)
    except SourceError:
        raise
    except TimeoutError:
        raise SourceError(source, "timeout", f"no answer within {timeout:g}s") from None
    except aiohttp.ClientError as err:
        raise SourceError(source, "unreachable", type(err).__name__) from None
    if not body.strip():
        raise SourceError(source, "bad-body", "empty answer")
    try:
        return loads_strict(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SourceError(source, "bad-body", "not JSON") from None


class HttpSource:
    """Shared plumbing of the HTTP price sources: base URL, timeout, request count, which assets."""

    name = ""
    default_url = ""

    def __init__(self, session: aiohttp.ClientSession, base_url: str | None = None, timeout: float = 10.0):
        self.session = session
        self.base_url = (base_url or self.default_url).rstrip("/")
        self.timeout = timeout
        self.requests = 0  # HTTP requests made, for the feed's health and the benchmark

    def supports(self, asset) -> bool:
        """Whether this source has an id for the asset."""
        return asset.id_for(self.name) is not None

    async def get(self, path: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> object:
        """GET base_url + path as JSON (SourceError on any failure)."""
        self.requests += 1
        return await get_json(self.session, self.name, self.base_url + path, params=params, headers=headers, timeout=self.timeout)
