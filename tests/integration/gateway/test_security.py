"""CORS for the dashboard origins, security headers on every response, no banners, and no
internals in errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from gateway.security import API_CSP
from kernel.principal import Role
from tests.integration.gateway.conftest import Gateway, echo_app
from tests.integration.gateway.test_proxy import assert_problem

DASHBOARD = "https://dashboard.clock.example"


def leaky() -> FastAPI:
    """A service with banners, CORS headers of its own, and a route that crashes."""
    app = FastAPI()
    app.state.calls = 0

    @app.get("/bannered")
    async def bannered() -> JSONResponse:
        app.state.calls += 1
        return JSONResponse(
            {"ok": True},
            headers={
                "Server": "uvicorn",
                "X-Powered-By": "FastAPI",
                "Access-Control-Allow-Origin": "*",
                "Cache-Control": "public, max-age=600",
            },
        )

    @app.api_route("/{path:path}", methods=["GET", "POST", "OPTIONS"])
    async def other(path: str) -> JSONResponse:
        app.state.calls += 1
        return JSONResponse({"path": path})

    return app


@pytest.fixture
async def cors_gateway(start_gateway: Callable[..., Any]) -> Gateway:
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": leaky()},
        cors_origins=f"{DASHBOARD}, http://localhost:5173",
        cors_allow_credentials=True,
        hsts_max_age=31_536_000,
    )
    return gateway


def preflight(origin: str, method: str = "POST", headers: str = "") -> dict[str, str]:
    result = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        result["Access-Control-Request-Headers"] = headers
    return result


async def test_preflights_are_answered_by_the_gateway(cors_gateway: Gateway) -> None:
    allowed = await cors_gateway.client.options(
        "/api/v1/catalog/labs",
        headers=preflight(DASHBOARD, "POST", "Authorization, Content-Type, Idempotency-Key"),
    )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == DASHBOARD
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "PATCH" in allowed.headers["access-control-allow-methods"]
    assert "idempotency-key" in allowed.headers["access-control-allow-headers"]
    assert allowed.headers["access-control-max-age"] == "600"
    assert "Origin" in allowed.headers["vary"]

    for headers in (
        preflight("https://evil.example"),
        preflight(DASHBOARD, "TRACE"),
        preflight(DASHBOARD, "POST", "X-Clock-Principal"),
        preflight("null"),
    ):
        refused = await cors_gateway.client.options("/api/v1/catalog/labs", headers=headers)
        assert_problem(refused, 403)
        assert "access-control-allow-origin" not in refused.headers
    assert cors_gateway.upstream_apps["catalog"].state.calls == 0, "no preflight reached it"

    # an OPTIONS that is not a preflight is the service's business
    plain = await cors_gateway.client.options("/api/v1/catalog/labs")
    assert plain.status_code == 200
    assert cors_gateway.upstream_apps["catalog"].state.calls == 1


async def test_responses_to_allowed_origins_carry_cors_headers(cors_gateway: Gateway) -> None:
    response = await cors_gateway.client.get(
        "/api/v1/catalog/bannered", headers={"Origin": DASHBOARD}
    )
    assert response.status_code == 200
    assert response.headers.get_list("access-control-allow-origin") == [DASHBOARD]
    assert response.headers["access-control-allow-credentials"] == "true"
    exposed = response.headers["access-control-expose-headers"]
    for name in ("RateLimit-Remaining", "Retry-After", "Idempotent-Replayed", "X-Request-ID"):
        assert name in exposed

    # the service's own '*' never reaches a browser; other origins get no CORS headers
    stranger = await cors_gateway.client.get(
        "/api/v1/catalog/bannered", headers={"Origin": "https://evil.example"}
    )
    assert stranger.status_code == 200
    assert not [name for name in stranger.headers if name.startswith("access-control-")]
    problem = await cors_gateway.client.get("/api/v1/nowhere", headers={"Origin": DASHBOARD})
    assert problem.headers["access-control-allow-origin"] == DASHBOARD


def test_a_wildcard_origin_cannot_allow_credentials() -> None:
    from pydantic import ValidationError

    from tests.integration.gateway.conftest import gateway_settings

    with pytest.raises(ValidationError, match="credentials"):
        gateway_settings(cors_origins="*", cors_allow_credentials=True)
    with pytest.raises(ValidationError, match="origin"):
        gateway_settings(cors_origins="dashboard.example")
    assert gateway_settings(cors_origins="*").cors_origins == ["*"]


async def test_a_wildcard_origin_without_credentials(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(cors_origins="*")
    response = await gateway.client.options(
        "/api/v1/whoami", headers=preflight("https://anyone.example", "GET")
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


async def test_security_headers_on_every_response_and_no_banners(cors_gateway: Gateway) -> None:
    _, key = await cors_gateway.create_key(Role.REGION)
    responses = {
        "proxied": await cors_gateway.client.get("/api/v1/catalog/bannered"),
        "own route": await cors_gateway.client.get("/api/v1/whoami"),
        "health": await cors_gateway.client.get("/healthz"),
        "not found": await cors_gateway.client.get("/nowhere"),
        "unauthenticated": await cors_gateway.client.get(
            "/api/v1/whoami", headers={"X-API-Key": "wrong"}
        ),
        "too large": await cors_gateway.client.post("/api/v1/catalog/x", content=b"x" * 2_000_000),
        "preflight": await cors_gateway.client.options(
            "/api/v1/whoami", headers=preflight(DASHBOARD, "GET")
        ),
        "authenticated": await cors_gateway.client.get(
            "/api/v1/catalog/bannered", headers={"X-API-Key": key}
        ),
    }
    for name, response in responses.items():
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["referrer-policy"] == "no-referrer", name
        assert headers["x-frame-options"] == "DENY", name
        assert headers["content-security-policy"] == API_CSP, name
        assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        assert "server" not in headers, name
        assert "x-powered-by" not in headers, name

    assert responses["authenticated"].headers["cache-control"] == "no-store"
    assert responses["proxied"].headers["cache-control"] == "public, max-age=600"


async def test_no_hsts_unless_configured(gateway: Gateway) -> None:
    response = await gateway.client.get("/healthz")
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-frame-options"] == "DENY"


async def test_the_docs_page_may_load_swagger_ui_and_nothing_else(gateway: Gateway) -> None:
    docs = await gateway.client.get("/docs")
    csp = docs.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src https://cdn.jsdelivr.net 'sha256-" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp


async def test_errors_never_leak_internals(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(upstreams={"catalog": echo_app()})

    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("password=hunter2 at /srv/clock/gateway/secret.py line 3")

    state = gateway.app.state.gateway
    original = state.openapi.get
    state.openapi.get = explode
    try:
        response = await gateway.client.get("/api/v1/openapi.json")
    finally:
        state.openapi.get = original
    body = assert_problem(response, 500)
    assert body["detail"] == "an unexpected error occurred; it has been logged"
    assert "hunter2" not in response.text and "secret.py" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"

    failing = httpx.MockTransport(
        lambda request: (_ for _ in ()).throw(
            httpx.RemoteProtocolError("peer sent garbage: secret-token-123", request=request)
        )
    )
    broken: Gateway = await start_gateway(upstreams={"matching": failing})
    bad = await broken.client.get("/api/v1/matching/demands")
    assert_problem(bad, 502)
    assert "secret-token-123" not in bad.text and "RemoteProtocolError" not in bad.text
