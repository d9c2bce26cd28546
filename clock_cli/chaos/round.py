"""One chaos round: start the platform, drive the workload while faults are injected, wait for
every consumer to catch up, check, stop; and a tally of several rounds."""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from clock_cli.chaos import checker, observe, periodic
from clock_cli.chaos.injector import DEFAULT_KINDS, FaultKind, FaultRecord, Injector
from clock_cli.chaos.supervisor import Supervisor
from clock_cli.chaos.workload import CREATIONS, Kind, Operation, Workload

RECOVERY_TARGET = 5.0
"""Seconds within which consumers flow again after NATS came back."""
CLUSTER_RECOVERY_TARGET = 10.0
"""The same when one node of three was killed: the stream and consumer leaders it held are
elected again on the other nodes (JetStream's Raft) and a fetch waiting on the dead leader
times out first."""
EXPECTED_EVENTS: dict[Kind, str] = {
    Kind.APPLICATION: "clock.membership.application.submitted.v1",
    Kind.ADMISSION: "clock.membership.application.decided.v1",
    Kind.PUBLICATION: "clock.catalog.lab.published.v1",
    Kind.FIRM: "clock.matching.firm.registered.v1",
    Kind.DEMAND: "clock.matching.demand.submitted.v1",
    Kind.INTRODUCTION: "clock.matching.introduction.requested.v1",
    Kind.ACCEPTANCE: "clock.matching.introduction.accepted.v1",
    Kind.CLOSURE: "clock.matching.engagement.closed.v1",
}
"""The event an acknowledged operation promises, with its result's id as subject."""


@dataclass
class RoundOptions:
    events: int = 10_000
    faults: tuple[FaultKind, ...] = DEFAULT_KINDS
    cluster: bool = False
    clients: int = 6
    seed: int | None = None
    keep: bool = False
    """Keep the data dir and logs even when the round passes."""
    catch_up_timeout: float = 180.0
    replicas: int = 1
    """Processes per service (and `gateways` gateways): above one, the round also checks
    that no request failed for good and that periodic tasks ran once (clock_cli.chaos.periodic)."""
    gateways: int = 1
    postgres_url: str | None = None
    """A PostgreSQL server to make the round's databases on; None: SQLite files."""
    expiries: int = 3
    """Memberships whose term is ended during a replicated round."""

    @property
    def replicated(self) -> bool:
        return self.replicas > 1


@dataclass
class RoundResult:
    round: int
    seed: int
    data_dir: str
    duration_s: float = 0.0
    workload_s: float = 0.0
    catch_up_s: float = 0.0
    events: dict[str, Any] = field(default_factory=dict)
    operations: dict[str, Any] = field(default_factory=dict)
    kpis: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    recovery_s: list[dict[str, Any]] = field(default_factory=list)
    deaths: dict[str, int] = field(default_factory=dict)
    lag_after_catch_up: dict[str, int] = field(default_factory=dict)
    periodic: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def max_recovery(self) -> float | None:
        values = [r["seconds"] for r in self.recovery_s if r["seconds"] is not None]
        return max(values) if values else None


def run_round(options: RoundOptions, number: int = 1) -> RoundResult:
    seed = options.seed if options.seed is not None else random.randrange(1 << 30)
    root = Path(tempfile.mkdtemp(prefix=f"clock-chaos-{number}-"))
    result = RoundResult(number, seed, str(root))
    supervisor = Supervisor(
        root,
        cluster=options.cluster,
        replicas=options.replicas,
        gateways=options.gateways,
        postgres_url=options.postgres_url,
        auto_issue=periodic.AUTO_ISSUE if options.replicated else "",
    )
    started = time.monotonic()
    try:
        supervisor.prepare()
        if options.replicated:
            supervisor.env["CLOCK_MEMBERSHIP_EXPIRY_INTERVAL"] = "1"
        keys = supervisor.migrate_and_create_keys()
        supervisor.start_all()
        round_id = uuid.uuid4().hex[:8]
        workload = Workload(
            supervisor.gateway_urls, keys, round_id, clients=options.clients, seed=seed
        )
        injector = Injector(supervisor, options.faults, seed=seed)
        databases = supervisor.databases()
        t0 = time.monotonic()
        asyncio.run(_drive(workload, injector, databases, options.events))
        result.workload_s = time.monotonic() - t0
        expiries = None
        if options.replicated:
            today = date.today()
            ended = periodic.end_terms(databases, count=options.expiries, today=today)
            expiries = periodic.wait_expired(databases, ended, timeout=60)
            result.periodic["expired_s"] = expiries.seconds
        t0 = time.monotonic()
        lag = observe.wait_until_caught_up(databases, timeout=options.catch_up_timeout)
        result.catch_up_s = time.monotonic() - t0
        result.lag_after_catch_up = {k: v for k, v in lag.items() if v}
        if result.lag_after_catch_up:
            result.problems.append(
                f"consumers did not catch up within {options.catch_up_timeout}s: "
                f"{result.lag_after_catch_up}"
            )
        _check(result, supervisor, databases, workload, injector, round_id, keys.region)
        if expiries is not None:
            _check_replicated(result, databases, expiries)
    except Exception as exc:
        result.problems.append(f"round aborted: {exc!r}")
    finally:
        supervisor.stop_all()
        result.duration_s = time.monotonic() - started
    if result.passed and not options.keep:
        supervisor.drop_databases()
        shutil.rmtree(root, ignore_errors=True)
    return result


def _check_replicated(
    result: RoundResult, databases: observe.Databases, expiries: periodic.Expiries
) -> None:
    """What replicas add: no request failed for good (a client retried and succeeded), and
    the periodic tasks ran once."""
    operations = result.operations
    if operations["failed"] or operations["reads_failed"]:
        result.problems.append(
            f"requests failed after every retry: {operations['failed']} writes, "
            f"{operations['reads_failed']} reads"
        )
    reports = periodic.check_reports(databases, today=date.today())
    expired = periodic.check_expiries(databases, expiries)
    result.periodic.update(
        {
            "report_period": periodic.previous_month(date.today()),
            "report_problems": reports,
            "expired": len(expiries.organisations),
            "expiry_problems": expired,
        }
    )
    result.problems.extend(reports + expired)


async def _drive(
    workload: Workload, injector: Injector, databases: observe.Databases, target: int
) -> None:
    """The workload until it produced `target` events and the injector went through every
    phase; the injector paced by the events produced."""
    produced = 0

    async def count_events() -> None:
        nonlocal produced
        while True:
            produced = await asyncio.to_thread(databases.events_produced)
            await asyncio.sleep(0.5)

    counter = asyncio.create_task(count_events())
    faults = asyncio.create_task(injector.run(lambda: produced / target))
    try:
        await workload.run(lambda: produced < target or not injector.done)
        await faults
    finally:
        counter.cancel()
        faults.cancel()


def _check(
    result: RoundResult,
    supervisor: Supervisor,
    databases: observe.Databases,
    workload: Workload,
    injector: Injector,
    round_id: str,
    region_key: str,
) -> None:
    streams = observe.read_streams_sync(supervisor.env["CLOCK_NATS_URL"])
    observed = databases.observe_events(streams)
    events = checker.check_events(observed)
    result.events = _event_summary(events)
    if not events.ok:
        result.problems.append(f"events: {_findings(result.events)}")

    outbox_events = [
        (row.event_type, row.subject) for rows in observed.outbox.values() for row in rows
    ]
    records = [_record(op) for op in workload.history.operations]
    operations = checker.check_operations(records, databases.effects(round_id), outbox_events)
    result.operations = {
        **workload.history.counts(),
        "lost": asdict(operations.lost),
        "duplicated": asdict(operations.duplicated),
        "duplicated_after_unknown": operations.duplicated_after_unknown,
        "unexpected": asdict(operations.unexpected),
    }
    if not operations.ok:
        result.problems.append(f"operations: {_findings(result.operations)}")
    if result.operations["server_errors"]:
        result.problems.append(f"{result.operations['server_errors']} answers 500")

    truth = databases.truth()
    reported = observe.read_kpis(supervisor.gateway_url, region_key, sorted(truth))
    mismatches = checker.check_kpis(reported, truth)
    result.kpis = {
        "truth": truth,
        "reported": reported,
        "mismatches": [asdict(m) for m in mismatches],
    }
    if mismatches:
        result.problems.append(f"KPIs differ from the sources of truth: {mismatches}")

    result.faults = [_fault(r) for r in injector.records]
    for record in injector.records:
        if record.back_at is None:
            continue
        for consumer, seconds in checker.recovery_seconds(
            record.back_at, observed.outbox, observed.inbox
        ).items():
            result.recovery_s.append(
                {
                    "fault": record.target,
                    "mixed": record.mixed,
                    "consumer": consumer,
                    "seconds": None if seconds is None else round(seconds, 3),
                }
            )
    target = CLUSTER_RECOVERY_TARGET if supervisor.cluster else RECOVERY_TARGET
    slow = [
        r
        for r in result.recovery_s
        if not r["mixed"] and (r["seconds"] is None or r["seconds"] > target)
    ]
    if slow:
        result.problems.append(f"consumers slower than {target}s after NATS: {slow}")
    deaths: dict[str, int] = {}
    for death in supervisor.deaths:
        how = "killed" if death.returncode == -9 else f"exit {death.returncode}"
        deaths[f"{death.name} {how}"] = deaths.get(f"{death.name} {how}", 0) + 1
    result.deaths = deaths
    crashes = {k: v for k, v in deaths.items() if not k.endswith("killed")}
    if crashes:
        result.problems.append(f"processes crashed (not by a fault): {crashes}")


def _record(op: Operation) -> checker.OperationRecord:
    expected = EXPECTED_EVENTS.get(op.kind)
    return checker.OperationRecord(
        marker=op.marker,
        kind=op.kind.value,
        acknowledged=op.acknowledged,
        creates=op.kind in CREATIONS,
        expected_event=(expected, op.result_id) if expected and op.result_id else None,
        unknown_attempts=op.unknown_attempts,
    )


def _event_summary(verdict: checker.EventVerdict) -> dict[str, Any]:
    return {
        "attempted": verdict.attempted,
        "acknowledged": verdict.acknowledged,
        "in_stream": verdict.in_stream,
        "read": verdict.read,
        "lost": asdict(verdict.lost),
        "duplicated": asdict(verdict.duplicated),
        "unexpected": asdict(verdict.unexpected),
        "dead_lettered": asdict(verdict.dead_lettered),
        "unsent": asdict(verdict.unsent),
    }


def _findings(summary: dict[str, Any]) -> str:
    parts = []
    for name in ("lost", "duplicated", "unexpected", "dead_lettered"):
        finding = summary.get(name)
        if finding and finding["count"]:
            parts.append(f"{finding['count']} {name} (e.g. {finding['sample'][:3]})")
    return "; ".join(parts)


def _fault(record: FaultRecord) -> dict[str, Any]:
    return {
        "kind": record.kind.value,
        "target": record.target,
        "mixed": record.mixed,
        "seconds": round((record.ended or record.started) - record.started, 2),
        "deaths": record.deaths,
    }
