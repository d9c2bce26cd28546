"""What every HTTP app of the platform shares: request ids, problem errors, metrics, health.

Middlewares are plain ASGI (not BaseHTTPMiddleware) so streaming bodies and context variables
pass through untouched.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel import metrics
from kernel.context import request_id_var, traceparent_var
from kernel.errors import problem
from kernel.principal import PRINCIPAL_HEADER, InvalidSignature, Principal, verify

REQUEST_ID_HEADER = "X-Request-ID"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_TRACEPARENT_OK = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def new_traceparent() -> str:
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"


class RequestContextMiddleware:
    """Accepts or creates `X-Request-ID` and `traceparent`; echoes the id; counts requests."""

    def __init__(self, app: ASGIApp, *, app_name: str) -> None:
        self.app = app
        self.app_name = app_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(_decoded_headers(scope))
        request_id = headers.get("x-request-id", "")
        if not _REQUEST_ID_OK.match(request_id):
            request_id = str(uuid.uuid4())
        traceparent = headers.get("traceparent", "")
        if not _TRACEPARENT_OK.match(traceparent):
            traceparent = new_traceparent()
        rid_token = request_id_var.set(request_id)
        tp_token = traceparent_var.set(traceparent)
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder = {"status": 500}
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                response_headers = MutableHeaders(scope=message)
                response_headers[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            metrics.HTTP_REQUESTS.labels(
                self.app_name, method, route_path, str(status_holder["status"])
            ).inc()
            metrics.HTTP_DURATION.labels(self.app_name, method, route_path).observe(
                time.perf_counter() - started
            )
            request_id_var.reset(rid_token)
            traceparent_var.reset(tp_token)


class SignedPrincipalMiddleware:
    """Refuses (401) any request to a service without a principal signed by the gateway."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secrets: Sequence[str],
        public_paths: Iterable[str] = PUBLIC_PATHS,
    ):
        self.app = app
        self.secrets = list(secrets)
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        header = dict(_decoded_headers(scope)).get(PRINCIPAL_HEADER.lower())
        try:
            principal = verify(header, self.secrets)
        except InvalidSignature as exc:
            response = problem(
                401,
                f"{exc}: call this service through the CLOCK gateway",
                slug="unauthenticated",
                headers={"WWW-Authenticate": 'Bearer realm="clock"'},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


class PublicCacheControl:
    """Marks a successful GET by an anonymous caller `Cache-Control: public, max-age=N`:
    anyone may see it, so the gateway's shared cache (and any other) may keep it N seconds.
    An answer that already says how to cache it is left alone."""

    def __init__(self, app: ASGIApp, *, max_age: int) -> None:
        self.app = app
        self.value = f"public, max-age={max_age}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                principal = scope.get("state", {}).get("principal")
                headers = message.get("headers", [])
                if (
                    isinstance(principal, Principal)
                    and principal.is_anonymous
                    and not any(name.lower() == b"cache-control" for name, _ in headers)
                ):
                    message["headers"] = [*headers, (b"cache-control", self.value)]
            await send(message)

        await self.app(scope, receive, send_marked)


def _decoded_headers(scope: Scope) -> Iterable[tuple[str, str]]:
    for key, value in scope.get("headers", []):
        yield key.decode("latin-1").lower(), value.decode("latin-1")


class BodySizeLimit:
    """Refuses request bodies over `max_bytes` with 413, before anything reads them.

    A declared Content-Length over the limit is refused at once; a chunked body is counted as
    it streams and refused when it goes over. `paths` gives other limits to paths under some
    prefixes (an upload of files, say); the longest prefix wins.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, paths: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_bytes = max_bytes
        self.paths = dict(paths or {})

    def limit_for(self, path: str) -> int:
        best = max((p for p in self.paths if path.startswith(p)), key=len, default=None)
        return self.default_bytes if best is None else self.paths[best]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope["path"])
        detail = f"the request body is larger than {max_bytes} bytes"
        declared = dict(_decoded_headers(scope)).get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                response = problem(400, "Content-Length is not a number")
                await response(scope, receive, send)
                return
            if int(declared) > max_bytes:
                response = problem(413, detail, slug="payload-too-large")
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # FastAPI turns an HTTPException raised while reading the body into a 413.
                    raise StarletteHTTPException(413, detail)
            return message

        await self.app(scope, counting_receive, send)


ReadinessCheck = Callable[[], Awaitable[dict[str, Any]]]


def add_health_routes(app: FastAPI, readiness: ReadinessCheck) -> None:
    """`/healthz` (alive), `/readyz` (dependencies reachable), `/metrics` (Prometheus)."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        checks = await readiness()
        ready = all(check.get("ok") for check in checks.values())
        if ready:
            from fastapi.responses import JSONResponse

            return JSONResponse({"status": "ready", "checks": checks})
        return problem(503, "not ready", slug="not-ready", extra={"checks": checks})

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)


def request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None
