"""Running the whole platform (`clock run`) for end-to-end tests."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats

from clock_cli.nats_server import free_port

SERVICES = ("membership", "catalog", "matching", "reporting")


@dataclass
class RunningPlatform:
    process: subprocess.Popen[str]
    gateway: str
    ports: dict[str, int]
    output: list[str]
    region_key: str | None
    settings: Mapping[str, str]
    """The test's own `CLOCK_*` settings (e.g. PostgreSQL databases), for commands run beside."""


def fresh_ports() -> dict[str, int]:
    names = ("GATEWAY", "NATS", *(s.upper() for s in SERVICES))
    return {name: free_port() for name in names}


def start_platform(
    data_dir: Path,
    ports: dict[str, int],
    timeout: float = 90,
    env: Mapping[str, str] | None = None,
) -> RunningPlatform:
    """`clock run` in a subprocess; `env` adds `CLOCK_*` settings of the test's own."""
    settings = dict(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "clock_cli.main", "run"],
        env={**platform_env(data_dir, ports), **settings},
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
    return RunningPlatform(process, gateway, ports, output, key.group(1) if key else None, settings)


def stop_platform(platform: RunningPlatform) -> int:
    platform.process.send_signal(signal.SIGINT)
    code = platform.process.wait(timeout=60)
    return code


def platform_env(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCK_")}
    env["CLOCK_DATA_DIR"] = str(data_dir)
    for name, port in ports.items():
        env[f"CLOCK_{name}_PORT"] = str(port)
        if name not in ("GATEWAY", "NATS"):
            env[f"CLOCK_{name}_URL"] = f"http://127.0.0.1:{port}"
    # Tests call far faster than any client may, all from 127.0.0.1: the gateway's rate limits
    # are raised here (their defaults are tested in tests/integration/gateway).
    for role in ("REGION", "CENTRE", "PARTNER", "FIRM", "ANONYMOUS"):
        env[f"CLOCK_GATEWAY_RATE_LIMIT_{role}"] = "100000/minute"
    env["CLOCK_GATEWAY_AUTH_FAILURE_LIMIT"] = "100000/minute"
    return env


def create_api_key(platform: RunningPlatform, data_dir: Path, role: str, org: str) -> str:
    """`clock apikey create`, as an operator would run it next to the platform."""
    result = subprocess.run(
        [sys.executable, "-m", "clock_cli.main", "apikey", "create", "--role", role, "--org", org],
        env={**platform_env(data_dir, platform.ports), **platform.settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    match = re.search(r"^key:\s+(\S+)$", result.stdout, re.MULTILINE)
    assert match, result.stdout + result.stderr
    return match.group(1)


def wait_until(condition: Callable[[], bool], *, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} within {timeout}s")
        time.sleep(0.05)


def wait_for_kpis(
    region: httpx.Client, month: str, wanted: Mapping[str, object], *, timeout: float = 20
) -> None:
    """Until the month's totals of the `wanted` KPIs are the values given (the events behind
    them reach reporting after the responses that caused them)."""
    found: dict[str, object] = {}

    def counted() -> bool:
        response = region.get(
            "/api/v1/reporting/kpis",
            params={"from": month, "to": month, "period": "month", "kpi": ",".join(wanted)},
        )
        assert response.status_code == 200, response.text
        found.clear()
        found.update(
            {i["kpi"]: i["value"] for i in response.json()["items"] if i["dimension"] is None}
        )
        return found == wanted

    try:
        wait_until(counted, timeout=timeout, message="the KPIs")
    except AssertionError:
        raise AssertionError(f"KPIs {found} != {dict(wanted)}") from None


def provisional_report(region: httpx.Client, period: str) -> dict[str, Any]:
    """A provisional report of the period as of now: a new version when one was issued before
    (by another journey on the same platform)."""
    body = {"period": period, "provisional": True}
    response = region.post("/api/v1/reporting/reports", json=body)
    if response.status_code == 200:  # the period's report, issued before
        response = region.post("/api/v1/reporting/reports", json=body | {"supersede": True})
    assert response.status_code == 201, response.text
    report: dict[str, Any] = response.json()
    return report


def gateway_client(platform: RunningPlatform, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=platform.gateway, headers=headers, timeout=30)


def stream_subjects(platform: RunningPlatform, stream: str) -> list[str]:
    async def read() -> list[str]:
        connection = await nats.connect(f"nats://127.0.0.1:{platform.ports['NATS']}")
        try:
            js = connection.jetstream()
            info = await js.stream_info(stream)
            subscription = await js.subscribe("clock.>", stream=stream, ordered_consumer=True)
            subjects = []
            for _ in range(info.state.messages):
                message = await subscription.next_msg(timeout=5)
                subjects.append(json.loads(message.data)["type"])
            return subjects
        finally:
            await connection.close()

    return asyncio.run(read())


def wait_for_types(platform: RunningPlatform, stream: str, expected: set[str]) -> None:
    """Until every type in `expected` is on the stream (the outbox relay publishes after the
    commit that answered the request, so an event may trail its response)."""
    missing: set[str] = set(expected)

    def all_there() -> bool:
        missing.clear()
        missing.update(expected - set(stream_subjects(platform, stream)))
        return not missing

    try:
        wait_until(all_there, timeout=15, message=f"events on {stream}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; missing {sorted(missing)}") from None
