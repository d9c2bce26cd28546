"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from clock_cli import postgres
from tests.e2e.platform import (
    SERVICES,
    RunningPlatform,
    fresh_ports,
    start_platform,
    stop_platform,
)

POSTGRES_URL = os.environ.get("CLOCK_TEST_POSTGRES_URL")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The databases' settings: none (SQLite files in the data directory) or a PostgreSQL
    database per component, dropped afterwards."""
    if request.param == "sqlite":
        yield {}
        return
    if not POSTGRES_URL:
        pytest.skip("CLOCK_TEST_POSTGRES_URL not set")
    suffix = uuid.uuid4().hex[:8]
    names = {c: f"clock_e2e_{suffix}_{c}" for c in (*SERVICES, "gateway")}
    postgres.create_databases(POSTGRES_URL, list(names.values()))
    try:
        yield {
            f"CLOCK_{c.upper()}_DATABASE_URL": postgres.with_database(POSTGRES_URL, name)
            for c, name in names.items()
        }
    finally:
        postgres.drop_databases(POSTGRES_URL, list(names.values()))


@pytest.fixture(scope="session")
def shared_platform(
    backend: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningPlatform, Path]]:
    """One platform (and its data directory) per database, for the journeys whose figures do
    not depend on each other: the initiatives and the challenges."""
    data_dir = tmp_path_factory.mktemp("clock-e2e-shared")
    running = start_platform(data_dir, fresh_ports(), env=backend)
    yield running, data_dir
    stop_platform(running)
