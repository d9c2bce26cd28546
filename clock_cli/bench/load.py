"""Load with `hey` (one process per URL, run together, CSV merged) and sequential timing.

`hey -o csv` writes one row per answered request (response time in seconds, status code,
offset from the start). Requests that failed below HTTP (refused, reset, timed out) have no row:
a paced run that falls short of its rate shows them as a lower achieved rate.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

HEY_INSTALL = "install it: apt-get install hey (Debian/Ubuntu)"


def hey_binary() -> str:
    found = shutil.which("hey")
    if found is None:
        raise FileNotFoundError(f"hey, the HTTP load generator, is not on PATH: {HEY_INSTALL}")
    return found


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of `values` (q in 0..1); 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class Sample:
    """Response times (ms) and statuses of one load run, over `seconds` of wall time."""

    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def extend(self, other: Sample) -> None:
        self.latencies_ms.extend(other.latencies_ms)
        self.statuses.extend(other.statuses)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def errors(self) -> int:
        return sum(1 for status in self.statuses if not 200 <= status < 300)

    def figures(self) -> dict[str, Any]:
        latencies = self.latencies_ms
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "rate": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(percentile(latencies, 0.50), 2),
            "p99_ms": round(percentile(latencies, 0.99), 2),
            "mean_ms": round(sum(latencies) / len(latencies), 2) if latencies else 0.0,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(Counter(self.statuses).items())},
        }


@dataclass(frozen=True)
class Load:
    """One hey process: `concurrency` workers on `url`, each at most `rate` requests/s."""

    url: str
    concurrency: int
    rate: float | None = None
    headers: tuple[str, ...] = ()
    method: str = "GET"
    body: str | None = None

    def command(self, seconds: float) -> list[str]:
        command = [hey_binary(), "-z", f"{seconds:g}s", "-c", str(self.concurrency), "-o", "csv"]
        if self.rate is not None:
            command += ["-q", f"{self.rate:g}"]
        for header in self.headers:
            command += ["-H", header]
        if self.method != "GET":
            command += ["-m", self.method]
        if self.body is not None:
            command += ["-d", self.body, "-T", "application/json"]
        return [*command, self.url]


def parse_csv(text: str, seconds: float) -> Sample:
    sample = Sample(seconds)
    for row in csv.DictReader(io.StringIO(text)):
        sample.latencies_ms.append(float(row["response-time"]) * 1000)
        sample.statuses.append(int(row["status-code"]))
    return sample


def run_hey(loads: Sequence[Load], seconds: float) -> Sample:
    """Run every load at once for `seconds`; one merged sample."""
    processes = [
        subprocess.Popen(
            load.command(seconds), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for load in loads
    ]
    merged = Sample(seconds)
    try:
        for load, process in zip(loads, processes, strict=True):
            # Each is bounded by -z; the margin covers start-up and requests under way.
            out, err = process.communicate(timeout=seconds + 60)
            if process.returncode != 0:
                raise RuntimeError(f"hey failed on {load.url} ({process.returncode}): {err}")
            merged.extend(parse_csv(out, seconds))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return merged


def split(total: int, parts: int) -> list[int]:
    """`total` workers over `parts` processes, each at least one."""
    return [max(1, total // parts + (1 if n < total % parts else 0)) for n in range(parts)]


def timed_requests(
    client: httpx.Client, count: int, request: Callable[[httpx.Client, int], httpx.Response]
) -> Sample:
    """`count` sequential requests (after 10 not timed, which warm caches and connections)."""
    sample = Sample(0.0)
    started = time.perf_counter()
    for n in range(count + 10):
        begun = time.perf_counter()
        response = request(client, n)
        elapsed = (time.perf_counter() - begun) * 1000
        if n == 9:
            started = time.perf_counter()
        if n >= 10:
            sample.latencies_ms.append(elapsed)
            sample.statuses.append(response.status_code)
    sample.seconds = time.perf_counter() - started
    return sample
