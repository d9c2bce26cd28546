"""CORS for the dashboard origins, answered by the gateway (ASGI middleware).

Preflights never reach a service: an allowed origin asking for an allowed method and headers
gets 204 with the `Access-Control-*` answer, anything else a 403 problem. Responses to an
allowed origin carry `Access-Control-Allow-Origin` (the origin itself, never `*` with
credentials) and the headers a script may read. The services' own `Access-Control-*` headers
are dropped: the gateway alone decides who may call from a browser.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.errors import problem

ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = (
    "accept",
    "accept-language",
    "authorization",
    "content-language",
    "content-type",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "traceparent",
    "x-api-key",
    "x-request-id",
)
EXPOSED_HEADERS = (
    "Content-Disposition",
    "ETag",
    "Idempotent-Replayed",
    "Location",
    "RateLimit-Limit",
    "RateLimit-Policy",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "X-Request-ID",
)


def _tokens(value: str) -> list[str]:
    return [token.strip().lower() for token in value.split(",") if token.strip()]


class Cors:
    def __init__(
        self,
        app: ASGIApp,
        *,
        origins: Iterable[str],
        allow_credentials: bool = False,
        max_age: int = 600,
    ) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.any_origin = "*" in self.origins
        if self.any_origin and allow_credentials:
            raise ValueError("CORS: '*' cannot allow credentials")
        self.allow_credentials = allow_credentials
        self.max_age = max_age

    def allowed(self, origin: str) -> bool:
        return self.any_origin or origin.rstrip("/").lower() in self.origins

    def _allow_origin(self, origin: str) -> dict[str, str]:
        if self.any_origin:
            return {"Access-Control-Allow-Origin": "*"}
        headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        if self.allow_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if (
            scope["method"] == "OPTIONS"
            and origin is not None
            and "access-control-request-method" in headers
        ):
            await self._preflight(origin, headers)(scope, receive, send)
            return

        allow = self._allow_origin(origin) if origin and self.allowed(origin) else {}

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name in {k for k in response_headers if k.startswith("access-control-")}:
                    del response_headers[name]
                for name, value in allow.items():
                    if name == "Vary":
                        response_headers.add_vary_header("Origin")
                    else:
                        response_headers[name] = value
                if allow:
                    response_headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _preflight(self, origin: str, headers: Headers) -> Response:
        method = headers["access-control-request-method"].strip().upper()
        requested = _tokens(headers.get("access-control-request-headers", ""))
        refused_headers = [name for name in requested if name not in ALLOWED_HEADERS]
        if not self.allowed(origin):
            reason = f"origin {origin} may not call this API from a browser"
        elif method not in ALLOWED_METHODS:
            reason = f"method {method} is not allowed from a browser"
        elif refused_headers:
            reason = f"header(s) {', '.join(refused_headers)} not allowed from a browser"
        else:
            answer = {
                **self._allow_origin(origin),
                "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
                "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
                "Access-Control-Max-Age": str(self.max_age),
            }
            return Response(status_code=204, headers=answer)
        return problem(403, reason, slug="cors-refused", title="Forbidden")
