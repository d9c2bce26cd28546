"""The dashboard's files as the gateway serves them: at /dashboard/, under a policy that lets
the page load only its own files and call only this origin, revalidated on every load, free of
authentication and rate limits (they hold no data), and every script they load is there."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.dashboard import STATIC, policy
from kernel.principal import Role
from tests.integration.gateway.conftest import Gateway, gateway_settings


async def test_the_page_and_its_files_under_their_own_policy(gateway: Gateway) -> None:
    redirect = await gateway.client.get("/dashboard")
    assert redirect.status_code == 308
    assert redirect.headers["location"] == "/dashboard/"

    csp = policy(gateway.settings)
    page = await gateway.client.get("/dashboard/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/main.js">' in page.text
    assert page.headers["content-security-policy"] == csp
    assert "script-src 'self';" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-cache"
    etag = page.headers["etag"]
    again = await gateway.client.get("/dashboard/", headers={"If-None-Match": etag})
    assert again.status_code == 304

    script = await gateway.client.get("/dashboard/js/main.js")
    assert script.status_code == 200
    assert script.headers["content-type"].split(";")[0] in (
        "text/javascript",
        "application/javascript",
    )
    assert script.headers["content-security-policy"] == csp

    missing = await gateway.client.get("/dashboard/js/nothing.js")
    assert missing.status_code == 404
    # The API keeps its own policy.
    assert (await gateway.client.get("/api/v1/whoami")).headers["content-security-policy"] != csp


async def test_no_file_is_outside_the_folder(gateway: Gateway) -> None:
    for path in ("/dashboard/../app.py", "/dashboard/%2e%2e/__init__.py", "/dashboard/..%2fapp.py"):
        response = await gateway.client.get(path)
        assert response.status_code == 404, path
        assert "create_app" not in response.text


async def test_the_files_need_no_key_and_count_against_no_quota(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(rate_limit_anonymous="1/minute")
    for _ in range(5):
        response = await gateway.client.get("/dashboard/app.css")
        assert response.status_code == 200
        assert "ratelimit-limit" not in response.headers
    # A wrong key is not even looked at: the files are the same for everyone.
    wrong = await gateway.client.get("/dashboard/", headers={"Authorization": "Bearer clk_wrong"})
    assert wrong.status_code == 200
    # The API is still limited and authenticated.
    assert (await gateway.client.get("/api/v1/whoami")).status_code == 200
    assert (await gateway.client.get("/api/v1/whoami")).status_code == 429
    _, key = await gateway.create_key(Role.REGION)
    assert (
        await gateway.client.get("/api/v1/whoami", headers={"X-API-Key": key})
    ).status_code == 200


def test_every_module_the_page_imports_is_served() -> None:
    """Every relative import of every module names a file of the folder (a typo would leave
    the page blank in the browser, not fail the build: there is none)."""
    modules = list(STATIC.rglob("*.js"))
    assert modules
    for module in modules:
        for target in re.findall(r'from "(\.[^"]+)"', module.read_text(encoding="utf-8")):
            assert (module.parent / target).resolve().is_file(), (module, target)


async def test_the_page_is_told_how_to_sign_in(start_gateway: Callable[..., Any]) -> None:
    without = await start_gateway()
    assert (await without.client.get("/dashboard/config.json")).json() == {"oidc": None}

    provider = "https://idp.example.it/realms/clock/protocol/openid-connect"
    gateway: Gateway = await start_gateway(
        oidc_issuer="https://idp.example.it/realms/clock",
        oidc_audience=["clock-api"],
        oidc_jwks=f"{provider}/certs",
        dashboard_oidc_client_id="clock-dashboard",
        dashboard_oidc_authorization_endpoint=f"{provider}/auth",
        dashboard_oidc_token_endpoint=f"{provider}/token",
    )
    config = await gateway.client.get("/dashboard/config.json")
    assert config.json() == {
        "oidc": {
            "client_id": "clock-dashboard",
            "authorization_endpoint": f"{provider}/auth",
            "token_endpoint": f"{provider}/token",
            "scope": "openid",
        }
    }
    # The page may call the provider's token endpoint, and nothing else outside this origin.
    csp = (await gateway.client.get("/dashboard/")).headers["content-security-policy"]
    assert "connect-src 'self' https://idp.example.it;" in csp


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"dashboard_oidc_client_id": "clock-dashboard"}, "AUTHORIZATION_ENDPOINT"),
        (
            {
                "dashboard_oidc_client_id": "clock-dashboard",
                "dashboard_oidc_authorization_endpoint": "https://idp.example.it/auth",
                "dashboard_oidc_token_endpoint": "https://idp.example.it/token",
            },
            "CLOCK_GATEWAY_OIDC_ISSUER",
        ),
        (
            {
                "oidc_issuer": "https://idp.example.it",
                "oidc_audience": ["clock-api"],
                "oidc_jwks": "https://idp.example.it/certs",
                "dashboard_oidc_client_id": "clock-dashboard",
                "dashboard_oidc_authorization_endpoint": "javascript:alert(1)",
                "dashboard_oidc_token_endpoint": "https://idp.example.it/token",
            },
            "must be an https://",
        ),
    ],
)
def test_an_incomplete_sign_in_setting_stops_the_start(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        gateway_settings(**settings)
