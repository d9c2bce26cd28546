"""HTTP routes of the gateway: who am I, the merged OpenAPI document and its Swagger UI, and the
pass-through to the services at `/api/v1/<service>/...`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.responses import Response

from gateway import service as keys
from gateway.openapi import MergedOpenApi
from gateway.proxy import API_PREFIX, forward
from gateway.settings import GatewaySettings
from kernel.errors import NotFound, ServiceUnavailable, Unauthenticated
from kernel.principal import ANONYMOUS, Principal, Role, sign

log = logging.getLogger(__name__)

OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="clock"'}


@dataclass
class GatewayState:
    """What the gateway's lifespan builds and its routes use."""

    settings: GatewaySettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient
    secret: str
    upstreams: dict[str, str]
    openapi: MergedOpenApi


def get_state(request: Request) -> GatewayState:
    state = getattr(request.app.state, "gateway", None)
    if not isinstance(state, GatewayState):
        raise ServiceUnavailable("the gateway is starting")
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]


def presented_key(request: Request) -> str | None:
    """The API key the client presents (`Authorization: Bearer` or `X-API-Key`), if any."""
    authorization = request.headers.get("authorization")
    header_key = request.headers.get("x-api-key")
    bearer: str | None = None
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise Unauthenticated(
                "send the API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers=WWW_AUTHENTICATE,
            )
        bearer = credentials.strip()
    if bearer is not None and header_key is not None and bearer != header_key.strip():
        raise Unauthenticated(
            "two different API keys presented (Authorization and X-API-Key)",
            headers=WWW_AUTHENTICATE,
        )
    key = bearer if bearer is not None else header_key
    return key.strip() if key is not None else None


async def resolve_principal(request: Request, state: GatewayState) -> Principal:
    """Anonymous without a key; the key's principal with a valid one; 401 with any other key."""
    raw_key = presented_key(request)
    if raw_key is None:
        return ANONYMOUS
    try:
        async with state.sessionmaker() as session:
            principal = await keys.authenticate(
                session,
                raw_key,
                touch_interval=timedelta(seconds=state.settings.api_key_touch_interval),
            )
            await session.commit()
    except SQLAlchemyError as exc:
        log.error("API key store unavailable", extra={"error": type(exc).__name__})
        raise ServiceUnavailable(
            "API keys cannot be checked right now; try again shortly"
        ) from None
    if principal is None:
        raise Unauthenticated("invalid or revoked API key", headers=WWW_AUTHENTICATE)
    return principal


async def current_principal(request: Request, state: StateDep) -> Principal:
    return await resolve_principal(request, state)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


class WhoAmI(BaseModel):
    role: Role
    org_id: str | None = None
    key_id: str | None = None
    name: str | None = None
    authenticated: bool


router = APIRouter()


@router.get(
    f"{API_PREFIX}/whoami",
    response_model=WhoAmI,
    tags=["gateway"],
    summary="The principal the gateway sees for your API key",
    description="Anonymous without a key; 401 with an invalid or revoked one.",
)
async def whoami(principal: PrincipalDep) -> WhoAmI:
    return WhoAmI(
        role=principal.role,
        org_id=principal.org_id,
        key_id=principal.key_id,
        name=principal.name,
        authenticated=not principal.is_anonymous,
    )


@router.get(OPENAPI_PATH, include_in_schema=False)
async def openapi_document(state: StateDep) -> JSONResponse:
    return JSONResponse(await state.openapi.get())


@router.get("/docs", include_in_schema=False)
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="CLOCK API")


async def _proxy(request: Request, state: GatewayState, service: str, path: str) -> Response:
    base_url = state.upstreams.get(service)
    if base_url is None:
        known = ", ".join(sorted(state.upstreams))
        raise NotFound(f"no service '{service}' at this gateway; services: {known}")
    principal = await resolve_principal(request, state)
    started = time.perf_counter()
    response = await forward(
        request,
        client=state.client,
        service=service,
        base_url=base_url,
        path=path,
        principal_header=sign(principal, state.secret),
    )
    # The access log of the platform: who called what (services see only the principal).
    log.info(
        "proxied",
        extra={
            "service": service,
            "method": request.method,
            "path": request.url.path,
            "status": response.status_code,
            "role": principal.role.value,
            "key_id": principal.key_id,
            "upstream_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return response


@router.api_route(f"{API_PREFIX}/{{service}}", methods=PROXY_METHODS, include_in_schema=False)
async def proxy_root(request: Request, state: StateDep, service: str) -> Response:
    return await _proxy(request, state, service, "")


@router.api_route(
    f"{API_PREFIX}/{{service}}/{{path:path}}", methods=PROXY_METHODS, include_in_schema=False
)
async def proxy(request: Request, state: StateDep, service: str, path: str) -> Response:
    return await _proxy(request, state, service, path)
