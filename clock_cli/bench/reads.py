"""Public catalogue reads: the gateway against the catalog service called directly (a), and
a mix of reads through the gateway at a fixed rate (b)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from clock_cli.bench.load import Load, Sample, run_hey, split
from clock_cli.bench.memory import PeakSampler, cpu_seconds
from clock_cli.bench.plan import Plan
from clock_cli.bench.platform import BenchPlatform

CATALOG = "/api/v1/catalog"


@dataclass(frozen=True)
class Paths:
    """Public catalogue paths (relative to the catalog service) with something to read."""

    labs: list[str]
    lists: list[str]
    searches: list[str]

    @property
    def three(self) -> list[str]:
        """One of each kind: what (a) compares."""
        return [self.labs[0], self.lists[0], self.searches[0]]

    @property
    def mix(self) -> list[str]:
        return [*self.labs, *self.lists, *self.searches]


def catalogue_paths(platform: BenchPlatform, *, timeout: float = 60.0) -> Paths:
    """The demo labs once published (membership events must reach the catalogue first)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=platform.url("gateway") + CATALOG, timeout=30) as client:
        labs: list[dict[str, Any]] = []
        while not labs and time.monotonic() < deadline:
            labs = client.get("/labs", params={"limit": 100}).json()["items"]
            time.sleep(0.2 if not labs else 0)
        if not labs:
            raise RuntimeError("no published lab in the catalogue")
        provinces = sorted({lab["province"] for lab in labs})
        words = sorted(
            {w for lab in labs for w in re.findall(r"[a-z]{7,}", lab["name"].get("en", "").lower())}
        )
        searches = [w for w in words if client.get("/search", params={"q": w}).json()["total"]]
    return Paths(
        labs=[f"/labs/{lab['id']}" for lab in labs],
        lists=["/labs?limit=20", *(f"/labs?limit=20&province={p}" for p in provinces[:3])],
        searches=[f"/search?q={w}" for w in searches[:8]] or ["/search?q=laboratory"],
    )


def _direct(platform: BenchPlatform, path: str, workers: int, rate: float | None) -> Load:
    url = platform.url("catalog") + path
    return Load(url, workers, rate, headers=(platform.principal_header(),))


def _proxied(
    platform: BenchPlatform, path: str, workers: int, rate: float | None, *, fresh: bool = False
) -> Load:
    """`fresh`: every request goes to the service (`Cache-Control: no-cache`), so that (a)
    compares the proxy with the service, not the gateway's cache with the service."""
    headers = ("Cache-Control: no-cache",) if fresh else ()
    return Load(platform.url("gateway") + CATALOG + path, workers, rate, headers=headers)


def _measured(platform: BenchPlatform, loads: list[Load], seconds: float) -> dict[str, Any]:
    """A hey run, with the CPU the gateway and the catalog spent per request."""
    pids = {name: platform.pids[name] for name in ("gateway", "catalog")}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    sample = run_hey(loads, seconds)
    figures = sample.figures()
    for name, pid in pids.items():
        spent = cpu_seconds(pid) - before[name]
        figures[f"{name}_cpu_ms_per_request"] = (
            round(spent * 1000 / sample.requests, 3) if sample.requests else None
        )
    return figures


def gateway_vs_direct(platform: BenchPlatform, plan: Plan, paths: Paths) -> dict[str, Any]:
    """(a) Same URLs, same concurrency: throughput, then latency at a fixed rate."""
    three = paths.three
    workers = plan.closed_workers
    # Warm both paths (connections, caches, the gateway's pool) before anything is timed.
    run_hey([_direct(platform, p, 1, None) for p in three], plan.warmup_seconds)
    run_hey([_proxied(platform, p, 1, None, fresh=True) for p in three], plan.warmup_seconds)
    closed_direct = _measured(
        platform, [_direct(platform, p, workers, None) for p in three], plan.closed_seconds
    )
    closed_proxied = _measured(
        platform,
        [_proxied(platform, p, workers, None, fresh=True) for p in three],
        plan.closed_seconds,
    )
    # Two workers per URL, each paced, so that together they ask for `paced_rate`.
    per_worker = plan.paced_rate / (2 * len(three))
    paced_direct = _measured(
        platform, [_direct(platform, p, 2, per_worker) for p in three], plan.paced_seconds
    )
    paced_proxied = _measured(
        platform,
        [_proxied(platform, p, 2, per_worker, fresh=True) for p in three],
        plan.paced_seconds,
    )
    ratio = closed_proxied["rate"] / closed_direct["rate"] if closed_direct["rate"] else 0.0
    return {
        "paths": three,
        "closed_loop_connections": workers * len(three),
        "throughput_direct": closed_direct,
        "throughput_gateway": closed_proxied,
        "throughput_ratio": round(ratio, 3),
        "paced_rate": plan.paced_rate,
        "latency_direct": paced_direct,
        "latency_gateway": paced_proxied,
        "added_p50_ms": round(paced_proxied["p50_ms"] - paced_direct["p50_ms"], 2),
        "added_p99_ms": round(paced_proxied["p99_ms"] - paced_direct["p99_ms"], 2),
    }


def catalogue_reads(
    platform: BenchPlatform, plan: Plan, paths: Paths, sampler: PeakSampler
) -> dict[str, Any]:
    """(b) Every lab, list pages and searches through the gateway at `read_rate` requests/s."""
    mix = paths.mix
    workers = split(plan.read_workers, len(mix))
    per_worker = plan.read_rate / sum(workers)
    loads = [_proxied(platform, p, c, per_worker) for p, c in zip(mix, workers, strict=True)]
    before = cache_lookups(platform)
    with sampler:
        sample: Sample = run_hey(loads, plan.read_seconds)
    after = cache_lookups(platform)
    figures = sample.figures()
    lookups = {outcome: after[outcome] - before.get(outcome, 0) for outcome in after}
    total = sum(lookups.values())
    figures.update(
        target_rate=plan.read_rate,
        urls=len(mix),
        workers=sum(workers),
        cache={
            "lookups": lookups,
            "hit_ratio": round(lookups.get("hit", 0) / total, 3) if total else None,
        },
    )
    return figures


LOOKUP_LINE = re.compile(
    r'^clock_gateway_public_cache_lookups_total\{outcome="(\w+)"\} ([0-9.e+]+)$', re.MULTILINE
)


def cache_lookups(platform: BenchPlatform) -> dict[str, float]:
    """The gateway's public-cache hits and misses so far (its Prometheus counters)."""
    with httpx.Client(timeout=30) as client:
        text = client.get(platform.url("gateway") + "/metrics").text
    return {outcome: float(value) for outcome, value in LOOKUP_LINE.findall(text)}
