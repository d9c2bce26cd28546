"""`clock run` as a newcomer uses it: a real nats-server, four services and the gateway."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from clock_cli.nats_server import free_port, port_is_free

SERVICES = ("membership", "catalog", "matching", "reporting")


@dataclass
class RunningPlatform:
    process: subprocess.Popen[str]
    gateway: str
    ports: dict[str, int]
    output: list[str]
    region_key: str | None


def _ports() -> dict[str, int]:
    names = ("GATEWAY", "NATS", *(s.upper() for s in SERVICES))
    return {name: free_port() for name in names}


def start_platform(data_dir: Path, ports: dict[str, int], timeout: float = 90) -> RunningPlatform:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCK_")}
    env["CLOCK_DATA_DIR"] = str(data_dir)
    for name, port in ports.items():
        env[f"CLOCK_{name}_PORT"] = str(port)
        if name not in ("GATEWAY", "NATS"):
            env[f"CLOCK_{name}_URL"] = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "clock_cli.main", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + timeout
    gateway = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        match = re.search(r"gateway ready at (http://\S+)", line)
        if match:
            gateway = match.group(1)
            break
    if gateway is None:
        process.kill()
        raise AssertionError("clock run did not get ready:\n" + "".join(output))
    text = "".join(output)
    key = re.search(r"^\s+(clk_\S+)$", text, re.MULTILINE)
    return RunningPlatform(process, gateway, ports, output, key.group(1) if key else None)


def stop_platform(platform: RunningPlatform) -> int:
    platform.process.send_signal(signal.SIGINT)
    code = platform.process.wait(timeout=60)
    return code


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clock-run")


@pytest.fixture(scope="module")
def platform(data_dir: Path) -> Iterator[RunningPlatform]:
    running = start_platform(data_dir, _ports())
    yield running
    if running.process.poll() is None:
        stop_platform(running)


def test_gateway_and_every_service_are_ready(platform: RunningPlatform) -> None:
    assert httpx.get(f"{platform.gateway}/healthz").status_code == 200
    deadline = time.monotonic() + 30
    for service in SERVICES:
        while True:
            response = httpx.get(f"{platform.gateway}/api/v1/{service}/readyz")
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert response.status_code == 200, (service, response.text)
        assert response.json()["checks"]["nats"]["ok"] is True


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
        deadline = time.monotonic() + 10
        while not port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert port_is_free(port), f"{name} still listening on {port} after Ctrl-C"
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

    ports = _ports()
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
