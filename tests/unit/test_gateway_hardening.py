"""The gateway's hardening pieces on their own: JSON shape, JWKS cache, rate-limit quotas,
Idempotency-Key fingerprints, blocked paths, settings, and the OpenAPI contract it adds."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest
from limits import parse
from limits.aio.storage import MemoryStorage
from pydantic import ValidationError

from gateway.api import is_blocked
from gateway.auth import Caller
from gateway.auth_jwt import JwksCache, JwksUnavailable, looks_like_jwt, parse_jwks
from gateway.idempotency import StoredResponse, fingerprint, parse_key
from gateway.limits import check_json_shape, is_json
from gateway.openapi import add_gateway_contract
from gateway.ratelimit import Quota, RateLimiter
from gateway.settings import GatewaySettings
from kernel.errors import InvalidInput
from kernel.principal import ANONYMOUS, Principal, Role
from tests.integration.gateway.tokens import claims, es256, jwks, rs256, sign

# --- JSON shape ---------------------------------------------------------------------------------


def shape(document: Any, depth: int = 3, items: int = 3) -> None:
    check_json_shape(json.dumps(document).encode(), max_depth=depth, max_array_length=items)


def test_json_depth_counts_arrays_and_objects() -> None:
    shape({"a": [{"b": 1}]})  # three levels
    shape([1, "x", None, {}][:3])
    with pytest.raises(InvalidInput) as deep:
        shape({"a": [{"b": [1]}]})
    assert deep.value.extra["limit"] == {"name": "max_json_depth", "value": 3}
    assert deep.value.errors == [
        {
            "field": "a.0.b",
            "in": "body",
            "message": "at most 3 nested arrays or objects",
            "type": "too_deep",
        }
    ]


def test_json_array_length_is_checked_at_any_depth() -> None:
    with pytest.raises(InvalidInput) as long:
        shape({"a": {"b": [1, 2, 3, 4]}})
    assert long.value.errors is not None
    assert long.value.errors[0]["field"] == "a.b"
    assert long.value.extra["limit"]["name"] == "max_json_array_length"
    shape({"a": {"b": [1, 2, 3]}, "c": "x" * 10_000})  # long strings are not arrays


def test_what_is_not_json_is_left_to_the_service() -> None:
    for body in (b"", b"   ", b"{not json", b"\xff\xfe", b'"just a string"', b"12"):
        check_json_shape(body, max_depth=1, max_array_length=1)
    with pytest.raises(InvalidInput):
        check_json_shape(b"[" * 100_000, max_depth=32, max_array_length=1000)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/merge-patch+json", True),
        ("application/problem+json", True),
        ("text/json", False),
        ("text/plain", False),
        (None, False),
    ],
)
def test_json_media_types(content_type: str | None, expected: bool) -> None:
    assert is_json(content_type) is expected


# --- JWKS ---------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def provider(documents: list[Any]) -> tuple[httpx.AsyncClient, list[int]]:
    """A client whose JWKS URL answers the documents in turn (an exception is raised)."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        document = documents[min(len(calls), len(documents)) - 1]
        if isinstance(document, Exception):
            raise document
        return httpx.Response(200, json=document)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler)), calls


async def test_jwks_is_kept_for_its_ttl_then_fetched_again() -> None:
    clock = Clock()
    client, calls = provider([jwks(rs256()), jwks(rs256(), es256())])
    cache = JwksCache(
        "https://idp.test/jwks", client=client, ttl=60, refresh_interval=5, clock=clock
    )
    assert [k["kid"] for k in await cache.keys("rsa-1")] == ["rsa-1"]
    clock.now += 59
    assert await cache.keys("rsa-1")
    assert len(calls) == 1
    clock.now += 2
    assert [k["kid"] for k in await cache.keys(None)] == ["rsa-1", "ec-1"]
    assert len(calls) == 2
    await client.aclose()


async def test_jwks_serves_stale_keys_while_the_provider_is_down() -> None:
    clock = Clock()
    client, calls = provider([jwks(rs256()), httpx.ConnectError("down")])
    cache = JwksCache(
        "https://idp.test/jwks", client=client, ttl=60, refresh_interval=5, clock=clock
    )
    await cache.keys("rsa-1")
    clock.now += 120
    assert await cache.keys("rsa-1"), "stale keys still verify"
    assert len(calls) == 2
    assert await cache.keys("rsa-1")
    assert len(calls) == 2, "not asked again within the refresh interval"
    clock.now += 5
    await cache.keys("rsa-1")
    assert len(calls) == 3
    await client.aclose()


async def test_jwks_unavailable_at_first_use_is_a_503() -> None:
    client, _ = provider([httpx.ConnectError("down")])
    cache = JwksCache("https://idp.test/jwks", client=client)
    with pytest.raises(JwksUnavailable):
        await cache.keys("rsa-1")
    await client.aclose()
    missing = JwksCache("/nonexistent/jwks.json")
    with pytest.raises(JwksUnavailable):
        await missing.keys(None)


def test_only_public_signature_keys_are_kept() -> None:
    private_rsa = {**rs256().jwk(), "d": "secret", "p": "x"}
    document = {
        "keys": [
            private_rsa,
            {**es256().jwk(), "use": "enc"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "OKP", "crv": "Ed25519", "x": "abc", "kid": "ed"},
            "not a key",
        ]
    }
    (kept,) = parse_jwks(document)
    assert kept["kid"] == "rsa-1"
    assert "d" not in kept and "p" not in kept
    for bad in ([], {"keys": "x"}, None):
        with pytest.raises(ValueError):
            parse_jwks(bad)


def test_tokens_are_told_from_api_keys() -> None:
    assert looks_like_jwt(sign(rs256(), claims()))
    assert not looks_like_jwt("clk_abcdefghijkl_" + "A" * 43)
    assert not looks_like_jwt("a.b.c")
    assert not looks_like_jwt("")


# --- rate limits --------------------------------------------------------------------------------


def test_quota_headers() -> None:
    allowed = Quota(allowed=True, limit=300, remaining=12, reset_after=7, window=60)
    assert allowed.headers() == {
        "RateLimit-Limit": "300",
        "RateLimit-Remaining": "12",
        "RateLimit-Reset": "7",
        "RateLimit-Policy": "300;w=60",
    }
    refused = Quota(allowed=False, limit=300, remaining=0, reset_after=0, window=60)
    assert refused.headers()["Retry-After"] == "1", "never 'retry after 0 s'"


async def test_the_limiter_counts_per_identity_and_role() -> None:
    limiter = RateLimiter(
        MemoryStorage(),
        per_role={role: [parse("2/minute")] for role in Role},
        auth_failures=parse("1/minute"),
    )
    first = await limiter.hit(Role.CENTRE, "key:a")
    second = await limiter.hit(Role.CENTRE, "key:a")
    third = await limiter.hit(Role.CENTRE, "key:a")
    assert first and second and third
    assert (first.remaining, second.remaining) == (1, 0)
    assert not third.allowed
    assert 0 < third.reset_after <= 60
    other = await limiter.hit(Role.CENTRE, "key:b")
    assert other and other.allowed

    assert await limiter.auth_retry_after("203.0.113.1") is None
    await limiter.auth_failed("203.0.113.1")
    retry = await limiter.auth_retry_after("203.0.113.1")
    assert retry is not None and 1 <= retry <= 60
    assert await limiter.auth_retry_after("203.0.113.2") is None


def test_callers_are_counted_by_key_subject_or_address() -> None:
    key = Caller(Principal(role=Role.CENTRE, key_id="k1"), "api_key", client_ip="1.2.3.4")
    token = Caller(Principal(role=Role.CENTRE, key_id="oidc:s"), "token", "1.2.3.4", "s")
    anonymous = Caller(ANONYMOUS, "anonymous", client_ip="1.2.3.4")
    assert [c.identity for c in (key, token, anonymous)] == ["key:k1", "sub:s", "ip:1.2.3.4"]
    assert len({c.scope_digest for c in (key, token, anonymous)}) == 3


# --- idempotency --------------------------------------------------------------------------------


def test_fingerprints_tell_requests_apart() -> None:
    base = fingerprint("POST", "/api/v1/matching/demands", "", b'{"a":1}')
    assert base == fingerprint("post", "/api/v1/matching/demands", "", b'{"a":1}')
    assert base != fingerprint("PATCH", "/api/v1/matching/demands", "", b'{"a":1}')
    assert base != fingerprint("POST", "/api/v1/matching/demands", "x=1", b'{"a":1}')
    assert base != fingerprint("POST", "/api/v1/matching/demands", "", b'{"a":2}')
    # parts cannot slide into each other
    assert fingerprint("POST", "/a", "b", b"") != fingerprint("POST", "/ab", "", b"")


def test_idempotency_keys_are_visible_ascii() -> None:
    assert parse_key("6f1c1e1e-5b7e-4a53-8d0e-8a1f0c9a2b3c") == (
        "6f1c1e1e-5b7e-4a53-8d0e-8a1f0c9a2b3c"
    )
    for bad in ("", " ", "a b", "x" * 256, "caffè", "tab\there"):
        with pytest.raises(InvalidInput):
            parse_key(bad)


def test_a_replay_keeps_what_describes_the_answer_only() -> None:
    stored = StoredResponse.of(
        201,
        [
            ("Content-Type", "application/json"),
            ("Location", "/api/v1/matching/demands/1"),
            ("Content-Length", "2"),
            ("Set-Cookie", "a=1"),
            ("X-Request-ID", "old"),
            ("RateLimit-Remaining", "3"),
        ],
        b"{}",
    )
    assert stored.headers == [
        ("content-type", "application/json"),
        ("location", "/api/v1/matching/demands/1"),
    ]
    response = stored.to_response(replayed=True)
    assert response.headers["idempotent-replayed"] == "true"
    assert response.headers["content-length"] == "2"


# --- blocked paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "blocked"),
    [
        ("metrics", True),
        ("metrics/", True),
        ("/metrics", True),
        ("metrics/x", True),
        ("%6detrics", True),
        ("a/../metrics", True),
        ("readyz", True),
        ("metrics-dashboard", False),
        ("labs/metrics", False),
        ("labs", False),
        ("", False),
    ],
)
def test_blocked_paths(path: str, blocked: bool) -> None:
    assert is_blocked(path, ["/metrics", "/healthz", "/readyz"]) is blocked


# --- settings -----------------------------------------------------------------------------------


def test_hardening_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOCK_GATEWAY_CORS_ORIGINS", "https://dash.example, http://LOCALHOST:5173/")
    monkeypatch.setenv("CLOCK_GATEWAY_ROUTE_TIMEOUTS", "reporting/reports=120, matching/=45.5")
    monkeypatch.setenv("CLOCK_GATEWAY_BLOCKED_PATHS", "metrics,/internal/")
    monkeypatch.setenv("CLOCK_GATEWAY_RATE_LIMIT_FIRM", "10/second;100/minute")
    monkeypatch.setenv("CLOCK_GATEWAY_RATE_LIMIT_STORAGE", "redis://cache:6379/2")
    monkeypatch.setenv("CLOCK_GATEWAY_OIDC_ISSUER", "https://idp.example/realms/clock")
    monkeypatch.setenv("CLOCK_GATEWAY_OIDC_AUDIENCE", "clock-api,clock-dashboard")
    monkeypatch.setenv("CLOCK_GATEWAY_OIDC_JWKS", "https://idp.example/certs")
    monkeypatch.setenv("CLOCK_GATEWAY_MAX_BODY_BYTES", "2048")
    settings = GatewaySettings()
    assert settings.cors_origins == ["https://dash.example", "http://localhost:5173"]
    assert settings.route_timeouts == {"reporting/reports": 120.0, "matching/": 45.5}
    assert settings.timeout_for("reporting/reports/3.xlsx") == 120.0
    assert settings.timeout_for("/api/v1/matching/demands") == 45.5
    assert settings.timeout_for("catalog/labs") == settings.upstream_timeout
    assert settings.blocked_paths == ["/metrics", "/internal"]
    assert settings.rate_limit_for(Role.FIRM) == "10/second;100/minute"
    assert settings.oidc_enabled
    assert settings.oidc_audience == ["clock-api", "clock-dashboard"]
    assert settings.max_body_bytes == 2048


def test_hardening_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CLOCK_GATEWAY_"):
            monkeypatch.delenv(name)
    settings = GatewaySettings()
    assert not settings.oidc_enabled
    assert settings.oidc_role_claim == "clock_role" and settings.oidc_org_claim == "clock_org"
    assert settings.oidc_algorithms == ["RS256", "ES256"]
    assert [settings.rate_limit_for(role) for role in Role] == [
        "600/minute",
        "300/minute",
        "120/minute",
        "300/minute",
        "60/minute",
    ]
    assert settings.rate_limit_storage == "memory://"
    assert settings.max_body_bytes == 1_048_576
    assert (settings.max_json_depth, settings.max_json_array_length) == (32, 1000)
    assert settings.idempotency_ttl == 86_400
    assert settings.blocked_paths == ["/metrics"]
    assert settings.cors_origins == [] and settings.hsts_max_age == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"oidc_issuer": "https://idp.example"},  # no JWKS, no audience
        {"oidc_jwks": "/etc/jwks.json", "oidc_audience": ["a"]},  # no issuer
        {"oidc_algorithms": ["HS256"]},
        {"oidc_algorithms": ["none"]},
        {"rate_limit_centre": "lots"},
        {"auth_failure_limit": "5 per fortnight"},
        {"rate_limit_storage": "memcached://x"},
        {"route_timeouts": "reporting=0"},
        {"route_timeouts": "reporting"},
        {"cors_origins": "https://a.example/path"},
        {"oidc_leeway": 3600},
        {"max_body_bytes": 0},
    ],
)
def test_invalid_hardening_settings_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(**overrides)


# --- OpenAPI ------------------------------------------------------------------------------------


def test_the_merged_document_tells_what_the_gateway_adds() -> None:
    paths: dict[str, Any] = {
        "/api/v1/matching/demands": {
            "get": {"responses": {"200": {"description": "ok"}}},
            "post": {
                "requestBody": {"content": {}},
                "responses": {"201": {"description": "created"}},
            },
        },
        "/api/v1/matching/demands/{id}": {
            "patch": {
                "parameters": [{"name": "Idempotency-Key", "in": "header"}],
                "responses": {"429": {"description": "own"}},
            }
        },
    }
    add_gateway_contract(paths)
    listing = paths["/api/v1/matching/demands"]["get"]
    assert listing["responses"]["429"] == {"$ref": "#/components/responses/GatewayTooManyRequests"}
    assert "parameters" not in listing or not listing["parameters"]
    create = paths["/api/v1/matching/demands"]["post"]
    assert create["responses"]["413"]["$ref"].endswith("GatewayPayloadTooLarge")
    assert create["parameters"] == [{"$ref": "#/components/parameters/GatewayIdempotencyKey"}]
    patch = paths["/api/v1/matching/demands/{id}"]["patch"]
    assert patch["responses"]["429"] == {"description": "own"}, "the service's own kept"
    assert len(patch["parameters"]) == 1, "declared once"
