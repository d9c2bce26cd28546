"""The gateway's network to the services: aiohttp under httpx's client API.

httpx's own transport (httpcore on anyio) cost the gateway about a millisecond of CPU per
proxied request; aiohttp's C parser and plain asyncio streams do the same work in less than half
of that (docs/benchmarks.md). The rest of the gateway keeps httpx's API, so tests still inject
`httpx.MockTransport` or `httpx.ASGITransport` in its place.

aiohttp's failures are mapped to httpx's exceptions, which the proxy maps to problems:
unreachable → `ConnectError` (503), no answer in time → `TimeoutException` (504), a connection
that breaks or an answer that is not HTTP → `RemoteProtocolError`/`ReadError` (502).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar
from typing import Any

import aiohttp
import httpx

_CHUNK = 64 * 1024


class NoCookies(CookieJar):
    """The client is shared by every caller: a cookie one service set for one caller must
    never be stored, let alone sent with another caller's request."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


@contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timeout", request=request) from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise httpx.ReadTimeout(str(exc) or "read timeout", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError) as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
        raise httpx.ReadError(str(exc), request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx.TransportError(str(exc), request=request) from exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            async for chunk in self._response.content.iter_chunked(_CHUNK):
                yield chunk

    async def aclose(self) -> None:
        # Releasing a fully read response returns its connection to the pool; one read only
        # in part is closed instead, so no half-read answer is reused.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (and connection pool) per gateway process, built on first use so
    that it belongs to the running event loop."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry or 5.0,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # a proxy passes bodies as they are
                # Only what the gateway sends: no User-Agent, Accept or Accept-Encoding of
                # aiohttp's own.
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        try:
            content: bytes | None = request.content or None
        except httpx.RequestNotRead:
            content = await request.aread() or None
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        with _as_httpx_errors(request):
            response = await self._client().request(
                request.method,
                str(request.url),
                headers=headers,
                data=content,
                allow_redirects=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_Body(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
