"""Each service app: health, readiness (database and NATS), metrics, signed principals, problems."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from clock_cli.components import SERVICES, Component
from clock_cli.nats_server import NatsServer, free_port
from kernel.principal import PRINCIPAL_HEADER, Principal, Role, sign
from tests.conftest import eventually, migrate

SECRET = "test-secret"


async def _client(
    component: Component, tmp_path: Path, nats_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    database_url = migrate(component.name, f"sqlite+aiosqlite:///{tmp_path / 'svc.db'}")
    settings = component.settings(
        database_url=database_url, nats_url=nats_url, principal_secret=SECRET, data_dir=tmp_path
    )
    app = component.create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client


@pytest.fixture(params=SERVICES, ids=lambda c: c.name)
async def client(
    request: pytest.FixtureRequest, tmp_path: Path, nats_server: NatsServer
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(request.param, tmp_path, nats_server.url):
        yield client


def signed(role: Role = Role.REGION, secret: str = SECRET) -> dict[str, str]:
    return {PRINCIPAL_HEADER: sign(Principal(role=role), secret)}


async def test_health_and_metrics_need_no_principal(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and "clock_http_requests_total" in metrics.text


async def test_ready_when_database_and_nats_are_reachable(client: httpx.AsyncClient) -> None:
    async def ready() -> bool:
        return (await client.get("/readyz")).status_code == 200

    await eventually(ready)
    checks = (await client.get("/readyz")).json()["checks"]
    assert checks["database"]["ok"] and checks["nats"]["ok"]


@pytest.mark.parametrize("headers", [{}, signed(secret="not-the-gateway")])
async def test_requests_without_the_gateway_signature_get_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/openapi.json", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 401 and problem["type"].endswith("/unauthenticated")


async def test_signed_requests_pass_and_unknown_routes_are_problems(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/openapi.json", headers=signed())).status_code == 200
    response = await client.get("/no-such-thing", headers=signed(Role.ANONYMOUS))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.json()) >= {"type", "title", "status", "detail"}


async def test_request_id_is_echoed_or_created(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    created = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert created.headers["X-Request-ID"] not in ("", "bad id with spaces")


async def test_not_ready_while_nats_is_unreachable(tmp_path: Path) -> None:
    unreachable = f"nats://127.0.0.1:{free_port()}"
    async for client in _client(SERVICES[0], tmp_path, unreachable):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["nats"]["ok"] is False
        assert (await client.get("/healthz")).status_code == 200
