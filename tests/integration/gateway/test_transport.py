"""The gateway's aiohttp transport against real sockets: answers pass unchanged, failures
become the httpx errors the proxy maps to 502/503/504, and nothing is added or remembered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from clock_cli.nats_server import free_port
from gateway.transport import AiohttpTransport, NoCookies

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=10)
    async with httpx.AsyncClient(
        transport=AiohttpTransport(limits), cookies=NoCookies(), timeout=httpx.Timeout(0.5)
    ) as client:
        for name in list(client.headers):
            del client.headers[name]
        yield client


async def test_an_answer_passes_unchanged_and_nothing_is_added(
    serve: Callable[[Handler], Awaitable[str]], client: httpx.AsyncClient
) -> None:
    requests: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            requests.append(head)
            length = next(
                (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")),
                0,
            )  # fmt: skip
            body = await reader.readexactly(length)
            answer = b'{"got": "' + body + b'"}'
            writer.write(
                b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                b"Set-Cookie: session=secret\r\nContent-Encoding: identity\r\n"
                b"Content-Length: " + str(len(answer)).encode() + b"\r\n\r\n" + answer
            )
            await writer.drain()
        writer.close()

    base = await serve(handler)
    response = await client.post(f"{base}/labs?x=1", content=b"abc", headers={"X-A": "1"})
    assert response.status_code == 201
    assert response.content == b'{"got": "abc"}'
    assert response.headers["content-encoding"] == "identity"
    again = await client.get(f"{base}/labs")
    assert again.status_code == 201
    first, second = (request.lower() for request in requests)
    assert first.startswith(b"post /labs?x=1 http/1.1")
    assert b"x-a: 1" in first
    for added in (b"user-agent", b"accept-encoding", b"accept:", b"cookie"):
        assert added not in first and added not in second


async def test_unreachable_is_a_connect_error(client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.ConnectError):
        await client.get(f"http://127.0.0.1:{free_port()}/")


async def test_no_answer_in_time_is_a_timeout(
    serve: Callable[[Handler], Awaitable[str]], client: httpx.AsyncClient
) -> None:
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await release.wait()
        writer.close()

    base = await serve(silent)
    with pytest.raises(httpx.TimeoutException):
        await client.get(base, timeout=httpx.Timeout(0.2))
    release.set()


@pytest.mark.parametrize(
    "reply",
    [b"", b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"],
    ids=["closed", "garbage", "cut-short"],
)
async def test_a_broken_answer_is_a_transport_error(
    serve: Callable[[Handler], Awaitable[str]], client: httpx.AsyncClient, reply: bytes
) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply)
        await writer.drain()
        writer.close()

    base = await serve(broken)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        response = await client.get(base)
        await response.aread()
