"""What the gateway's lifespan builds, and how routes and middlewares reach it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import Scope

from gateway.auth_jwt import JwtVerifier
from gateway.cache import PublicCache
from gateway.openapi import MergedOpenApi
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings
from gateway.upstreams import Upstream
from kernel.db import create_sessionmaker
from kernel.errors import ServiceUnavailable


@dataclass
class GatewayState:
    """What the gateway's lifespan builds and its routes and middlewares use."""

    settings: GatewaySettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient
    secret: str
    upstreams: dict[str, Upstream]
    openapi: MergedOpenApi
    verifier: JwtVerifier | None = None
    """Bearer tokens of the identity provider; None when none is configured."""
    limiter: RateLimiter | None = None
    """None when rate limiting is off."""
    cache: PublicCache | None = None
    """Public answers for anonymous callers; None when turned off."""
    read_sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    """Sessions that only read (kernel.db.read_only): the API key check of every request."""

    def __post_init__(self) -> None:
        self.read_sessionmaker = create_sessionmaker(self.engine, reads_only=True)


def state_of(scope: Scope) -> GatewayState | None:
    """The running gateway's state (None while it starts or stops)."""
    app: Any = scope.get("app")
    state = getattr(getattr(app, "state", None), "gateway", None)
    return state if isinstance(state, GatewayState) else None


async def get_state(request: Request) -> GatewayState:
    # async: FastAPI runs a plain `def` dependency in a worker thread on every request.
    state = state_of(request.scope)
    if state is None:
        raise ServiceUnavailable("the gateway is starting")
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]
