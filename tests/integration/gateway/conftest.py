"""A gateway on a database built by its migrations, in front of services reached in-process.

Services are real ASGI apps behind `httpx.ASGITransport`, chosen by host name
(`http://catalog.test`, ...); a host nobody serves refuses the connection, as a service that
is down would.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from gateway import service as keys
from gateway.app import create_app
from gateway.settings import GatewaySettings
from kernel.db import create_engine, create_sessionmaker
from kernel.principal import PRINCIPAL_HEADER, InvalidSignature, Role, verify
from tests.conftest import migrate

SECRET = "test-principal-secret"
SERVICES = ("membership", "catalog", "matching", "reporting")


def service_url(name: str) -> str:
    return f"http://{name}.test"


class HostRouter(httpx.AsyncBaseTransport):
    """Sends each request to the transport serving its host; refuses unknown hosts."""

    def __init__(self, routes: Mapping[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = dict(routes)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        transport = self.routes.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError("connection refused", request=request)
        return await transport.handle_async_request(request)


def echo_app(secret: str = SECRET) -> FastAPI:
    """A service that tells what it received: headers, path, query, principal, body."""
    app = FastAPI(title="Echo service", description="Echoes what it gets.\nSecond line.")
    app.state.calls = 0

    def principal_of(request: Request) -> dict[str, Any] | None:
        try:
            return verify(request.headers.get(PRINCIPAL_HEADER), secret).model_dump(mode="json")
        except InvalidSignature:
            return None

    @app.api_route("/echo", methods=["POST", "PUT"])
    async def echo(request: Request) -> StreamingResponse:
        app.state.calls += 1
        # Read first: under ASGI < 2.4 a StreamingResponse listens for disconnects on the same
        # `receive` the request body comes from.
        body = await request.body()

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 64 * 1024):
                yield body[start : start + 64 * 1024]

        return StreamingResponse(
            chunks(),
            media_type="application/octet-stream",
            headers={"X-Seen-Transfer-Encoding": request.headers.get("transfer-encoding", "")},
        )

    @app.post("/digest")
    async def digest(request: Request) -> dict[str, Any]:
        app.state.calls += 1
        hasher = hashlib.sha256()
        size = 0
        async for chunk in request.stream():
            hasher.update(chunk)
            size += len(chunk)
        return {"size": size, "sha256": hasher.hexdigest()}

    @app.get("/hop")
    async def hop() -> Response:
        app.state.calls += 1
        response = Response(b"hop", media_type="text/plain")
        response.raw_headers += [
            (b"connection", b"x-private"),
            (b"x-private", b"secret-of-this-hop"),
            (b"keep-alive", b"timeout=5"),
            (b"proxy-authenticate", b"Basic"),
            (b"upgrade", b"h2c"),
            (b"set-cookie", b"a=1"),
            (b"set-cookie", b"b=2"),
            (b"x-end-to-end", b"kept"),
        ]
        return response

    @app.get("/redirect")
    async def redirect() -> RedirectResponse:
        app.state.calls += 1
        return RedirectResponse("/inspect/target?from=redirect", status_code=307)

    @app.get("/absolute-redirect")
    async def absolute_redirect(request: Request) -> RedirectResponse:
        app.state.calls += 1
        return RedirectResponse(str(request.url_for("redirect")), status_code=307)

    @app.api_route(
        "/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    )
    async def inspect(request: Request, path: str) -> JSONResponse:
        app.state.calls += 1
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope.get("raw_path", b"").decode("latin-1"),
                "query": request.url.query,
                "headers": [
                    [k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw
                ],
                "principal": principal_of(request),
                "body": body.decode("latin-1"),
            },
            headers={"X-Upstream": "echo"},
        )

    return app


def header_values(echoed: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echoed["headers"] if key.lower() == name.lower()]


@dataclass
class Gateway:
    """A running gateway and the client that calls it."""

    app: FastAPI
    client: httpx.AsyncClient
    router: HostRouter
    database_url: str
    settings: GatewaySettings
    upstream_apps: dict[str, FastAPI] = field(default_factory=dict)

    async def create_key(
        self, role: Role = Role.CENTRE, org_id: str | None = None, name: str | None = None
    ) -> tuple[str, str]:
        """(key id, plaintext key) of a new key, committed."""
        if org_id is None and role in (Role.CENTRE, Role.FIRM, Role.PARTNER):
            org_id = "7c0a4f52-8f9e-4a53-9b8e-3f5a0c6a1d01"
        engine = create_engine(self.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                key, plaintext = await keys.create_api_key(
                    session, role=role, org_id=org_id, name=name
                )
                await session.commit()
                return key.id, plaintext
        finally:
            await engine.dispose()

    async def revoke(self, key_id: str) -> None:
        engine = create_engine(self.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                await keys.revoke_api_key(session, key_id=key_id)
                await session.commit()
        finally:
            await engine.dispose()


GatewayFactory = Callable[..., Any]


def gateway_settings(**overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "principal_secret": SECRET,
        "log_json": False,
        **{f"{name}_url": service_url(name) for name in SERVICES},
    }
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture
async def gateway_database(database_url: str) -> str:
    return migrate("gateway", database_url)


@pytest.fixture
async def start_gateway(gateway_database: str) -> AsyncIterator[Callable[..., Any]]:
    """`await start_gateway(upstreams={"catalog": app_or_transport}, **settings)`."""
    async with AsyncExitStack() as stack:

        async def start(
            upstreams: Mapping[str, FastAPI | httpx.AsyncBaseTransport] | None = None,
            **overrides: Any,
        ) -> Gateway:
            routes: dict[str, httpx.AsyncBaseTransport] = {}
            apps: dict[str, FastAPI] = {}
            for name, target in (upstreams or {}).items():
                if isinstance(target, FastAPI):
                    apps[name] = target
                    routes[f"{name}.test"] = httpx.ASGITransport(target)
                else:
                    routes[f"{name}.test"] = target
            router = HostRouter(routes)
            overrides.setdefault("database_url", gateway_database)
            settings = gateway_settings(**overrides)
            app = create_app(settings, transport=router)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app, client=("203.0.113.7", 50000)),
                    base_url="http://gateway.test",
                )
            )
            return Gateway(app, client, router, gateway_database, settings, apps)

        yield start


@pytest.fixture
async def gateway(start_gateway: Callable[..., Any]) -> Gateway:
    """A gateway in front of an echo service as `catalog`; the other services are down."""
    result: Gateway = await start_gateway(upstreams={"catalog": echo_app()})
    return result
