"""Rate limits per caller and role, in memory and in a real Redis, and the slowing down of
failed authentications per client IP."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from kernel.principal import Role
from tests.integration.gateway.conftest import Gateway, echo_app
from tests.integration.gateway.test_proxy import assert_problem

REDIS_URL = "redis://127.0.0.1:6379/0"


@asynccontextmanager
async def client_at(gateway: Gateway, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same gateway calling from another address."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(gateway.app, client=(ip, 40000)),
        base_url="http://gateway.test",
    ) as client:
        yield client


def quota(response: httpx.Response) -> tuple[int, int, int]:
    headers = response.headers
    return (
        int(headers["ratelimit-limit"]),
        int(headers["ratelimit-remaining"]),
        int(headers["ratelimit-reset"]),
    )


def assert_rate_limited(response: httpx.Response) -> dict[str, Any]:
    body = assert_problem(response, 429)
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    return body


async def test_each_caller_has_its_own_quota_and_is_told_where_it_stands(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": echo_app()}, rate_limit_centre="3/minute"
    )
    _, first = await gateway.create_key(Role.CENTRE)
    _, second = await gateway.create_key(Role.CENTRE)

    seen = []
    for _ in range(3):
        response = await gateway.client.get("/api/v1/catalog/labs", headers={"X-API-Key": first})
        assert response.status_code == 200
        limit, remaining, reset = quota(response)
        assert limit == 3 and 0 < reset <= 60
        seen.append(remaining)
        assert response.headers["ratelimit-policy"] == "3;w=60"
    assert seen == [2, 1, 0]

    calls = gateway.upstream_apps["catalog"].state.calls
    refused = await gateway.client.get("/api/v1/catalog/labs", headers={"X-API-Key": first})
    body = assert_rate_limited(refused)
    assert "3 requests per 60 s" in body["detail"]
    assert quota(refused)[:2] == (3, 0)
    assert gateway.upstream_apps["catalog"].state.calls == calls, "refused before the service"
    # the gateway's own routes count too
    assert_rate_limited(await gateway.client.get("/api/v1/whoami", headers={"X-API-Key": first}))

    other = await gateway.client.get("/api/v1/catalog/labs", headers={"X-API-Key": second})
    assert other.status_code == 200
    assert quota(other)[1] == 2


async def test_anonymous_callers_are_counted_per_client_ip(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": echo_app()}, rate_limit_anonymous="2/minute"
    )
    for _ in range(2):
        assert (await gateway.client.get("/api/v1/catalog/labs")).status_code == 200
    assert_rate_limited(await gateway.client.get("/api/v1/catalog/labs"))
    async with client_at(gateway, "198.51.100.20") as elsewhere:
        response = await elsewhere.get("/api/v1/catalog/labs")
        assert response.status_code == 200
        assert quota(response)[:2] == (2, 1)
    # a key is counted by itself, not by the address it comes from
    _, key = await gateway.create_key(Role.FIRM)
    keyed = await gateway.client.get("/api/v1/catalog/labs", headers={"X-API-Key": key})
    assert keyed.status_code == 200


async def test_the_limit_depends_on_the_role(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": echo_app()},
        rate_limit_region="5/minute",
        rate_limit_firm="1/minute",
    )
    _, region = await gateway.create_key(Role.REGION)
    _, firm = await gateway.create_key(Role.FIRM)
    region_response = await gateway.client.get("/api/v1/whoami", headers={"X-API-Key": region})
    firm_response = await gateway.client.get("/api/v1/whoami", headers={"X-API-Key": firm})
    assert quota(region_response)[:2] == (5, 4)
    assert quota(firm_response)[:2] == (1, 0)
    assert_rate_limited(await gateway.client.get("/api/v1/whoami", headers={"X-API-Key": firm}))


async def test_several_windows_for_one_role(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(rate_limit_anonymous="2 per 30 seconds;100/hour")
    first = await gateway.client.get("/api/v1/whoami")
    assert quota(first)[:2] == (2, 1), "the tightest window is reported"
    assert first.headers["ratelimit-policy"] == "2;w=30"
    await gateway.client.get("/api/v1/whoami")
    refused = await gateway.client.get("/api/v1/whoami")
    assert refused.status_code == 429
    assert refused.headers["ratelimit-policy"] == "2;w=30"
    assert 1 <= int(refused.headers["retry-after"]) <= 30


async def test_health_probes_are_never_limited(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(rate_limit_anonymous="1/minute")
    assert (await gateway.client.get("/api/v1/whoami")).status_code == 200
    assert (await gateway.client.get("/api/v1/whoami")).status_code == 429
    for _ in range(5):
        for path in ("/healthz", "/readyz", "/metrics"):
            response = await gateway.client.get(path)
            assert response.status_code == 200, path
            assert "ratelimit-limit" not in response.headers


async def test_repeated_failed_authentications_slow_an_ip_down(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(auth_failure_limit="3/minute")
    _, valid = await gateway.create_key(Role.CENTRE)
    wrong = f"clk_{'Z' * 12}_{'A' * 43}"
    for headers in ({"X-API-Key": wrong}, {"Authorization": "Basic eDp5"}, {"X-API-Key": "x"}):
        assert_problem(await gateway.client.get("/api/v1/whoami", headers=headers), 401)

    # past the limit even a valid key is refused from this address, until the window moves
    blocked = await gateway.client.get("/api/v1/whoami", headers={"X-API-Key": valid})
    body = assert_rate_limited(blocked)
    assert "failed authentications" in body["detail"]
    assert_rate_limited(await gateway.client.get("/api/v1/whoami", headers={"X-API-Key": wrong}))
    # ... but requests without credentials go on, and other addresses are not concerned
    assert (await gateway.client.get("/api/v1/whoami")).status_code == 200
    async with client_at(gateway, "198.51.100.30") as elsewhere:
        ok = await elsewhere.get("/api/v1/whoami", headers={"X-API-Key": valid})
        assert ok.status_code == 200
        assert_problem(await elsewhere.get("/api/v1/whoami", headers={"X-API-Key": wrong}), 401)


async def test_rate_limits_can_be_switched_off(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(
        rate_limit_enabled=False, rate_limit_anonymous="1/minute"
    )
    for _ in range(3):
        response = await gateway.client.get("/api/v1/whoami")
        assert response.status_code == 200
        assert "ratelimit-limit" not in response.headers


async def test_an_unreachable_storage_lets_requests_through(
    start_gateway: Callable[..., Any],
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway: Gateway = await start_gateway(
        rate_limit_storage=f"redis://127.0.0.1:{port}/0", rate_limit_anonymous="1/minute"
    )
    for _ in range(3):
        response = await gateway.client.get("/api/v1/whoami")
        assert response.status_code == 200
        assert "ratelimit-limit" not in response.headers


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own in the Redis at 127.0.0.1:6379 (skipped without one);
    its keys are deleted afterwards."""
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except (aioredis.ConnectionError, OSError):
        await client.aclose()
        pytest.skip("no Redis at 127.0.0.1:6379")
    prefix = f"clock-test-{uuid.uuid4().hex}"
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_gateways_sharing_redis_share_the_counters(
    start_gateway: Callable[..., Any], redis_prefix: str
) -> None:
    settings = {
        "rate_limit_storage": REDIS_URL,
        "rate_limit_key_prefix": redis_prefix,
        "rate_limit_partner": "4/minute",
        "auth_failure_limit": "2/minute",
    }
    one: Gateway = await start_gateway(**settings)
    two: Gateway = await start_gateway(**settings)
    _, key = await one.create_key(Role.PARTNER)
    headers = {"X-API-Key": key}

    remaining = []
    for gateway in (one, two, one, two):
        response = await gateway.client.get("/api/v1/whoami", headers=headers)
        assert response.status_code == 200
        remaining.append(quota(response)[1])
    assert remaining == [3, 2, 1, 0], "one count across both replicas"
    assert_rate_limited(await one.client.get("/api/v1/whoami", headers=headers))
    assert_rate_limited(await two.client.get("/api/v1/whoami", headers=headers))

    # failed authentications are shared too
    wrong = {"X-API-Key": f"clk_{'Q' * 12}_{'A' * 43}"}
    assert_problem(await one.client.get("/api/v1/whoami", headers=wrong), 401)
    assert_problem(await two.client.get("/api/v1/whoami", headers=wrong), 401)
    assert_rate_limited(await one.client.get("/api/v1/whoami", headers=wrong))

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        stored = [key async for key in client.scan_iter(match=f"{redis_prefix}*")]
    finally:
        await client.aclose()
    assert stored, "the counters live in Redis, under the configured prefix"
