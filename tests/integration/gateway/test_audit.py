"""The audit log: every write through the gateway recorded, read by the region only."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from kernel.db import create_engine, create_sessionmaker
from kernel.principal import Role
from tests.integration.gateway.conftest import Gateway, echo_app
from tests.integration.gateway.test_proxy import ORG, assert_problem
from tests.integration.gateway.upstreams import demands_service

AUDIT = "/api/v1/audit"


@pytest.fixture
async def audited(start_gateway: Callable[..., Any]) -> Gateway:
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": echo_app(), "matching": demands_service()}
    )
    return gateway


async def region_key(gateway: Gateway) -> dict[str, str]:
    _, key = await gateway.create_key(Role.REGION, name="regional officer")
    return {"X-API-Key": key}


async def test_every_write_is_recorded_with_who_what_and_outcome(audited: Gateway) -> None:
    partner_id, partner = await audited.create_key(Role.PARTNER, ORG)
    region = await region_key(audited)
    started = datetime.now(UTC)

    created = await audited.client.post(
        "/api/v1/matching/demands?source=crm",
        json={"title": "Recycle composites"},
        headers={"X-API-Key": partner, "X-Request-ID": "partner-req-1", "Idempotency-Key": "a"},
    )
    replayed = await audited.client.post(
        "/api/v1/matching/demands?source=crm",
        json={"title": "Recycle composites"},
        headers={"X-API-Key": partner, "Idempotency-Key": "a"},
    )
    assert created.status_code == replayed.status_code == 201
    await audited.client.delete("/api/v1/catalog/labs/1")  # anonymous
    await audited.client.put("/api/v1/catalog/labs/1", headers={"X-API-Key": "wrong"})  # 401
    await audited.client.patch("/api/v1/catalog/labs/1", content=b"x" * 2_000_000)  # 413
    await audited.client.get("/api/v1/catalog/labs")  # a read: not audited

    page = await audited.client.get(AUDIT, headers=region)
    assert page.status_code == 200, page.text
    body = page.json()
    assert set(body) == {"items", "next_cursor"}
    assert body["next_cursor"] is None
    items = body["items"]
    assert [(i["method"], i["status"]) for i in items] == [
        ("PATCH", 413),
        ("PUT", 401),
        ("DELETE", 200),
        ("POST", 201),
        ("POST", 201),
    ], "newest first, reads left out, refusals included"

    first = items[-1]
    assert first["role"] == "partner"
    assert first["key_id"] == partner_id
    assert first["org_id"] == ORG
    assert first["subject"] is None
    assert first["path"] == "/api/v1/matching/demands"
    assert first["query"] == "source=crm"
    assert first["request_id"] == "partner-req-1"
    assert first["client_ip"] == "203.0.113.7"
    assert first["idempotent_replay"] is False
    assert items[-2]["idempotent_replay"] is True
    occurred = datetime.fromisoformat(first["occurred_at"])
    assert started - timedelta(seconds=1) <= occurred <= datetime.now(UTC)
    anonymous = items[2]
    assert anonymous["role"] == "anonymous" and anonymous["key_id"] is None


async def test_the_audit_log_is_for_the_region_only(audited: Gateway) -> None:
    assert_problem(await audited.client.get(AUDIT), 401)
    for role in (Role.CENTRE, Role.FIRM, Role.PARTNER):
        _, key = await audited.create_key(role)
        assert_problem(await audited.client.get(AUDIT, headers={"X-API-Key": key}), 403)
    assert_problem(await audited.client.get(AUDIT, headers={"X-API-Key": "clk_bad"}), 401)
    assert (await audited.client.get(AUDIT, headers=await region_key(audited))).status_code == 200


async def test_filters_and_cursor_pagination(audited: Gateway) -> None:
    region = await region_key(audited)
    _, centre = await audited.create_key(Role.CENTRE, ORG)
    _, firm = await audited.create_key(Role.FIRM, str(uuid.uuid4()))
    for index in range(7):
        await audited.client.post(
            f"/api/v1/catalog/labs/{index}", json={}, headers={"X-API-Key": centre}
        )
    await audited.client.delete("/api/v1/catalog/labs/9", headers={"X-API-Key": firm})
    await audited.client.post("/api/v1/matching/demands", json={"title": ""})  # 422 upstream

    async def audit(**params: Any) -> dict[str, Any]:
        response = await audited.client.get(AUDIT, params=params, headers=region)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = await audit(**params)
        seen.extend(item["id"] for item in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 9, "every entry once, none skipped"

    assert len((await audit(org=ORG))["items"]) == 7
    assert len((await audit(role="firm"))["items"]) == 1
    assert len((await audit(method="DELETE"))["items"]) == 1
    assert len((await audit(status=422))["items"]) == 1
    assert len((await audit(path_prefix="/api/v1/catalog/labs/"))["items"]) == 8
    assert len((await audit(path_prefix="/api/v1/catalog/labs/1"))["items"]) == 1
    assert (await audit(path_prefix="/api/v1/catalog/labs/%"))["items"] == []
    assert len((await audit(role="centre", path_prefix="/api/v1/catalog", limit=500))["items"]) == 7

    newest = (await audit(limit=1))["items"][0]
    moment = datetime.fromisoformat(newest["occurred_at"])
    assert (await audit(**{"from": (moment + timedelta(seconds=1)).isoformat()}))["items"] == []
    up_to_newest = await audit(**{"to": moment.isoformat()})
    assert newest["id"] not in {item["id"] for item in up_to_newest["items"]}, "'to' is exclusive"
    assert len((await audit(**{"from": moment.isoformat()}))["items"]) >= 1


async def test_bad_filters_are_422(audited: Gateway) -> None:
    region = await region_key(audited)
    now = datetime.now(UTC)
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},  # base64 of [] : well encoded, meaningless
        {"from": "yesterday"},
        {"from": "2026-01-01T00:00:00"},  # no time zone
        {"from": now.isoformat(), "to": (now - timedelta(hours=1)).isoformat()},
        {"limit": 0},
        {"limit": 501},
        {"status": 99},
        {"method": "GET"},
        {"role": "admin"},
    ):
        response = await audited.client.get(AUDIT, params=params, headers=region)
        assert_problem(response, 422)


async def test_a_failing_audit_write_never_fails_the_request(
    audited: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    region = await region_key(audited)
    engine = create_engine(audited.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            await session.execute(text("DROP TABLE audit_log"))
            await session.commit()
    finally:
        await engine.dispose()
    with caplog.at_level(logging.ERROR):
        response = await audited.client.post("/api/v1/catalog/labs", json={"name": "x"})
    assert response.status_code == 200
    assert response.json()["method"] == "POST"
    assert any(record.getMessage() == "audit entry not written" for record in caplog.records)
    unreadable = await audited.client.get(AUDIT, headers=region)
    problem = assert_problem(unreadable, 503)
    assert "audit_log" not in problem["detail"], "no SQL in the answer"


async def test_token_callers_are_audited_with_their_subject(
    start_gateway: Callable[..., Any], tmp_path: Any
) -> None:
    import json

    from tests.integration.gateway.tokens import AUDIENCE, ISSUER, claims, jwks, rs256, sign

    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(rs256())))
    app: FastAPI = echo_app()
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": app},
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks=str(path),
    )
    token = sign(rs256(), claims(role="centre", sub="officer@asev"))
    await gateway.client.post(
        "/api/v1/catalog/labs", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    region = sign(rs256(), claims(role="region", org=None, sub="region-officer"))
    page = await gateway.client.get(AUDIT, headers={"Authorization": f"Bearer {region}"})
    assert page.status_code == 200, page.text
    (item,) = page.json()["items"]
    assert item["subject"] == "officer@asev"
    assert item["key_id"] == "oidc:officer@asev"
    assert item["role"] == "centre"
