"""Authentication and rate limiting of every request but the health probes and the dashboard's
static files (ASGI middleware).

For each request: refuse (429) credentials from an IP that failed to authenticate too often,
authenticate (401/403/503 problems), count the request against the caller's rate limit (429
with `Retry-After`), and put the caller in the request's state for the routes. Responses carry
`RateLimit-*` headers.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import Caller, authenticate, presented_credentials
from gateway.ratelimit import Quota
from gateway.state import GatewayState, state_of
from kernel.errors import DomainError, TooManyRequests, Unauthenticated, domain_problem

HEALTH_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# The dashboard's page, scripts and styles hold no data: loading them costs no one's quota.
PUBLIC_PREFIXES = ("/dashboard",)


def client_ip(scope: Scope) -> str | None:
    """The client's address as the server saw it (uvicorn puts the address a trusted proxy
    forwarded there: `--forwarded-allow-ips`)."""
    client = scope.get("client")
    return str(client[0]) if client else None


def caller_of(scope: Scope) -> Caller | None:
    caller = scope.get("state", {}).get("caller")
    return caller if isinstance(caller, Caller) else None


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        exempt: frozenset[str] = HEALTH_PATHS,
        exempt_prefixes: tuple[str, ...] = PUBLIC_PREFIXES,
    ) -> None:
        self.app = app
        self.exempt = exempt
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in self.exempt or path.startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        state = state_of(scope)
        if state is None:  # starting: the routes answer 503
            await self.app(scope, receive, send)
            return
        try:
            caller = await self._caller(scope, state)
            quota = await self._count(caller, state)
        except DomainError as exc:
            await domain_problem(exc, instance=scope["path"])(scope, receive, send)
            return
        request_state = scope.setdefault("state", {})
        request_state["caller"] = caller
        request_state["principal"] = caller.principal
        if quota is None:
            await self.app(scope, receive, send)
            return

        async def send_with_quota(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in quota.headers().items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_quota)

    async def _caller(self, scope: Scope, state: GatewayState) -> Caller:
        address = client_ip(scope)
        headers = Headers(scope=scope)
        limiter = state.limiter
        throttled = limiter is not None and ("authorization" in headers or "x-api-key" in headers)
        key = address or "unknown"
        if limiter is not None and throttled:
            retry_after = await limiter.auth_retry_after(key)
            if retry_after is not None:
                raise TooManyRequests(
                    "too many failed authentications from this address; try again later",
                    headers={"Retry-After": str(retry_after)},
                )
        try:
            return await authenticate(presented_credentials(headers), state, client_ip=address)
        except Unauthenticated:
            if limiter is not None and throttled:
                await limiter.auth_failed(key)
            raise

    async def _count(self, caller: Caller, state: GatewayState) -> Quota | None:
        if state.limiter is None:
            return None
        quota = await state.limiter.hit(caller.principal.role, caller.identity)
        if quota is not None and not quota.allowed:
            raise TooManyRequests(
                f"rate limit of {quota.limit} requests per {quota.window} s reached; "
                f"retry in {max(1, quota.reset_after)} s",
                headers=quota.headers(),
            )
        return quota
