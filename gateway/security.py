"""Security headers on every response, no banners, and no internals in errors (ASGI middleware).

Every response gets `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
`X-Frame-Options: DENY` and a Content-Security-Policy (nothing may load for a JSON API; the
Swagger UI page may load its own assets and script), `Strict-Transport-Security` when
configured, and `Cache-Control: no-store` when the caller authenticated. `Server` and
`X-Powered-By` headers are dropped. An unexpected error is a bare 500 problem: no stack trace,
no exception text.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.errors import problem
from kernel.principal import Principal

log = logging.getLogger(__name__)

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SWAGGER_ASSETS = "https://cdn.jsdelivr.net"
SWAGGER_FAVICON = "https://fastapi.tiangolo.com"
BANNERS = ("server", "x-powered-by")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def page_csp(html: str) -> str:
    """The policy of an HTML page such as Swagger UI: its assets from the CDN, its own inline
    scripts by hash (nothing else inline), requests to this origin only."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        "default-src 'none'; "
        f"script-src {SWAGGER_ASSETS} {hashes}; "
        f"style-src {SWAGGER_ASSETS} 'unsafe-inline'; "
        f"img-src 'self' data: {SWAGGER_ASSETS} {SWAGGER_FAVICON}; "
        f"font-src {SWAGGER_ASSETS} data:; "
        "connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts_max_age: int = 0,
        pages: dict[str, str] | None = None,
        prefixes: dict[str, str] | None = None,
    ) -> None:
        """`pages`: the Content-Security-Policy of each HTML page, by path; `prefixes`: of every
        path under a prefix (the dashboard's files)."""
        self.app = app
        self.hsts = f"max-age={hsts_max_age}; includeSubDomains" if hsts_max_age > 0 else None
        self.pages = pages or {}
        self.prefixes = prefixes or {}

    def policy(self, path: str) -> str:
        if path in self.pages:
            return self.pages[path]
        for prefix, policy in self.prefixes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return policy
        return API_CSP

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        csp = self.policy(scope["path"])

        async def secure_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for banner in BANNERS:
                    del headers[banner]
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                headers["Content-Security-Policy"] = csp
                if self.hsts:
                    headers["Strict-Transport-Security"] = self.hsts
                principal = scope.get("state", {}).get("principal")
                if isinstance(principal, Principal) and not principal.is_anonymous:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        try:
            await self.app(scope, receive, secure_send)
        except Exception as exc:
            log.error(
                "unhandled error",
                exc_info=exc,
                extra={"method": scope.get("method"), "path": scope.get("path")},
            )
            if not started:
                response = problem(
                    500, "an unexpected error occurred; it has been logged", slug="internal"
                )
                await response(scope, receive, secure_send)
