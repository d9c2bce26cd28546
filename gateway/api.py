"""HTTP routes of the gateway: who am I, the audit log, the merged OpenAPI document and its
Swagger UI, and the pass-through to the services at `/api/v1/<service>/...`.

Authentication and rate limiting happen before any route (`gateway.guard`), body limits too
(`gateway.limits`); the routes read the caller from the request's state.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import time
from datetime import datetime
from functools import cache
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from gateway import audit
from gateway.auth import WWW_AUTHENTICATE, Caller
from gateway.cache import PublicCache
from gateway.guard import caller_of
from gateway.idempotency import (
    IDEMPOTENT_METHODS,
    KEY_HEADER,
    LOCK_MARGIN,
    Claim,
    IdempotencyStore,
    StoredResponse,
    fingerprint,
    parse_key,
)
from gateway.proxy import API_PREFIX, BufferedUpstreamResponse, forward, forward_buffered
from gateway.state import GatewayState, StateDep, get_state
from kernel.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
)
from kernel.idempotency import FINGERPRINT_HEADER as SERVICE_FINGERPRINT_HEADER
from kernel.idempotency import KEY_HEADER as SERVICE_KEY_HEADER
from kernel.principal import Principal, Role, sign

log = logging.getLogger(__name__)

OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
DOCS_PATH = "/docs"
AUDIT_PATH = f"{API_PREFIX}/audit"
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

# Re-exported for code that imported them from here.
__all__ = ["WWW_AUTHENTICATE", "GatewayState", "get_state", "router"]


def current_caller(request: Request, state: StateDep) -> Caller:
    """The caller the guard authenticated (every route but the health probes has one)."""
    caller = caller_of(request.scope)
    if caller is None:
        raise ServiceUnavailable("the gateway is starting")
    return caller


async def caller_dependency(request: Request, state: StateDep) -> Caller:
    # async: FastAPI runs a plain `def` dependency in a worker thread on every request.
    return current_caller(request, state)


CallerDep = Annotated[Caller, Depends(caller_dependency)]


async def principal_of(caller: CallerDep) -> Principal:
    return caller.principal


PrincipalDep = Annotated[Principal, Depends(principal_of)]


class WhoAmI(BaseModel):
    role: Role
    org_id: str | None = None
    key_id: str | None = None
    name: str | None = None
    authenticated: bool


class AuditItem(BaseModel):
    id: str
    occurred_at: datetime = Field(description="When the gateway received the request (UTC).")
    role: str
    key_id: str | None = Field(description="API key id, or `oidc:<sub>` for a bearer token.")
    subject: str | None = Field(description="`sub` of a bearer token.")
    org_id: str | None
    method: str
    path: str
    query: str | None
    status: int = Field(description="Status the client got.")
    request_id: str | None
    client_ip: str | None
    idempotent_replay: bool = Field(description="Answered from an Idempotency-Key's response.")
    duration_ms: int | None


class AuditPage(BaseModel):
    items: list[AuditItem]
    next_cursor: str | None = None


router = APIRouter()


@router.get(
    f"{API_PREFIX}/whoami",
    response_model=WhoAmI,
    tags=["gateway"],
    summary="The principal the gateway sees for your API key or token",
    description="Anonymous without credentials; 401 with invalid ones.",
)
async def whoami(principal: PrincipalDep) -> WhoAmI:
    return WhoAmI(
        role=principal.role,
        org_id=principal.org_id,
        key_id=principal.key_id,
        name=principal.name,
        authenticated=not principal.is_anonymous,
    )


@router.get(
    AUDIT_PATH,
    response_model=AuditPage,
    tags=["gateway"],
    summary="Audit log of every write through the gateway (region only)",
    description="Every POST, PUT, PATCH and DELETE, whatever its outcome, newest first. "
    "Filters combine; `from` is inclusive, `to` exclusive. Pass `next_cursor` as `cursor` "
    "for the next page.",
    responses={
        401: {"description": "No credentials, or invalid ones"},
        403: {"description": "Not the region"},
        422: {"description": "Invalid filter or cursor"},
    },
)
async def audit_log(
    state: StateDep,
    principal: PrincipalDep,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    org: Annotated[str | None, Query(max_length=36)] = None,
    role: Role | None = None,
    method: Annotated[str | None, Query(pattern="^(POST|PUT|PATCH|DELETE)$")] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
    path_prefix: Annotated[str | None, Query(max_length=2000)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> AuditPage:
    if principal.is_anonymous:
        raise Unauthenticated(
            "the audit log needs a region API key or token", headers=WWW_AUTHENTICATE
        )
    if principal.role is not Role.REGION:
        raise Forbidden("the audit log is the region's only")
    if since is not None and until is not None and since >= until:
        raise InvalidInput(
            "'from' must be before 'to'",
            errors=[
                {"field": "from", "in": "query", "message": "not before 'to'", "type": "value"}
            ],
        )
    filters = audit.AuditFilter(
        since=since,
        until=until,
        org_id=org,
        role=role.value if role else None,
        method=method,
        status=status,
        path_prefix=path_prefix,
    )
    try:
        async with state.sessionmaker() as session:
            entries, next_cursor = await audit.list_entries(
                session, filters, limit=limit, cursor=cursor
            )
    except SQLAlchemyError as exc:
        log.error("audit log unavailable", extra={"error": type(exc).__name__})
        raise ServiceUnavailable("the audit log cannot be read right now") from None
    return AuditPage(
        items=[AuditItem.model_validate(entry, from_attributes=True) for entry in entries],
        next_cursor=next_cursor,
    )


@router.get(OPENAPI_PATH, include_in_schema=False)
async def openapi_document(state: StateDep) -> JSONResponse:
    return JSONResponse(await state.openapi.get())


@cache
def swagger_page() -> str:
    """The Swagger UI page of the merged document (its CSP hashes this page's script)."""
    return bytes(get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="CLOCK API").body).decode()


@router.get(DOCS_PATH, include_in_schema=False)
async def swagger_ui() -> HTMLResponse:
    return HTMLResponse(swagger_page())


def service_path(path: str) -> str:
    """The path the service will route, as it will decode it (`%2F` and all), normalised."""
    decoded = unquote(path)
    normalised = posixpath.normpath("/" + decoded.lstrip("/"))
    return "/" + normalised.strip("/")


def is_blocked(path: str, blocked: list[str]) -> bool:
    """Is `path` (under a service) one of `blocked`, or below one?"""
    target = service_path(path)
    return any(target == b or target.startswith(b.rstrip("/") + "/") for b in blocked)


async def _proxy(request: Request, state: GatewayState, service: str, path: str) -> Response:
    upstream = state.upstreams.get(service)
    if upstream is None:
        known = ", ".join(sorted(state.upstreams))
        raise NotFound(f"no service '{service}' at this gateway; services: {known}")
    if is_blocked(path, state.settings.blocked_paths):
        raise NotFound(f"no route for {request.method} {request.url.path}")
    caller = current_caller(request, state)
    principal = caller.principal
    cache_key = _public_cache_key(request, state, service, principal)
    if cache_key is not None and not PublicCache.wants_fresh(request.headers):
        assert state.cache is not None
        cached = state.cache.get(cache_key)
        if cached is not None:
            return cached
    timeout = state.settings.timeout_for(f"{service}/{path}")
    try:
        body = await request.body()
    except ClientDisconnect:
        raise DomainError("the client went away while sending the request") from None
    options: dict[str, Any] = {
        "client": state.client,
        "service": service,
        "upstream": upstream,
        "path": path,
        "principal_header": sign(principal, state.secret),
        "body": body,
        "timeout": timeout,
    }
    started = time.perf_counter()
    key = request.headers.get(KEY_HEADER)
    if key is not None and request.method in IDEMPOTENT_METHODS:
        response = await _idempotent(request, state, caller, parse_key(key), body, options)
    else:
        response = await forward(request, **options)
    if state.cache is not None:
        _remember(state.cache, cache_key, service, request.method, response)
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


def _public_cache_key(
    request: Request, state: GatewayState, service: str, principal: Principal
) -> tuple[str, ...] | None:
    if state.cache is None or not principal.is_anonymous:
        return None
    if not PublicCache.applies_to(request.method, request.headers):
        return None
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    target = raw_path.split(b"?", 1)[0].decode("latin-1") + "?" + query.decode("latin-1")
    return PublicCache.key(service, target, request.headers)


def _remember(
    cache: PublicCache,
    key: tuple[str, ...] | None,
    service: str,
    method: str,
    response: Response,
) -> None:
    """Keep a public answer; a successful write drops what the service said before."""
    if method not in ("GET", "HEAD", "OPTIONS") and response.status_code < 400:
        cache.forget_service(service)
    if key is None:
        return
    if isinstance(response, BufferedUpstreamResponse):
        cache.put(key, response.status_code, response.raw_headers, bytes(response.body))
    response.raw_headers.append((b"x-cache", b"MISS"))


async def _idempotent(
    request: Request,
    state: GatewayState,
    caller: Caller,
    key: str,
    body: bytes,
    options: dict[str, Any],
) -> Response:
    store = IdempotencyStore(state.sessionmaker, ttl=state.settings.idempotency_ttl)
    raw_path = (request.scope.get("raw_path") or request.url.path.encode()).split(b"?", 1)[0]
    request_fingerprint = fingerprint(
        request.method,
        raw_path.decode("latin-1"),
        request.scope.get("query_string", b"").decode("latin-1"),
        body,
    )
    outcome = await store.begin(
        scope=caller.scope_digest,
        key=key,
        fingerprint=request_fingerprint,
        method=request.method,
        path=request.url.path,
        lock_for=options["timeout"] + LOCK_MARGIN,
    )
    if isinstance(outcome, StoredResponse):
        request.state.idempotent_replay = True
        return outcome.to_response(replayed=True)
    claim: Claim = outcome
    # The service keeps the key with its effect: a retry after an answer that never came
    # (the service died past its commit) is not applied twice (kernel/idempotency.py).
    options["extra_headers"] = [
        (SERVICE_KEY_HEADER, hashlib.sha256(f"{caller.scope_digest}:{key}".encode()).hexdigest()),
        (SERVICE_FINGERPRINT_HEADER, request_fingerprint),
    ]
    try:
        status, headers, content = await forward_buffered(request, **options)
    except Exception:
        await store.release(claim)
        raise
    if status < 500:
        await store.complete(claim, StoredResponse.of(status, headers, content))
    else:
        await store.release(claim)
    first = [(name, value) for name, value in headers if name != "content-length"]
    return StoredResponse(status, first, content).to_response(replayed=False)


@router.api_route(f"{API_PREFIX}/{{service}}", methods=PROXY_METHODS, include_in_schema=False)
async def proxy_root(request: Request, state: StateDep, service: str) -> Response:
    return await _proxy(request, state, service, "")


@router.api_route(
    f"{API_PREFIX}/{{service}}/{{path:path}}", methods=PROXY_METHODS, include_in_schema=False
)
async def proxy(request: Request, state: StateDep, service: str, path: str) -> Response:
    return await _proxy(request, state, service, path)
