"""Bearer tokens of an identity provider: verified against its JWKS (file or URL), turned into
the same signed principal an API key gives, refused with 401 problems otherwise."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kernel.principal import Role
from tests.integration.gateway.conftest import Gateway, echo_app, header_values
from tests.integration.gateway.test_proxy import assert_problem
from tests.integration.gateway.tokens import (
    AUDIENCE,
    ISSUER,
    ORG,
    claims,
    es256,
    hs256,
    jwks,
    rs256,
    serve_jwks,
    sign,
    signed_bytes,
    tampered,
    unsigned,
)


def oidc(jwks_source: str, **overrides: Any) -> dict[str, Any]:
    return {
        "oidc_issuer": ISSUER,
        "oidc_audience": [AUDIENCE],
        "oidc_jwks": jwks_source,
        **overrides,
    }


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(rs256(), es256())))
    return path


@pytest.fixture
async def idp_gateway(start_gateway: Callable[..., Any], jwks_file: Path) -> Gateway:
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": echo_app()},
        auth_failure_limit="1000/minute",  # these tests fail to authenticate on purpose
        **oidc(str(jwks_file)),
    )
    return gateway


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_rs256_and_es256_tokens_give_the_principal_an_api_key_would(
    idp_gateway: Gateway,
) -> None:
    for key in (rs256(), es256()):
        token = sign(key, claims(role="centre", org=ORG.upper(), sub="maria@lucense"))
        whoami = await idp_gateway.client.get("/api/v1/whoami", headers=bearer(token))
        assert whoami.status_code == 200, whoami.text
        assert whoami.json() == {
            "role": "centre",
            "org_id": ORG,
            "key_id": "oidc:maria@lucense",
            "name": "Maria Rossi",
            "authenticated": True,
        }
        proxied = await idp_gateway.client.get("/api/v1/catalog/labs", headers=bearer(token))
        assert proxied.status_code == 200, proxied.text
        echoed = proxied.json()
        assert echoed["principal"] == {
            "role": "centre",
            "org_id": ORG,
            "key_id": "oidc:maria@lucense",
            "name": "Maria Rossi",
        }
        assert not header_values(echoed, "authorization"), "the token never reaches a service"
        assert token not in proxied.text


async def test_refused_tokens_are_401_problems_with_a_bearer_challenge(
    idp_gateway: Gateway,
) -> None:
    key = rs256()
    impostor = rs256("impostor")  # another key claiming our kid
    now = int(time.time())
    good = sign(key, claims())
    refused = {  # why: what the problem's detail says
        "signature": sign(impostor, claims(), headers={"kid": key.kid}),
        "signature does": tampered(good),
        "audience": sign(key, claims(aud="another-api")),
        "issuer": sign(key, claims(iss="https://evil.example")),
        "expired": sign(key, claims(exp=now - 120, iat=now - 600, nbf=now - 600)),
        "not yet valid": sign(key, claims(nbf=now + 120)),
        "algorithm not accepted": unsigned(claims()),
        "algorithm not": hs256(claims(), b"secret"),
        "not accepted": hs256(claims(), key.public_pem(), kid=key.kid),  # key confusion
        "unknown key": sign(key, claims(), headers={"kid": "nobody"}),
        "'exp' claim": sign(key, claims(exp=None)),
        "'sub' claim": sign(key, claims(sub=None)),  # type: ignore[arg-type]
        "malformed": signed_bytes(key, b"not a claims set"),
        "invalid": "eyJhbGciOiJSUzI1NiJ9.!!!.???",  # not even a token: a wrong API key
    }
    calls_before = idp_gateway.upstream_apps["catalog"].state.calls
    for reason, token in refused.items():
        for path in ("/api/v1/whoami", "/api/v1/catalog/labs"):
            response = await idp_gateway.client.get(path, headers=bearer(token))
            body = assert_problem(response, 401)
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith('Bearer realm="clock"'), (reason, challenge)
            assert body["title"] == "Unauthenticated", reason
            assert reason in body["detail"], (reason, body["detail"])
    assert idp_gateway.upstream_apps["catalog"].state.calls == calls_before

    # the reason is told (RFC 6750 error_description), nothing more
    expired = await idp_gateway.client.get("/api/v1/whoami", headers=bearer(refused["expired"]))
    assert expired.json()["detail"] == "token expired"
    assert expired.headers["www-authenticate"] == (
        'Bearer realm="clock", error="invalid_token", error_description="token expired"'
    )


async def test_clock_skew_within_the_leeway_is_tolerated(idp_gateway: Gateway) -> None:
    now = int(time.time())
    late = sign(rs256(), claims(exp=now - 10, iat=now - 300, nbf=now - 300))
    early = sign(rs256(), claims(nbf=now + 10))
    for token in (late, early):
        response = await idp_gateway.client.get("/api/v1/whoami", headers=bearer(token))
        assert response.status_code == 200, response.text


async def test_role_and_organisation_come_from_the_claims(idp_gateway: Gateway) -> None:
    key = rs256()

    async def whoami(**token_claims: Any) -> httpx.Response:
        token = sign(key, claims(**token_claims))
        return await idp_gateway.client.get("/api/v1/whoami", headers=bearer(token))

    region = await whoami(role="region", org=ORG)
    assert region.json()["role"] == "region"
    assert region.json()["org_id"] is None, "the region acts for no organisation"
    listed = await whoami(role=["offline_access", "partner"])
    assert listed.json()["role"] == "partner"
    assert listed.json()["org_id"] == ORG

    for forbidden in (
        {"role": None},
        {"role": "admin"},
        {"role": "anonymous"},
        {"role": ["centre", "firm"]},
        {"role": 7},
        {"role": "firm", "org": None},
        {"role": "firm", "org": "not-an-id"},
    ):
        response = await whoami(**forbidden)
        assert_problem(response, 403)


async def test_claim_names_are_configurable(
    start_gateway: Callable[..., Any], jwks_file: Path
) -> None:
    gateway: Gateway = await start_gateway(
        **oidc(
            str(jwks_file),
            oidc_role_claim="https://clock.example/role",
            oidc_org_claim="https://clock.example/org",
        )
    )
    token = sign(
        rs256(),
        claims(
            role=None,
            org=None,
            **{"https://clock.example/role": "firm", "https://clock.example/org": ORG},
        ),
    )
    response = await gateway.client.get("/api/v1/whoami", headers=bearer(token))
    assert response.json()["role"] == "firm"
    assert response.json()["org_id"] == ORG
    default_claims = sign(rs256(), claims(role="firm"))
    assert_problem(await gateway.client.get("/api/v1/whoami", headers=bearer(default_claims)), 403)


async def test_jwks_from_a_url_is_cached_and_fetched_again_once_for_an_unknown_kid(
    start_gateway: Callable[..., Any],
) -> None:
    old, new = rs256("2026-old"), es256("2026-new")
    with serve_jwks(jwks(old)) as server:
        gateway: Gateway = await start_gateway(
            **oidc(server.url, oidc_jwks_refresh_interval=0, oidc_jwks_ttl=3600)
        )
        for _ in range(5):
            response = await gateway.client.get(
                "/api/v1/whoami", headers=bearer(sign(old, claims()))
            )
            assert response.status_code == 200
        assert server.requests == 1, "cached"

        server.document = jwks(old, new)  # the provider rotates its keys
        rotated = await gateway.client.get("/api/v1/whoami", headers=bearer(sign(new, claims())))
        assert rotated.status_code == 200, rotated.text
        assert server.requests == 2, "fetched again once, for the new kid"

        stranger = sign(rs256("stranger"), claims())
        assert_problem(await gateway.client.get("/api/v1/whoami", headers=bearer(stranger)), 401)
        assert server.requests == 3, "one more fetch for an unknown kid, then refused"
        await gateway.client.get("/api/v1/whoami", headers=bearer(sign(new, claims())))
        assert server.requests == 3


async def test_unknown_kids_do_not_hammer_the_provider(
    start_gateway: Callable[..., Any],
) -> None:
    with serve_jwks(jwks(rs256())) as server:
        gateway: Gateway = await start_gateway(**oidc(server.url, oidc_jwks_refresh_interval=3600))
        ok = await gateway.client.get("/api/v1/whoami", headers=bearer(sign(rs256(), claims())))
        assert ok.status_code == 200
        for _ in range(5):
            token = sign(rs256(), claims(), headers={"kid": uuid.uuid4().hex})
            assert_problem(await gateway.client.get("/api/v1/whoami", headers=bearer(token)), 401)
        assert server.requests == 1


async def test_jwks_through_an_injected_transport_and_a_provider_that_is_down(
    start_gateway: Callable[..., Any], gateway_database: str
) -> None:
    state = {"up": False, "calls": 0}

    def provider(request: httpx.Request) -> httpx.Response:
        state["calls"] += 1
        assert request.url == "https://idp.test/realms/clock/protocol/openid-connect/certs"
        if not state["up"]:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=jwks(es256()))

    from gateway.app import create_app
    from tests.integration.gateway.conftest import gateway_settings

    settings = gateway_settings(
        database_url=gateway_database,
        **oidc(
            "https://idp.test/realms/clock/protocol/openid-connect/certs",
            oidc_jwks_refresh_interval=0,
        ),
    )
    app = create_app(settings, jwks_transport=httpx.MockTransport(provider))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://gateway.test"
        ) as client,
    ):
        token = sign(es256(), claims(role="region", org=None))
        down = await client.get("/api/v1/whoami", headers=bearer(token))
        body = assert_problem(down, 503)
        assert "ConnectError" not in down.text and "refused" not in body["detail"]
        state["up"] = True
        up = await client.get("/api/v1/whoami", headers=bearer(token))
        assert up.status_code == 200, up.text
        assert up.json()["role"] == "region"
    assert state["calls"] == 2


async def test_api_keys_work_alongside_tokens(idp_gateway: Gateway) -> None:
    key_id, key = await idp_gateway.create_key(Role.PARTNER)
    for headers in (bearer(key), {"X-API-Key": key}):
        response = await idp_gateway.client.get("/api/v1/whoami", headers=headers)
        assert response.json()["key_id"] == key_id
    token = sign(rs256(), claims())
    both = await idp_gateway.client.get(
        "/api/v1/whoami", headers={**bearer(token), "X-API-Key": key}
    )
    assert_problem(both, 401)


async def test_without_an_identity_provider_tokens_are_refused(gateway: Gateway) -> None:
    token = sign(rs256(), claims())
    response = await gateway.client.get("/api/v1/whoami", headers=bearer(token))
    body = assert_problem(response, 401)
    assert "API key" in body["detail"]
    assert response.headers["www-authenticate"].startswith('Bearer realm="clock"')
