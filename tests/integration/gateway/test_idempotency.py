"""Idempotency-Key on POST and PATCH: one operation per key and request, the first response
replayed, per caller."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text, update

from gateway.idempotency import IdempotencyStore
from gateway.models import IdempotencyRecord, utcnow
from kernel.db import create_engine, create_sessionmaker
from kernel.principal import Role
from tests.conftest import eventually
from tests.integration.gateway.conftest import Gateway
from tests.integration.gateway.test_proxy import assert_problem
from tests.integration.gateway.test_rate_limits import client_at
from tests.integration.gateway.upstreams import demands_service

DEMAND = {"firm_id": "3f8b8a56-2d47-4a8e-9d8e-0a7c1d6b2e11", "title": "Recycle composites"}


@pytest.fixture
async def matching() -> FastAPI:
    return demands_service()


@pytest.fixture
async def demands(start_gateway: Callable[..., Any], matching: FastAPI) -> Gateway:
    gateway: Gateway = await start_gateway(upstreams={"matching": matching})
    return gateway


@pytest.fixture
async def records(demands: Gateway) -> AsyncIterator[Callable[..., Any]]:
    """`await records(sql)`: run a statement on the gateway's database."""
    engine = create_engine(demands.database_url)
    sessionmaker = create_sessionmaker(engine)

    async def run(statement: Any) -> Any:
        async with sessionmaker() as session:
            result = await session.execute(statement)
            await session.commit()
            return result

    yield run
    await engine.dispose()


def created(app: FastAPI) -> int:
    return len(app.state.demands)


async def test_a_partner_retrying_a_post_with_the_same_key_creates_one_demand(
    demands: Gateway, matching: FastAPI
) -> None:
    _, partner = await demands.create_key(Role.PARTNER, name="CNA integration")
    headers = {"X-API-Key": partner, "Idempotency-Key": str(uuid.uuid4())}

    first = await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert first.headers.get_list("set-cookie") == ["tracking=1"]
    for _ in range(3):  # the partner's network dropped the answers: it retries
        retry = await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
        assert retry.status_code == 201
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.json() == first.json()
        assert retry.headers["location"] == first.headers["location"]
        assert retry.headers["location"].startswith("/api/v1/matching/demands/")
        assert retry.headers["etag"] == '"1"'
        assert retry.headers["content-type"] == "application/json"
        assert retry.headers["x-request-id"] != first.headers["x-request-id"]
        assert "set-cookie" not in retry.headers
        assert "x-powered-by" not in retry.headers
        assert int(retry.headers["content-length"]) == len(retry.content)

    assert created(matching) == 1
    assert matching.state.received == 1

    # a new key is a new demand
    fresh = {"X-API-Key": partner, "Idempotency-Key": str(uuid.uuid4())}
    again = await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=fresh)
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert created(matching) == 2


async def test_the_same_key_for_another_request_is_a_422(
    demands: Gateway, matching: FastAPI
) -> None:
    _, partner = await demands.create_key(Role.PARTNER)
    headers = {"X-API-Key": partner, "Idempotency-Key": "order-2026-0001"}
    first = await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
    assert first.status_code == 201

    other_body = await demands.client.post(
        "/api/v1/matching/demands", json={**DEMAND, "title": "Other"}, headers=headers
    )
    problem = assert_problem(other_body, 422)
    assert "Idempotency-Key" in problem["detail"]
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    other_query = await demands.client.post(
        "/api/v1/matching/demands?dry_run=1", json=DEMAND, headers=headers
    )
    assert_problem(other_query, 422)
    other_method = await demands.client.patch(
        "/api/v1/matching/demands", json=DEMAND, headers=headers
    )
    assert_problem(other_method, 422)
    assert created(matching) == 1


async def test_concurrent_requests_with_one_key_run_the_operation_once(
    demands: Gateway, matching: FastAPI
) -> None:
    _, partner = await demands.create_key(Role.PARTNER)
    headers = {"X-API-Key": partner, "Idempotency-Key": str(uuid.uuid4())}
    matching.state.gate.clear()  # the service holds the first request until told

    async def post() -> httpx.Response:
        return await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)

    tasks = [asyncio.create_task(post()) for _ in range(5)]  # all at once
    await eventually(
        lambda: sum(task.done() for task in tasks) == 4, message="four answered while one runs"
    )
    assert matching.state.received == 1, "only one reached the service"
    refused = [task.result() for task in tasks if task.done()]
    for response in refused:
        problem = assert_problem(response, 409)
        assert "in progress" in problem["detail"]
        assert response.headers["retry-after"] == "1"

    (running,) = [task for task in tasks if not task.done()]
    matching.state.gate.set()
    winner = await running
    assert winner.status_code == 201
    replay = await post()
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == winner.json()
    assert created(matching) == 1


async def test_keys_are_scoped_per_caller(demands: Gateway, matching: FastAPI) -> None:
    _, first_partner = await demands.create_key(Role.PARTNER)
    _, second_partner = await demands.create_key(Role.PARTNER)
    key = {"Idempotency-Key": "retry-me"}
    one = await demands.client.post(
        "/api/v1/matching/demands", json=DEMAND, headers={**key, "X-API-Key": first_partner}
    )
    two = await demands.client.post(
        "/api/v1/matching/demands", json=DEMAND, headers={**key, "X-API-Key": second_partner}
    )
    assert one.status_code == two.status_code == 201
    assert "idempotent-replayed" not in two.headers
    assert one.json()["id"] != two.json()["id"]

    # anonymous callers are told apart by their address
    anonymous = await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=key)
    async with client_at(demands, "198.51.100.9") as elsewhere:
        other = await elsewhere.post("/api/v1/matching/demands", json=DEMAND, headers=key)
    assert "idempotent-replayed" not in anonymous.headers
    assert "idempotent-replayed" not in other.headers
    again = await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=key)
    assert again.headers["idempotent-replayed"] == "true"
    assert created(matching) == 4


async def test_failures_are_not_kept_so_the_client_may_retry(
    demands: Gateway, matching: FastAPI
) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    matching.state.fail_next = True
    failed = await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
    assert failed.status_code == 503
    assert "idempotent-replayed" not in failed.headers

    retried = await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert matching.state.received == 2
    assert created(matching) == 1

    # a client error is an answer: kept and replayed
    invalid = {"Idempotency-Key": str(uuid.uuid4())}
    refused = await demands.client.post(
        "/api/v1/matching/demands", json={"title": ""}, headers=invalid
    )
    assert refused.status_code == 422
    replayed = await demands.client.post(
        "/api/v1/matching/demands", json={"title": ""}, headers=invalid
    )
    assert replayed.status_code == 422
    assert replayed.headers["idempotent-replayed"] == "true"
    assert matching.state.received == 3


async def test_a_service_that_is_down_releases_the_key(
    start_gateway: Callable[..., Any],
) -> None:
    state = {"up": False}
    matching = demands_service()
    inner = httpx.ASGITransport(matching)

    async def flaky(request: httpx.Request) -> httpx.Response:
        if not state["up"]:
            raise httpx.ConnectError("refused", request=request)
        return await inner.handle_async_request(request)

    gateway: Gateway = await start_gateway(upstreams={"matching": httpx.MockTransport(flaky)})
    headers = {"Idempotency-Key": "k-1"}
    down = await gateway.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
    assert_problem(down, 503)
    state["up"] = True
    up = await gateway.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
    assert up.status_code == 201
    assert created(matching) == 1


async def test_patch_is_covered_and_other_methods_are_not(
    demands: Gateway, matching: FastAPI
) -> None:
    headers = {"Idempotency-Key": "patch-1"}
    first = await demands.client.patch(
        "/api/v1/matching/demands/d1", json={"title": "x"}, headers=headers
    )
    second = await demands.client.patch(
        "/api/v1/matching/demands/d1", json={"title": "x"}, headers=headers
    )
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert matching.state.received == 1
    for method in ("GET", "PUT", "DELETE"):
        for _ in range(2):
            response = await demands.client.request(
                method, "/api/v1/matching/demands/d1", headers={"Idempotency-Key": "any"}
            )
            assert "idempotent-replayed" not in response.headers
    assert matching.state.received == 7


async def test_malformed_keys_are_refused(demands: Gateway, matching: FastAPI) -> None:
    for key in ("", "with space", "x" * 256, "naïve"):
        response = await demands.client.post(
            "/api/v1/matching/demands",
            json=DEMAND,
            headers=[(b"idempotency-key", key.encode())],
        )
        problem = assert_problem(response, 422)
        assert problem["errors"][0]["in"] == "header"
    assert matching.state.received == 0
    ok = await demands.client.post(
        "/api/v1/matching/demands", json=DEMAND, headers={"Idempotency-Key": "x" * 255}
    )
    assert ok.status_code == 201


async def test_keys_expire_and_are_purged(
    demands: Gateway, matching: FastAPI, records: Callable[..., Any]
) -> None:
    headers = {"Idempotency-Key": "yesterday"}
    await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
    await records(update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1)))

    again = await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers, "an expired key is a new request"
    assert created(matching) == 2

    await demands.client.post(
        "/api/v1/matching/demands", json=DEMAND, headers={"Idempotency-Key": "fresh"}
    )
    await records(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.key == "yesterday")
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    state = demands.app.state.gateway
    purged = await IdempotencyStore(state.sessionmaker, ttl=60).purge()
    assert purged == 1
    remaining = (await records(select(IdempotencyRecord.key))).scalars().all()
    assert remaining == ["fresh"]


async def test_the_gateway_purges_expired_keys_by_itself(
    start_gateway: Callable[..., Any], matching: FastAPI
) -> None:
    gateway: Gateway = await start_gateway(
        upstreams={"matching": matching},
        idempotency_ttl=0.05,
        idempotency_purge_interval=0.05,
    )
    await gateway.client.post(
        "/api/v1/matching/demands", json=DEMAND, headers={"Idempotency-Key": "short-lived"}
    )
    sessionmaker = gateway.app.state.gateway.sessionmaker

    async def purged() -> bool:
        async with sessionmaker() as session:
            count = await session.scalar(select(func.count()).select_from(IdempotencyRecord))
        return count == 0

    await eventually(purged, message="expired keys purged")


async def test_a_claim_left_by_a_dead_gateway_is_taken_over(
    demands: Gateway, matching: FastAPI, records: Callable[..., Any]
) -> None:
    headers = {"Idempotency-Key": "orphan"}
    matching.state.gate.clear()
    task = asyncio.create_task(
        demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
    )
    await eventually(lambda: matching.state.received == 1, message="first request running")
    busy = await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
    assert_problem(busy, 409)
    # as if the gateway running the first request had died long ago
    await records(update(IdempotencyRecord).values(locked_until=utcnow() - timedelta(seconds=1)))
    matching.state.gate.set()
    taken = await demands.client.post("/api/v1/matching/demands", json=DEMAND, headers=headers)
    assert taken.status_code == 201
    await task


async def test_an_unreachable_key_store_is_a_503_and_nothing_runs(
    demands: Gateway, matching: FastAPI, records: Callable[..., Any]
) -> None:
    await records(text("DROP TABLE idempotency_keys"))
    response = await demands.client.post(
        "/api/v1/matching/demands", json=DEMAND, headers={"Idempotency-Key": "k"}
    )
    problem = assert_problem(response, 503)
    assert "Idempotency-Key" in problem["detail"]
    assert matching.state.received == 0
    # without a key the request does not need the store
    plain = await demands.client.post("/api/v1/matching/demands", json=DEMAND)
    assert plain.status_code == 201
