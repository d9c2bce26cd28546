"""The gateway keeps what a service marks public for anonymous callers, and only that."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request

from kernel.http import PublicCacheControl, SignedPrincipalMiddleware
from kernel.principal import Role
from tests.integration.gateway.conftest import SECRET, Gateway


def public_catalogue() -> FastAPI:
    """Labs as the catalogue serves them: signed principals, public answers marked so."""
    app = FastAPI()
    app.state.calls = 0

    @app.get("/labs")
    async def labs(request: Request) -> dict[str, Any]:
        app.state.calls += 1
        return {"calls": app.state.calls, "query": request.url.query}

    @app.post("/labs", status_code=201)
    async def create() -> dict[str, str]:
        return {"id": "new"}

    app.add_middleware(SignedPrincipalMiddleware, secrets=[SECRET])
    app.add_middleware(PublicCacheControl, max_age=30)
    return app


async def test_anonymous_reads_are_served_from_the_cache(
    start_gateway: Callable[..., Any],
) -> None:
    upstream = public_catalogue()
    gateway: Gateway = await start_gateway(upstreams={"catalog": upstream})
    client = gateway.client

    first = await client.get("/api/v1/catalog/labs?limit=2")
    second = await client.get("/api/v1/catalog/labs?limit=2")
    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache"] == "MISS" and second.headers["x-cache"] == "HIT"
    assert second.json() == first.json() == {"calls": 1, "query": "limit=2"}
    assert second.headers["cache-control"] == "public, max-age=30"
    assert "age" in second.headers
    # Each answer still gets this request's own id and security headers.
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert second.headers["x-content-type-options"] == "nosniff"

    other = await client.get("/api/v1/catalog/labs?limit=3")
    assert other.json()["calls"] == 2
    fresh = await client.get("/api/v1/catalog/labs?limit=2", headers={"Cache-Control": "no-cache"})
    assert fresh.json()["calls"] == 3 and fresh.headers["x-cache"] == "MISS"


async def test_authenticated_callers_never_share_it(start_gateway: Callable[..., Any]) -> None:
    upstream = public_catalogue()
    gateway: Gateway = await start_gateway(upstreams={"catalog": upstream})
    _, key = await gateway.create_key(Role.CENTRE)
    anonymous = await gateway.client.get("/api/v1/catalog/labs")
    centre = [
        await gateway.client.get("/api/v1/catalog/labs", headers={"X-API-Key": key})
        for _ in range(2)
    ]
    assert anonymous.json()["calls"] == 1
    assert [r.json()["calls"] for r in centre] == [2, 3]
    assert all(r.headers.get("x-cache") != "HIT" for r in centre)
    assert all(r.headers["cache-control"] == "no-store" for r in centre)
    # ...and what they read is not kept for anonymous callers either.
    assert (await gateway.client.get("/api/v1/catalog/labs")).headers["x-cache"] == "HIT"


async def test_a_write_through_the_gateway_drops_the_service_answers(
    start_gateway: Callable[..., Any],
) -> None:
    upstream = public_catalogue()
    gateway: Gateway = await start_gateway(upstreams={"catalog": upstream})
    _, key = await gateway.create_key(Role.REGION)
    await gateway.client.get("/api/v1/catalog/labs")
    created = await gateway.client.post("/api/v1/catalog/labs", headers={"X-API-Key": key})
    assert created.status_code == 201
    after = await gateway.client.get("/api/v1/catalog/labs")
    assert after.headers["x-cache"] == "MISS" and after.json()["calls"] == 2


async def test_it_can_be_turned_off(start_gateway: Callable[..., Any]) -> None:
    upstream = public_catalogue()
    gateway: Gateway = await start_gateway(upstreams={"catalog": upstream}, public_cache_entries=0)
    answers = [await gateway.client.get("/api/v1/catalog/labs") for _ in range(2)]
    assert [a.json()["calls"] for a in answers] == [1, 2]
    assert all("x-cache" not in a.headers for a in answers)
