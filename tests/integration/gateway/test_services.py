"""The gateway in front of a real service app (catalog), its own middlewares included."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kernel.principal import Role
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from tests.conftest import migrate
from tests.integration.gateway.conftest import SECRET, Gateway

UNREACHABLE_NATS = "nats://127.0.0.1:1"


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[FastAPI]:
    url = migrate("catalog", f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}")
    app = create_catalog(
        CatalogSettings(
            database_url=url,
            nats_url=UNREACHABLE_NATS,
            principal_secret=SECRET,
            log_json=False,
        )
    )
    async with app.router.lifespan_context(app):  # exiting it stops the NATS reconnect loop
        yield app


async def test_a_real_service_accepts_the_principal_the_gateway_signs(
    start_gateway: Callable[..., Any], catalog: FastAPI
) -> None:
    gateway: Gateway = await start_gateway(upstreams={"catalog": catalog})
    _, key = await gateway.create_key(Role.REGION)

    # the service's metrics are for Prometheus, not for clients of the gateway
    for internal in ("metrics", "metrics/", "%6Detrics", "metrics?x=1"):
        response = await gateway.client.get(f"/api/v1/catalog/{internal}")
        assert response.status_code == 404, internal
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "clock_http_requests_total" not in response.text
    # its readiness is readable through the gateway (here: not ready, NATS is unreachable)
    through = await gateway.client.get("/api/v1/catalog/readyz")
    assert through.status_code == 503
    assert through.json()["checks"]["nats"] == {"ok": False}

    # probed directly, the service says it is not ready: NATS is unreachable
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(catalog), base_url="http://catalog.test"
    ) as direct:
        readyz = await direct.get("/readyz")
    assert readyz.status_code == 503
    assert readyz.json()["checks"]["nats"] == {"ok": False}
    assert readyz.json()["checks"]["database"] == {"ok": True}

    # past the service's SignedPrincipalMiddleware (a 404 of its router, not a 401)
    for headers in ({}, {"Authorization": f"Bearer {key}"}):
        response = await gateway.client.get("/api/v1/catalog/no-such-route", headers=headers)
        assert response.status_code == 404, response.text
        assert response.json()["instance"] == "/no-such-route"

    document = (await gateway.client.get("/api/v1/openapi.json")).json()
    assert "catalog" not in document["info"]["x-unavailable-services"]
    assert document["info"]["x-services"]["catalog"]["title"] == "CLOCK catalog"


async def test_a_service_refuses_a_gateway_signing_with_another_secret(
    start_gateway: Callable[..., Any], catalog: FastAPI
) -> None:
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": catalog}, principal_secret="not-the-shared-secret"
    )
    response = await gateway.client.get("/api/v1/catalog/labs")
    assert response.status_code == 401
    assert "gateway" in response.json()["detail"]
