"""`clock bench`: run the benchmarks on a platform of their own; print and write the figures."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clock_cli.bench import events, matching, reads, report
from clock_cli.bench.load import hey_binary
from clock_cli.bench.memory import PeakSampler, resident
from clock_cli.bench.plan import FULL, QUICK, SECTIONS, Plan
from clock_cli.bench.platform import BenchPlatform

POSTGRES_URL = "CLOCK_BENCH_POSTGRES_URL"


def _on_sigterm(signum: int, _frame: object) -> None:
    # Unwind like Ctrl-C, so that every `finally` stops what it started.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _step(name: str) -> None:
    print(f"bench: {name} ...", flush=True)


def measure(platform: BenchPlatform, plan: Plan, only: set[str]) -> dict[str, Any]:
    """Every selected benchmark, in an order where the heavier ones come last."""
    results: dict[str, Any] = {}
    paths = reads.catalogue_paths(platform)
    idle = resident(platform.pids)
    sampler = PeakSampler(platform.pids)
    if "gateway" in only:
        _step("gateway against direct")
        results["gateway"] = reads.gateway_vs_direct(platform, plan, paths)
    if "reads" in only:
        _step(f"catalogue reads at {plan.read_rate:.0f} req/s for {plan.read_seconds:.0f} s")
        results["reads"] = reads.catalogue_reads(platform, plan, paths, sampler)
    if "matching" in only:
        _step("matching")
        results["matching"] = matching.matches(platform, plan)
    if "events" in only:
        _step(f"events at {plan.event_rate:.0f}/s for {plan.event_seconds:.0f} s")
        results["events"] = events.commit_to_commit(platform, plan, sampler)
    if "relay" in only:
        _step(f"outbox relay over {plan.relay_events:,} events")
        results["relay"] = events.relay_rate(platform, plan)
    if "memory" in only:
        results["memory"] = {"idle": idle, "peak": sampler.peaks, "unit": "MiB (VmRSS)"}
    return results


def bench(
    *, quick: bool = False, output: Path | None = None, only: Sequence[str] = ()
) -> dict[str, Any]:
    """Run the benchmarks; print the table, write the JSON to `output`; return the results."""
    hey_binary()  # fail before anything starts
    plan = QUICK if quick else FULL
    selected = set(only or SECTIONS)
    postgres = os.environ.get(POSTGRES_URL) or None
    results: dict[str, Any] = {
        "machine": report.machine("postgresql" if postgres else "sqlite"),
        "quick": quick,
        "plan": vars(plan),
    }
    print(report.text(results).splitlines()[0], flush=True)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with BenchPlatform(entries=plan.entries, postgres_url=postgres) as platform:
            results.update(measure(platform, plan, selected))
    finally:
        signal.signal(signal.SIGTERM, previous)
    if "reporting" in selected:
        results["reporting"] = report.reporting_figures()
    print(report.text(results), flush=True)
    if output is not None:
        report.write(results, output)
        print(f"bench: wrote {output}", file=sys.stderr)
    return results
