"""`clock bench --quick`, the CI smoke run of `make bench`: every benchmark still runs against
a platform of its own and writes a figure for each section (targets are reported, not asserted:
CI machines are too small and too shared for them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from numbers import Real
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("hey") is None, reason="hey (the load generator) is not installed"
)


def _numbers(figures: dict[str, Any], *keys: str) -> None:
    for key in keys:
        assert isinstance(figures[key], Real), (key, figures)


def test_every_benchmark_runs(tmp_path: Path) -> None:
    output = tmp_path / "platform.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCK_")}
    started = subprocess.run(
        [sys.executable, "-m", "clock_cli.main", "bench", "--quick", "--output", str(output)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert started.returncode == 0, started.stdout + started.stderr
    results = json.loads(output.read_text())

    assert results["quick"] is True
    _numbers(results["machine"], "cores", "memory_gib")
    gateway = results["gateway"]
    _numbers(gateway, "throughput_ratio", "added_p50_ms", "added_p99_ms")
    for run in ("throughput_direct", "throughput_gateway", "latency_direct", "latency_gateway"):
        _numbers(gateway[run], "requests", "rate", "p50_ms", "p99_ms", "errors")
        assert gateway[run]["requests"] > 0
    _numbers(gateway["throughput_gateway"], "gateway_cpu_ms_per_request")
    _numbers(results["reads"], "rate", "p50_ms", "p99_ms", "errors")
    for part in ("service", "gateway", "matchable"):
        _numbers(results["matching"][part], "p50_ms", "p99_ms")
    events = results["events"]
    assert events["events"] > 0
    for consumer in ("catalog", "matching", "reporting"):
        assert events["consumers"][consumer]["events"] == events["events"]
        _numbers(events["consumers"][consumer], "p50_ms", "p99_ms")
    relay = results["relay"]
    assert relay["sent"] == relay["events"]
    _numbers(relay, "rate")
    for name in ("gateway", "membership", "catalog", "matching", "reporting", "nats-server"):
        assert results["memory"]["idle"][name] > 0
        assert results["memory"]["peak"][name] > 0
    assert "| what | figure |" in started.stdout
