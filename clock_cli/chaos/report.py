"""The printed summary of a round, the tally of several, and the JSON of `--output`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from clock_cli.chaos.round import RoundResult


def summary(result: RoundResult) -> str:
    events, ops = result.events, result.operations
    lines = [
        f"chaos round {result.round} (seed {result.seed}): "
        f"{'PASSED' if result.passed else 'FAILED'} in {result.duration_s:.1f}s "
        f"(workload {result.workload_s:.1f}s, catch-up {result.catch_up_s:.1f}s)",
    ]
    if events:
        lines.append(
            f"  events: {events['attempted']} attempted, {events['acknowledged']} acknowledged, "
            f"{events['in_stream']} in the streams, read {events['read']}; "
            f"lost {events['lost']['count']}, duplicated {events['duplicated']['count']}, "
            f"unexpected {events['unexpected']['count']}, "
            f"dead-lettered {events['dead_lettered']['count']}"
        )
    if ops:
        lines.append(
            f"  operations: {ops['attempted']} attempted, {ops['acknowledged']} acknowledged, "
            f"{ops['refused']} refused, {ops['failed']} failed, "
            f"{ops['unknown_attempts']} attempts of unknown outcome retried; "
            f"lost {ops['lost']['count']}, duplicated {ops['duplicated']['count']} "
            f"({ops['duplicated_after_unknown']} after an attempt of unknown outcome), "
            f"unexpected {ops['unexpected']['count']}"
        )
        lines.append(
            f"  reads: {ops['reads']}, {ops['read_retries']} attempts retried, "
            f"{ops['reads_failed']} failed after every retry"
        )
    if result.periodic:
        periodic = result.periodic
        lines.append(
            f"  periodic tasks: report of {periodic.get('report_period')} issued once: "
            f"{not periodic.get('report_problems')}; {periodic.get('expired')} memberships "
            f"expired once each: {not periodic.get('expiry_problems')} "
            f"(in {periodic.get('expired_s')}s)"
        )
    if result.kpis:
        lines.append(
            f"  KPIs: {len(result.kpis['truth'])} compared, "
            f"{len(result.kpis['mismatches'])} differ from the sources of truth"
        )
    kinds: dict[str, int] = {}
    for fault in result.faults:
        kinds[fault["kind"]] = kinds.get(fault["kind"], 0) + 1
    lines.append(f"  faults: {kinds}; deaths {result.deaths}")
    recovery = result.max_recovery
    if result.recovery_s:
        lines.append(
            f"  consumers flowing again after NATS came back: max {recovery}s "
            f"over {len(result.recovery_s)} samples"
        )
    for problem in result.problems:
        lines.append(f"  PROBLEM: {problem}")
    if not result.passed:
        lines.append(f"  data and logs kept in {result.data_dir}")
    return "\n".join(lines)


def tally(results: Sequence[RoundResult]) -> dict[str, Any]:
    recoveries = [r.max_recovery for r in results if r.max_recovery is not None]

    def total(section: str, name: str) -> int:
        return sum(int(getattr(r, section).get(name, {}).get("count", 0)) for r in results)

    return {
        "rounds": len(results),
        "passed": sum(r.passed for r in results),
        "events": sum(int(r.events.get("attempted", 0)) for r in results),
        "lost": total("events", "lost") + total("operations", "lost"),
        "duplicated": total("events", "duplicated") + total("operations", "duplicated"),
        "unexpected": total("events", "unexpected") + total("operations", "unexpected"),
        "kpi_mismatches": sum(len(r.kpis.get("mismatches", [])) for r in results),
        "max_recovery_s": max(recoveries) if recoveries else None,
        "seconds": round(sum(r.duration_s for r in results), 1),
    }


def tally_line(figures: dict[str, Any]) -> str:
    return (
        f"chaos tally: {figures['rounds']} rounds, {figures['passed']} passed, "
        f"{figures['events']} events; lost {figures['lost']}, "
        f"duplicated {figures['duplicated']}, unexpected {figures['unexpected']}, "
        f"KPI mismatches {figures['kpi_mismatches']}; "
        f"max recovery {figures['max_recovery_s']}s; {figures['seconds']}s in all"
    )


def write_json(path: Path, results: Sequence[RoundResult]) -> None:
    document = {
        "tally": tally(results),
        "rounds": [
            {**asdict(r), "passed": r.passed, "max_recovery_s": r.max_recovery} for r in results
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
