"""The machine, the summary table (figure, baseline in the same run, target, met?) and JSON."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clock_cli.components import ROOT

REPORTING_JSON = ROOT / "docs" / "benchmarks" / "reporting.json"


def machine(database: str) -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(_meminfo_kib("MemTotal") / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "database": database,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _meminfo_kib(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def reporting_figures() -> dict[str, Any] | None:
    """The last `clock reporting bench --output docs/benchmarks/reporting.json`, if any."""
    if not REPORTING_JSON.exists():
        return None
    return dict(json.loads(REPORTING_JSON.read_text()))


@dataclass(frozen=True)
class Row:
    what: str
    figure: str
    baseline: str
    target: str
    met: bool | None  # None: no target


def _get(results: dict[str, Any], *keys: str) -> Any:
    value: Any = results
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _ms(figures: dict[str, Any]) -> str:
    return f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms"


def _gateway_rows(a: dict[str, Any]) -> list[Row]:
    direct, proxied = a["throughput_direct"], a["throughput_gateway"]
    paced_direct, paced_proxied = a["latency_direct"], a["latency_gateway"]
    return [
        Row(
            f"gateway throughput, {a['closed_loop_connections']} connections, closed loop",
            f"{proxied['rate']:.0f} req/s (ratio {a['throughput_ratio']:.2f})",
            f"direct: {direct['rate']:.0f} req/s",
            "ratio ≥ 0.5",
            a["throughput_ratio"] >= 0.5,
        ),
        Row(
            f"latency added by the gateway at {a['paced_rate']:.0f} req/s",
            f"p50 +{a['added_p50_ms']:.2f} ms, p99 +{a['added_p99_ms']:.2f} ms",
            f"direct: {_ms(paced_direct)}; gateway: {_ms(paced_proxied)}",
            "≤ 2 ms p50, ≤ 5 ms p99",
            a["added_p50_ms"] <= 2 and a["added_p99_ms"] <= 5,
        ),
        Row(
            "CPU per request (closed loop through the gateway)",
            f"gateway {proxied['gateway_cpu_ms_per_request']} ms, "
            f"catalog {proxied['catalog_cpu_ms_per_request']} ms",
            f"direct: catalog {direct['catalog_cpu_ms_per_request']} ms",
            "—",
            None,
        ),
    ]


def _reads_row(b: dict[str, Any]) -> Row:
    cache = b.get("cache")
    hits = (
        f"; gateway cache hit ratio {cache['hit_ratio']:.2f}"
        if cache and cache.get("hit_ratio") is not None
        else ""
    )
    return Row(
        f"catalogue reads through the gateway at {b['target_rate']:.0f} req/s, {b['urls']} URLs",
        f"{b['rate']:.0f} req/s, {_ms(b)}, {b['errors']} errors{hits}",
        "—",
        "p99 ≤ 50 ms, 0 errors",
        b["p99_ms"] <= 50 and b["errors"] == 0 and b["rate"] >= 0.95 * b["target_rate"],
    )


def _matching_rows(c: dict[str, Any]) -> list[Row]:
    service, gateway, matchable = c["service"], c["gateway"], c["matchable"]
    return [
        Row(
            f"top-10 matches over {c['entries']:,} entries, in the service",
            _ms(service),
            "—",
            "p99 ≤ 50 ms",
            service["p99_ms"] <= 50 and service["errors"] == 0,
        ),
        Row(
            "top-10 matches, through the gateway",
            _ms(gateway),
            f"in the service: p99 {service['p99_ms']:.1f} ms",
            "p99 ≤ 100 ms",
            gateway["p99_ms"] <= 100 and gateway["errors"] == 0,
        ),
        Row(
            "competence published (gateway) to matchable",
            _ms(matchable),
            "—",
            "p99 ≤ 1 s",
            matchable["p99_ms"] <= 1000,
        ),
    ]


def _event_rows(d: dict[str, Any]) -> list[Row]:
    writes = d["writes"]
    cpu = d.get("cpu_ms_per_event") or {}
    cpu_row = Row(
        "CPU per event (write and its three consumers)",
        ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items()),
        f"sum {sum(cpu.values()):.1f} ms: {1000 / sum(cpu.values()):.0f} events/s per core"
        if cpu and sum(cpu.values())
        else "—",
        "—",
        None,
    )
    return [
        cpu_row,
        *[
            Row(
                f"membership commit to {name} commit, writes at {writes['rate']:.0f}/s "
                f"(asked {d['target_rate']:.0f}/s)",
                f"p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms "
                f"({figures['events']}/{d['events']} events)",
                f"write: {_ms(writes)}",
                "p99 ≤ 200 ms",
                0 < d["events"] == figures["events"] and figures["p99_ms"] <= 200,
            )
            for name, figures in d["consumers"].items()
        ],
    ]


def _relay_rows(relay: dict[str, Any]) -> list[Row]:
    return [
        Row(
            f"outbox relay, backlog of {relay['events']:,} events (matching)",
            f"{relay['rate']:.0f} events/s",
            "—",
            "≥ 1,000 events/s",
            relay["rate"] >= 1000 and relay["sent"] == relay["events"],
        )
    ]


def _reporting_rows(r: dict[str, Any]) -> list[Row]:
    rows = []
    report = _get(r, "quarterly_report_seconds", "median")
    if report is not None:
        rows.append(Row("reporting: quarterly report", f"{report} s", "—", "≤ 10 s", report <= 10))
    for name, figures in (_get(r, "queries_ms") or {}).items():
        if isinstance(figures, dict) and "p99" in figures and "baseline" not in name:
            rows.append(
                Row(
                    f"reporting: {name}",
                    f"p50 {figures['p50']} ms, p99 {figures['p99']} ms",
                    "from docs/benchmarks/reporting.json",
                    "p99 ≤ 200 ms",
                    figures["p99"] <= 200,
                )
            )
    return rows


def _memory_rows(m: dict[str, Any]) -> list[Row]:
    return [
        Row(f"resident memory: {name}", f"{m['peak'][name]:.0f} MiB under load",
            f"idle: {m['idle'][name]:.0f} MiB", "—", None)
        for name in m["idle"]
    ]  # fmt: skip


SECTIONS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "gateway": _gateway_rows,
    "reads": lambda b: [_reads_row(b)],
    "matching": _matching_rows,
    "events": _event_rows,
    "relay": _relay_rows,
    "reporting": _reporting_rows,
    "memory": _memory_rows,
}
"""Each section of the results and its rows in the table, in order."""


def rows(results: dict[str, Any]) -> list[Row]:
    return [
        row for name, build in SECTIONS.items() if results.get(name) for row in build(results[name])
    ]


def _met(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "**no**")


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| what | figure | baseline in the same run | target | met? |",
        "|---|---|---|---|---|",
    ]
    for row in rows(results):
        lines.append(
            f"| {row.what} | {row.figure} | {row.baseline} | {row.target} | {_met(row.met)} |"
        )
    return "\n".join(lines)


def text(results: dict[str, Any]) -> str:
    info = results["machine"]
    head = (
        f"machine: {info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB, "
        f"Python {info['python']}, SQLite {info['sqlite']}, database {info['database']}, "
        f"{info['date']}, load average {info['load_average_at_start']}"
    )
    return head + "\n" + markdown(results)


def write(results: dict[str, Any], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
