"""An OpenID provider for the dashboard's browser test: a real HTTP server with an authorization
endpoint that signs in one configured user at once (no login form), a token endpoint for the
authorization code with PKCE (S256) of a public client, and its JWKS. Strict as a real one:
unknown client, redirect URI or code, a wrong verifier or a code used twice are refused."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.integration.gateway.tokens import AUDIENCE, ISSUER, claims, jwks, rs256, sign

CLIENT_ID = "clock-dashboard"


@dataclass
class IdentityProvider:
    redirect_uri: str
    allowed_origin: str
    user: dict[str, Any]
    """Claims of the user who signs in (`clock_role`, `clock_org`, `sub`, `name`)."""
    url: str = ""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens_issued: int = 0
    refusals: list[str] = field(default_factory=list)

    def settings(self) -> dict[str, str]:
        """The gateway's settings for this provider."""
        return {
            "CLOCK_GATEWAY_OIDC_ISSUER": ISSUER,
            "CLOCK_GATEWAY_OIDC_AUDIENCE": AUDIENCE,
            "CLOCK_GATEWAY_OIDC_JWKS": f"{self.url}/jwks",
            "CLOCK_GATEWAY_DASHBOARD_OIDC_CLIENT_ID": CLIENT_ID,
            "CLOCK_GATEWAY_DASHBOARD_OIDC_AUTHORIZATION_ENDPOINT": f"{self.url}/authorize",
            "CLOCK_GATEWAY_DASHBOARD_OIDC_TOKEN_ENDPOINT": f"{self.url}/token",
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        expected = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": self.redirect_uri,
            "code_challenge_method": "S256",
        }
        wrong = [name for name, value in expected.items() if query.get(name) != value]
        if wrong or not query.get("code_challenge") or not query.get("state"):
            self.refusals.append(f"authorize: {wrong or 'no challenge or state'}")
            return 400, {}, b"invalid authorization request"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": query["code_challenge"]}
        target = f"{self.redirect_uri}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, {"Location": target}, b""

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        grant = self.codes.pop(form.get("code", ""), None)  # single use
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        problems = {
            "grant_type": form.get("grant_type") != "authorization_code",
            "client_id": form.get("client_id") != CLIENT_ID,
            "redirect_uri": form.get("redirect_uri") != self.redirect_uri,
            "code": grant is None,
            "code_verifier": grant is not None
            and digest.decode().rstrip("=") != grant["challenge"],
        }
        refused = [name for name, bad in problems.items() if bad]
        if refused:
            self.refusals.append(f"token: {refused}")
            return (
                400,
                {},
                json.dumps({"error": "invalid_grant", "error_description": str(refused)}).encode(),
            )
        self.tokens_issued += 1
        token = sign(rs256(), claims(**self.user))
        body = {"access_token": token, "token_type": "Bearer", "expires_in": 300}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


@contextmanager
def serve_identity_provider(
    *, redirect_uri: str, allowed_origin: str, user: dict[str, Any]
) -> Iterator[IdentityProvider]:
    provider = IdentityProvider(redirect_uri, allowed_origin, user)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            # The dashboard calls the token endpoint from its own origin.
            self.send_header("Access-Control-Allow-Origin", provider.allowed_origin)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/authorize":
                self._answer(*provider.authorize(query))
            elif parts.path == "/jwks":
                body = json.dumps(jwks(rs256())).encode()
                self._answer(200, {"Content-Type": "application/json"}, body)
            else:
                self._answer(404, {}, b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path == "/token":
                self._answer(*provider.token(form))
            else:
                self._answer(404, {}, b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
