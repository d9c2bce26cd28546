"""`clock run` as a newcomer uses it: a real nats-server, four services and the gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clock_cli.nats_server import port_is_free
from tests.e2e.platform import (
    SERVICES,
    RunningPlatform,
    fresh_ports,
    start_platform,
    stop_platform,
    wait_until,
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clock-run")


@pytest.fixture(scope="module")
def platform(data_dir: Path) -> Iterator[RunningPlatform]:
    running = start_platform(data_dir, fresh_ports())
    yield running
    if running.process.poll() is None:
        stop_platform(running)


def test_gateway_and_every_service_are_ready(platform: RunningPlatform) -> None:
    # The gateway opens only once every service is ready: no waiting here.
    assert httpx.get(f"{platform.gateway}/healthz").status_code == 200
    for service in SERVICES:
        port = platform.ports[service.upper()]
        response = httpx.get(f"http://127.0.0.1:{port}/readyz")  # probes reach a service itself
        assert response.status_code == 200, (service, response.text)
        assert response.json()["checks"]["nats"]["ok"] is True
        # ... and through the gateway, but never its metrics
        through = httpx.get(f"{platform.gateway}/api/v1/{service}/readyz")
        assert through.status_code == 200, (service, through.text)
        blocked = httpx.get(f"{platform.gateway}/api/v1/{service}/metrics")
        assert blocked.status_code == 404, service
        assert blocked.headers["content-type"] == "application/problem+json"


def test_the_gateway_hardening_in_the_running_platform(platform: RunningPlatform) -> None:
    application = {
        "organisation": {
            "name": "Consorzio Pietre Apuane",
            "kind": "technology_transfer_centre",
            "vat_number": "01234560470",
            "province": "MS",
            "municipality": "Carrara",
        },
        "declarations": {
            "operates_in_tuscany": True,
            "operates_in_technology_transfer": True,
            "offer": "Prove su materiali lapidei.",
        },
        "representative": {
            "full_name": "Paolo Neri",
            "email": "paolo.neri@example.org",
            "position": "Direttore",
        },
    }
    headers = {"Idempotency-Key": "apuane-application-1"}
    with httpx.Client(base_url=platform.gateway, timeout=30) as anonymous:
        first = anonymous.post("/api/v1/membership/applications", json=application, headers=headers)
        retry = anonymous.post("/api/v1/membership/applications", json=application, headers=headers)
        banner = anonymous.get("/api/v1/whoami")
    assert first.status_code == 201, first.text
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]

    # no banners, the security headers, and the rate limit of the caller
    assert "server" not in banner.headers
    assert banner.headers["x-content-type-options"] == "nosniff"
    assert banner.headers["x-frame-options"] == "DENY"
    assert int(banner.headers["ratelimit-limit"]) > 0

    region = {"Authorization": f"Bearer {platform.region_key}"}
    with httpx.Client(base_url=platform.gateway, headers=region, timeout=30) as client:
        applications = client.get("/api/v1/membership/applications", params={"limit": 100})
        audit = client.get("/api/v1/audit", params={"path_prefix": "/api/v1/membership/app"})
    assert applications.status_code == 200, applications.text
    same = [
        item
        for item in applications.json()["items"]
        if item["organisation"].get("vat_number") == "01234560470"
    ]
    assert len(same) == 1, "one application, not two"
    assert audit.status_code == 200, audit.text
    assert [entry["idempotent_replay"] for entry in audit.json()["items"]] == [True, False]
    assert "cache-control" in audit.headers and audit.headers["cache-control"] == "no-store"


def test_first_start_prints_a_region_key(platform: RunningPlatform) -> None:
    assert platform.region_key is not None
    response = httpx.get(
        f"{platform.gateway}/api/v1/whoami",
        headers={"Authorization": f"Bearer {platform.region_key}"},
    )
    assert response.status_code == 200 and response.json()["role"] == "region"


def test_a_service_port_refuses_requests_without_the_gateway(platform: RunningPlatform) -> None:
    for service in SERVICES:
        port = platform.ports[service.upper()]
        response = httpx.get(f"http://127.0.0.1:{port}/openapi.json")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


def test_merged_openapi_and_docs(platform: RunningPlatform) -> None:
    document = httpx.get(f"{platform.gateway}/api/v1/openapi.json").json()
    assert document["info"]["title"] == "CLOCK API"
    assert httpx.get(f"{platform.gateway}/docs").status_code == 200


def test_ctrl_c_stops_everything_and_a_second_run_keeps_the_data(
    platform: RunningPlatform, data_dir: Path
) -> None:
    assert stop_platform(platform) == 0
    for name, port in platform.ports.items():
        wait_until(
            lambda p=port: port_is_free(p),
            timeout=10,
            message=f"{name} stops listening on {port} after Ctrl-C",
        )
    again = start_platform(data_dir, platform.ports)
    try:
        assert again.region_key is None, "a second start must not create another key"
        response = httpx.get(
            f"{again.gateway}/api/v1/whoami",
            headers={"X-API-Key": platform.region_key or ""},
        )
        assert response.status_code == 200
    finally:
        assert stop_platform(again) == 0


def test_a_taken_port_names_the_setting(tmp_path: Path) -> None:
    import socket

    ports = fresh_ports()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports["GATEWAY"]))
        blocker.listen()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCK_")}
        env |= {f"CLOCK_{name}_PORT": str(port) for name, port in ports.items()}
        env["CLOCK_DATA_DIR"] = str(tmp_path)
        result = subprocess.run(
            [sys.executable, "-m", "clock_cli.main", "run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert "CLOCK_GATEWAY_PORT" in result.stderr
