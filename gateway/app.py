"""The gateway's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import text

from gateway import __doc__ as DESCRIPTION
from gateway import api
from gateway.openapi import MergedOpenApi, fetch_document
from gateway.settings import GatewaySettings
from kernel.db import create_engine, create_sessionmaker
from kernel.errors import install_problem_handlers
from kernel.http import RequestContextMiddleware, add_health_routes
from kernel.logs import configure_logging

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    settings: GatewaySettings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The gateway; `transport` replaces the network to the services (tests)."""
    settings = settings or GatewaySettings()
    configure_logging("gateway", level=settings.log_level, json_format=settings.log_json)
    secret = settings.resolved_principal_secret()
    upstreams = settings.upstreams()
    description = DESCRIPTION or ""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.sqlalchemy_url, echo=settings.database_echo)
        client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(
                settings.upstream_timeout, connect=settings.upstream_connect_timeout
            ),
            limits=httpx.Limits(
                max_connections=settings.upstream_max_connections,
                max_keepalive_connections=settings.upstream_max_keepalive,
            ),
            follow_redirects=False,
            trust_env=False,  # the services are reached directly, never through a proxy
        )
        # No default headers of httpx's own (Accept-Encoding, User-Agent, ...): a service must
        # see what the client sent, e.g. not be asked for gzip the client never accepted.
        for name in list(client.headers):
            del client.headers[name]

        async def fetch(service: str) -> dict[str, Any] | None:
            return await fetch_document(
                client,
                service=service,
                base_url=upstreams[service],
                secret=secret,
                timeout=min(settings.upstream_timeout, 10.0),
            )

        app.state.gateway = api.GatewayState(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            client=client,
            secret=secret,
            upstreams=upstreams,
            openapi=MergedOpenApi(
                fetch,
                services=list(upstreams),
                description=description,
                own=partial(get_openapi, title=app.title, version=app.version, routes=app.routes),
                ttl=settings.openapi_cache_ttl,
            ),
        )
        try:
            yield
        finally:
            app.state.gateway = None
            try:
                await client.aclose()
            finally:
                await engine.dispose()

    app = FastAPI(
        title="CLOCK gateway",
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)

    async def readiness() -> dict[str, Any]:
        state = getattr(app.state, "gateway", None)
        if not isinstance(state, api.GatewayState):
            return {"database": {"ok": False, "error": "starting"}}
        try:
            async with state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            return {"database": {"ok": False, "error": type(exc).__name__}}
        return {"database": {"ok": True}}

    add_health_routes(app, readiness)
    app.include_router(api.router)
    app.add_middleware(RequestContextMiddleware, app_name="gateway")
    return app
