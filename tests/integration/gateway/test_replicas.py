"""A service with several replicas (`CLOCK_<SERVICE>_URL` listing them): the gateway spreads
requests over them and goes round the ones that fail, without ever running a write twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client import REGISTRY

from tests.integration.gateway.conftest import echo_app

REPLICAS = "http://catalog-1.test,http://catalog-2.test,http://catalog-3.test"
"""catalog-3 is served by nobody: its connections are refused, as a replica that died."""


def retried() -> float:
    """The gateway's count of requests sent on to the next replica (process-wide)."""
    value = REGISTRY.get_sample_value(
        "clock_gateway_upstream_requests_total", {"service": "catalog", "outcome": "retried"}
    )
    return value or 0.0


class BrokenConnection(httpx.AsyncBaseTransport):
    """A replica that takes the request and dies before answering."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        raise httpx.RemoteProtocolError("server disconnected", request=request)


async def test_requests_are_spread_and_a_dead_replica_is_gone_round(
    start_gateway: Callable[..., Any],
) -> None:
    first, second = echo_app(), echo_app()
    retried_before = retried()
    gateway = await start_gateway(
        upstreams={"catalog-1": first, "catalog-2": second}, catalog_url=REPLICAS
    )
    for _ in range(12):
        assert (await gateway.client.get("/api/v1/catalog/labs")).status_code == 200
        assert (await gateway.client.post("/api/v1/catalog/labs", json={})).status_code == 200
    assert first.state.calls + second.state.calls == 24
    assert first.state.calls >= 8 and second.state.calls >= 8
    refused = [r for r in gateway.router.requests if r.url.host == "catalog-3.test"]
    # Marked down after its first refusal: not asked again for DOWN_FOR seconds.
    assert len(refused) == 1
    assert retried() == retried_before + 1


async def test_a_read_whose_connection_broke_goes_to_another_replica(
    start_gateway: Callable[..., Any],
) -> None:
    broken, healthy = BrokenConnection(), echo_app()
    gateway = await start_gateway(
        upstreams={"catalog-1": broken, "catalog-2": healthy},
        catalog_url="http://catalog-1.test,http://catalog-2.test",
    )
    for _ in range(4):
        assert (await gateway.client.get("/api/v1/catalog/labs")).status_code == 200
    assert healthy.state.calls == 4
    assert broken.calls >= 1


async def test_a_write_whose_connection_broke_is_not_sent_again(
    start_gateway: Callable[..., Any],
) -> None:
    """It may have run: the client decides, and retries it with its Idempotency-Key."""
    broken, healthy = BrokenConnection(), echo_app()
    gateway = await start_gateway(
        upstreams={"catalog-1": broken, "catalog-2": healthy},
        catalog_url="http://catalog-1.test,http://catalog-2.test",
    )
    statuses = [
        (await gateway.client.post("/api/v1/catalog/labs", json={})).status_code for _ in range(4)
    ]
    assert sorted(statuses) == [200, 200, 502, 502]
    assert broken.calls == 2
    assert healthy.state.calls == 2


async def test_every_replica_down_is_503(start_gateway: Callable[..., Any]) -> None:
    gateway = await start_gateway(catalog_url="http://catalog-8.test,http://catalog-9.test")
    response = await gateway.client.get("/api/v1/catalog/labs")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    hosts = {r.url.host for r in gateway.router.requests}
    assert hosts == {"catalog-8.test", "catalog-9.test"}
