"""Fixtures shared by every test: a real nats-server, real databases built by migrations."""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from clock_cli.nats_server import FREE_PORTS_VARIABLE, NatsServer, free_ports_range
from kernel.migrations import upgrade
from kernel.principal import PRINCIPAL_HEADER, Principal, sign

ROOT = Path(__file__).resolve().parent.parent


def _share_the_free_ports() -> None:
    """Each pytest-xdist worker chooses its servers' ports in a share of its own, so that two
    workers never pick the same port before either binds it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2 or FREE_PORTS_VARIABLE in os.environ:
        return
    ports = free_ports_range()
    share = len(ports) // count
    start = ports.start + int(worker[2:]) * share
    os.environ[FREE_PORTS_VARIABLE] = f"{start}-{start + share - 1}"


_share_the_free_ports()
POSTGRES_URL = os.environ.get("CLOCK_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of the test's own, on a free port, storing under tmp_path."""
    server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL database when
    CLOCK_TEST_POSTGRES_URL is set (skipped otherwise)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("CLOCK_TEST_POSTGRES_URL not set")
    name = f"clock_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def migrate(service: str, database_url: str) -> str:
    """Build the service's database with its Alembic migrations; returns the URL."""
    script_location = ROOT / ("gateway" if service == "gateway" else f"services/{service}")
    upgrade(script_location / "migrations", database_url)
    return database_url


async def eventually(
    condition: Callable[[], Awaitable[bool] | bool],
    *,
    timeout: float = 15.0,
    interval: float = 0.05,
    message: str = "condition not met",
) -> None:
    """Poll until `condition` holds, failing after `timeout` seconds (no blind sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} within {timeout}s")
        await asyncio.sleep(interval)


def principal_refresher(secret: str) -> Callable[[httpx.Request], Awaitable[None]]:
    """An httpx request hook that signs the request's principal again at send time.

    Signatures expire after 60 s; headers built once (module constants) would go stale in a
    long run. The hook keeps the principal and renews the timestamp and the HMAC.
    """

    async def refresh(request: httpx.Request) -> None:
        header = request.headers.get(PRINCIPAL_HEADER)
        if header:
            payload = header.split(".", 1)[0]
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            request.headers[PRINCIPAL_HEADER] = sign(Principal.model_validate_json(raw), secret)

    return refresh
