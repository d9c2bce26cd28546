"""Size, shape and time limits: what never reaches a service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from fastapi import FastAPI

from tests.integration.gateway.conftest import Gateway, echo_app
from tests.integration.gateway.test_proxy import assert_problem

MiB = 1024 * 1024


def nested(depth: int) -> Any:
    """`depth` arrays and objects inside each other."""
    node: Any = 1
    for level in range(depth):
        node = [node] if level % 2 else {"n": node}
    return node


def calls(gateway: Gateway) -> int:
    count: int = gateway.upstream_apps["catalog"].state.calls
    return count


async def test_a_10_mb_body_is_refused_before_any_service_sees_it(gateway: Gateway) -> None:
    body = b"x" * (10 * MiB)
    declared = await gateway.client.post("/api/v1/catalog/digest", content=body)
    problem = assert_problem(declared, 413)
    assert "1048576 bytes" in problem["detail"]
    assert problem["limit"] == {"name": "max_body_bytes", "value": 1048576}

    sent = {"chunks": 0}

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            sent["chunks"] += 1
            yield body[start : start + 256 * 1024]

    streamed = await gateway.client.post("/api/v1/catalog/digest", content=chunked())
    assert_problem(streamed, 413)
    assert sent["chunks"] <= 6, "refused as soon as the count went over, not at the end"
    assert calls(gateway) == 0

    # at the limit, it passes
    exact = await gateway.client.post("/api/v1/catalog/digest", content=b"y" * MiB)
    assert exact.status_code == 200
    assert exact.json()["size"] == MiB


async def test_the_body_limit_is_configurable(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(upstreams={"catalog": echo_app()}, max_body_bytes=100)
    assert_problem(await gateway.client.post("/api/v1/catalog/x", content=b"z" * 101), 413)
    ok = await gateway.client.post("/api/v1/catalog/x", content=b"z" * 100)
    assert ok.status_code == 200
    bad_length = await gateway.client.post(
        "/api/v1/catalog/x", content=b"1", headers={"Content-Length": "one"}
    )
    assert_problem(bad_length, 400)


async def test_deep_or_long_json_is_a_422_naming_the_limit(gateway: Gateway) -> None:
    deep = await gateway.client.post("/api/v1/catalog/labs", json=nested(33))
    problem = assert_problem(deep, 422)
    assert "32 levels" in problem["detail"]
    assert problem["limit"] == {"name": "max_json_depth", "value": 32}
    assert problem["errors"][0]["type"] == "too_deep"

    long = await gateway.client.post(
        "/api/v1/catalog/labs", json={"needs": [{"tags": list(range(1001))}]}
    )
    problem = assert_problem(long, 422)
    assert problem["limit"] == {"name": "max_json_array_length", "value": 1000}
    assert problem["errors"][0]["field"] == "needs.0.tags"

    hostile = await gateway.client.post(
        "/api/v1/catalog/labs",
        content=b"[" * 200_000 + b"]" * 200_000,
        headers={"Content-Type": "application/json"},
    )
    assert_problem(hostile, 422)
    patch = await gateway.client.patch(
        "/api/v1/catalog/labs/1",
        content=json.dumps(nested(40)),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert_problem(patch, 422)
    assert calls(gateway) == 0

    # at the limits, and what is not JSON, pass on (the service judges malformed JSON)
    for content, content_type in (
        (json.dumps(nested(32)), "application/json"),
        (json.dumps({"items": list(range(1000))}), "application/json; charset=utf-8"),
        ("[" * 50 + "]" * 50, "text/plain"),
        ('{"unterminated": ', "application/json"),
    ):
        response = await gateway.client.post(
            "/api/v1/catalog/labs", content=content, headers={"Content-Type": content_type}
        )
        assert response.status_code == 200, (content_type, response.text)
    assert calls(gateway) == 4


async def test_json_limits_are_configurable(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": echo_app()}, max_json_depth=2, max_json_array_length=3
    )
    assert_problem(await gateway.client.post("/api/v1/catalog/x", json=[[[1]]]), 422)
    assert_problem(await gateway.client.post("/api/v1/catalog/x", json=[1, 2, 3, 4]), 422)
    assert (await gateway.client.post("/api/v1/catalog/x", json=[[1, 2, 3]])).status_code == 200


async def test_a_client_too_slow_with_its_body_gets_408(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(upstreams={"catalog": echo_app()}, body_read_timeout=0.3)
    never = asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"name": '
        await never.wait()  # the rest never comes
        yield b"}"

    response = await asyncio.wait_for(
        gateway.client.post(
            "/api/v1/catalog/labs",
            content=trickle(),
            headers={"Content-Type": "application/json"},
        ),
        timeout=10,
    )
    problem = assert_problem(response, 408)
    assert "0.3 s" in problem["detail"]
    assert response.headers["connection"] == "close"
    assert calls(gateway) == 0


class RecordingDeadline(httpx.AsyncBaseTransport):
    """Applies each request's read timeout to an in-process app, and records it."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app)
        self.timeouts: dict[str, float] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        read = request.extensions["timeout"]["read"]
        self.timeouts[request.url.path] = read
        try:
            return await asyncio.wait_for(self.inner.handle_async_request(request), read)
        except TimeoutError:
            raise httpx.ReadTimeout("read timed out", request=request) from None


async def test_upstream_timeouts_per_route(start_gateway: Callable[..., Any]) -> None:
    hang = asyncio.Event()
    reporting = FastAPI()
    catalog = FastAPI()

    @reporting.get("/reports/{name}")
    async def report(name: str) -> dict[str, str]:
        return {"report": name}

    @catalog.get("/slow")
    async def slow() -> dict[str, str]:
        await hang.wait()
        return {}

    @catalog.get("/labs")
    async def labs() -> list[str]:
        return []

    reports, labs_and_slow = RecordingDeadline(reporting), RecordingDeadline(catalog)
    gateway: Gateway = await start_gateway(
        upstreams={"reporting": reports, "catalog": labs_and_slow},
        route_timeouts="reporting/reports=120,/api/v1/catalog/slow=0.2",
    )
    assert (await gateway.client.get("/api/v1/reporting/reports/1.pdf")).status_code == 200
    assert (await gateway.client.get("/api/v1/catalog/labs")).status_code == 200
    assert reports.timeouts == {"/reports/1.pdf": 120.0}
    assert labs_and_slow.timeouts == {"/labs": 30.0}

    timed_out = await gateway.client.get("/api/v1/catalog/slow")
    problem = assert_problem(timed_out, 504)
    assert problem["detail"] == "the catalog service did not answer in time"
    assert labs_and_slow.timeouts["/slow"] == 0.2


async def test_internal_endpoints_of_the_services_are_not_reachable(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": echo_app()},
        blocked_paths="/metrics,/healthz,/readyz,/internal",
    )
    for path in (
        "metrics",
        "metrics/",
        "metrics/anything",
        "%6Detrics",
        "healthz",
        "readyz",
        "readyz?verbose=1",
        "internal/leases",
        "//metrics",
    ):
        for method in ("GET", "POST"):
            response = await gateway.client.request(method, f"/api/v1/catalog/{path}")
            problem = assert_problem(response, 404)
            assert problem["title"] == "Not found", path
    assert calls(gateway) == 0
    # names that only start alike are the service's business
    assert (await gateway.client.get("/api/v1/catalog/metrics-of-labs")).status_code == 200
    # the gateway's own probes stay
    assert (await gateway.client.get("/healthz")).status_code == 200
    assert (await gateway.client.get("/metrics")).status_code == 200


async def test_a_request_body_reaches_the_service_unchanged(gateway: Gateway) -> None:
    payload = {"name": {"it": "Laboratorio è"}, "tags": {"ateco": ["72.19"]}}
    response = await gateway.client.post("/api/v1/catalog/labs", json=payload)
    echoed = response.json()
    assert json.loads(echoed["body"].encode("latin-1")) == payload
