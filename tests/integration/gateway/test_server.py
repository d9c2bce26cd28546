"""The gateway behind a real uvicorn, run as `clock serve` runs it: no banner, and slow or
oversized request bodies refused over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from clock_cli.main import uvicorn_options
from clock_cli.nats_server import free_port
from gateway.app import create_app
from tests.conftest import eventually
from tests.integration.gateway.conftest import HostRouter, echo_app, gateway_settings

MiB = 1024 * 1024


@pytest.fixture
async def served(gateway_database: str) -> AsyncIterator[tuple[str, Any]]:
    """(base URL, the echo service behind it) of a gateway served by uvicorn on a free port."""
    upstream = echo_app()
    app = create_app(
        gateway_settings(database_url=gateway_database, body_read_timeout=0.5),
        transport=HostRouter({"catalog.test": httpx.ASGITransport(upstream)}),
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **uvicorn_options()))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done(), message="uvicorn started")
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}", upstream
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


async def raw_exchange(base_url: str, request: bytes) -> bytes:
    """Send raw bytes and read the whole answer (the server closes the connection)."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


async def test_no_server_banner(served: tuple[str, Any]) -> None:
    base_url, _ = served
    async with httpx.AsyncClient(base_url=base_url) as client:
        for path in ("/healthz", "/api/v1/whoami", "/api/v1/catalog/labs", "/nowhere"):
            response = await client.get(path)
            assert "server" not in response.headers, path
            assert "date" in response.headers
            assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_client_that_stops_sending_its_body_gets_408(served: tuple[str, Any]) -> None:
    base_url, upstream = served
    answer = await raw_exchange(
        base_url,
        b"POST /api/v1/catalog/labs HTTP/1.1\r\nHost: gateway\r\n"
        b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":',
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"application/problem+json" in head
    assert b"CLOCK_GATEWAY_BODY_READ_TIMEOUT" in body
    assert upstream.state.calls == 0


async def test_a_declared_10_mb_body_is_refused_without_reading_it(
    served: tuple[str, Any],
) -> None:
    base_url, upstream = served
    answer = await raw_exchange(
        base_url,
        b"POST /api/v1/catalog/digest HTTP/1.1\r\nHost: gateway\r\n"
        + f"Content-Length: {10 * MiB}\r\n\r\n".encode()
        + b"x" * 4096,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert upstream.state.calls == 0


async def test_a_chunked_10_mb_body_is_refused_once_over_the_limit(
    served: tuple[str, Any],
) -> None:
    base_url, upstream = served
    chunk = b"x" * (64 * 1024)
    # a client sending 10 MiB in chunks gets its answer once 1 MiB has gone over: here it
    # sends just past the limit, and the answer comes without the other 9 MiB
    over_the_limit = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(17))
    answer = await raw_exchange(
        base_url,
        b"POST /api/v1/catalog/digest HTTP/1.1\r\nHost: gateway\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + over_the_limit,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert upstream.state.calls == 0
