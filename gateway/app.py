"""The gateway's ASGI app.

Middlewares, outermost first: request id and metrics; security headers (and a bare 500 for
anything unexpected); CORS; the audit log of writes; authentication and rate limits; body
limits. Then the routes (`gateway.api`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import __doc__ as DESCRIPTION
from gateway import api, dashboard
from gateway.audit import AuditLog
from gateway.auth_jwt import JwksCache, JwtVerifier
from gateway.cache import PublicCache
from gateway.cors import Cors
from gateway.guard import Guard
from gateway.idempotency import IdempotencyStore
from gateway.limits import RequestLimits
from gateway.openapi import MergedOpenApi, fetch_document
from gateway.ratelimit import RateLimiter
from gateway.security import SecurityHeaders, page_csp
from gateway.settings import GatewaySettings
from gateway.state import GatewayState
from gateway.transport import AiohttpTransport, NoCookies
from gateway.upstreams import Upstream
from kernel.db import create_engine, create_sessionmaker
from kernel.errors import install_problem_handlers
from kernel.http import RequestContextMiddleware, add_health_routes
from kernel.logs import configure_logging
from kernel.runtime import freeze_heap

MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)


def build_verifier(
    settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None
) -> tuple[JwtVerifier | None, httpx.AsyncClient | None]:
    """The bearer token verifier (None when no identity provider is configured) and the HTTP
    client it fetches the JWKS with."""
    if not settings.oidc_enabled:
        return None, None
    assert settings.oidc_issuer is not None and settings.oidc_jwks is not None
    client = None
    if settings.oidc_jwks.startswith(("https://", "http://")):
        client = httpx.AsyncClient(
            transport=transport, timeout=settings.oidc_jwks_timeout, follow_redirects=False
        )
    jwks = JwksCache(
        settings.oidc_jwks,
        client=client,
        ttl=settings.oidc_jwks_ttl,
        refresh_interval=settings.oidc_jwks_refresh_interval,
        timeout=settings.oidc_jwks_timeout,
    )
    verifier = JwtVerifier(
        jwks,
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        algorithms=settings.oidc_algorithms,
        leeway=settings.oidc_leeway,
        role_claim=settings.oidc_role_claim,
        org_claim=settings.oidc_org_claim,
        name_claim=settings.oidc_name_claim or None,
    )
    return verifier, client


async def purge_idempotency_keys(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    ttl: float,
    interval: float,
    stop: asyncio.Event,
) -> None:
    """Delete expired Idempotency-Keys every `interval` seconds until `stop` is set (every
    replica may: a delete of what is already gone changes nothing)."""
    store = IdempotencyStore(sessionmaker, ttl=ttl)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if stop.is_set():
            return
        try:
            purged = await store.purge()
            if purged:
                log.info("expired Idempotency-Keys purged", extra={"count": purged})
        except Exception as exc:
            log.warning("Idempotency-Key purge failed", extra={"error": type(exc).__name__})


def create_app(
    settings: GatewaySettings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    jwks_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The gateway; `transport` replaces the network to the services, `jwks_transport` the one
    to the identity provider (tests)."""
    settings = settings or GatewaySettings()
    configure_logging("gateway", level=settings.log_level, json_format=settings.log_json)
    secret = settings.resolved_principal_secret()
    upstreams = {name: Upstream(name, urls) for name, urls in settings.upstreams().items()}
    description = DESCRIPTION or ""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.sqlalchemy_url, echo=settings.database_echo)
        limits = httpx.Limits(
            max_connections=settings.upstream_max_connections,
            max_keepalive_connections=settings.upstream_max_keepalive,
        )
        client = httpx.AsyncClient(
            transport=transport or AiohttpTransport(limits),
            cookies=NoCookies(),
            timeout=httpx.Timeout(
                settings.upstream_timeout, connect=settings.upstream_connect_timeout
            ),
            limits=limits,
            follow_redirects=False,
            trust_env=False,  # the services are reached directly, never through a proxy
        )
        # No default headers of httpx's own (Accept-Encoding, User-Agent, ...): a service must
        # see what the client sent, e.g. not be asked for gzip the client never accepted.
        for name in list(client.headers):
            del client.headers[name]
        verifier, jwks_client = build_verifier(settings, jwks_transport)
        limiter = RateLimiter.from_settings(settings) if settings.rate_limit_enabled else None
        sessionmaker = create_sessionmaker(engine)

        async def fetch(service: str) -> dict[str, Any] | None:
            return await fetch_document(
                client,
                service=service,
                upstream=upstreams[service],
                secret=secret,
                timeout=min(settings.upstream_timeout, 10.0),
            )

        app.state.gateway = GatewayState(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
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
            verifier=verifier,
            limiter=limiter,
            cache=PublicCache(
                max_entries=settings.public_cache_entries,
                max_body=settings.public_cache_max_body,
            )
            if settings.public_cache_entries
            else None,
        )
        stop_purging = asyncio.Event()
        purge = asyncio.create_task(
            purge_idempotency_keys(
                sessionmaker,
                ttl=settings.idempotency_ttl,
                interval=settings.idempotency_purge_interval,
                stop=stop_purging,
            )
        )
        freeze_heap()
        try:
            yield
        finally:
            gc.unfreeze()
            app.state.gateway = None
            stop_purging.set()  # let a purge under way finish: no connection cut mid-query
            try:
                await asyncio.wait_for(purge, timeout=10)
            except TimeoutError:
                log.warning("Idempotency-Key purge did not stop in time")
            try:
                await client.aclose()
                if jwks_client is not None:
                    await jwks_client.aclose()
                if limiter is not None:
                    await limiter.close()
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
        if not isinstance(state, GatewayState):
            return {"database": {"ok": False, "error": "starting"}}
        try:
            async with state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            return {"database": {"ok": False, "error": type(exc).__name__}}
        return {"database": {"ok": True}}

    add_health_routes(app, readiness)
    app.include_router(api.router)
    dashboard.mount(app, settings)
    # Added innermost first: each add_middleware wraps what is there.
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_for,
        body_read_timeout=settings.body_read_timeout,
        max_json_depth=settings.max_json_depth,
        max_json_array_length=settings.max_json_array_length,
    )
    app.add_middleware(Guard)
    app.add_middleware(AuditLog)
    app.add_middleware(
        Cors,
        origins=settings.cors_origins,
        allow_credentials=settings.cors_allow_credentials,
        max_age=settings.cors_max_age,
    )
    app.add_middleware(
        SecurityHeaders,
        hsts_max_age=settings.hsts_max_age,
        pages={api.DOCS_PATH: page_csp(api.swagger_page())},
        prefixes={dashboard.PATH: dashboard.policy(settings)},
    )
    app.add_middleware(RequestContextMiddleware, app_name="gateway")
    return app
