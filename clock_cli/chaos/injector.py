"""Faults injected while the workload flows, one kind at a time and then mixed.

- `nats`: SIGKILL of the nats-server (or of one node of the cluster), restarted 1-2 s later;
- `service`: a publishing service restarted with `CLOCK_FAULTS` so that it kills itself
  between its commit and its publish, or between JetStream's ack and marking the row sent;
- `consumer`: a consuming service restarted so that it kills itself after its inbox commit
  and before its ack;
- `pause`: SIGSTOP of a service for longer than the consumers' ack wait, then SIGCONT;
- `kill`: a plain SIGKILL of a service at a random moment;
- `replica`: with replicas, SIGKILL of the replica of each service that holds its leases
  (outbox relay, consumers, periodic tasks), one service after another, so the other replica
  must take over; they are restarted at the end of the phase;
- `mixed`: several of the above at random moments, overlapping.

With replicas, a fault aimed at a service hits one of its replicas, chosen at random.

A service that dies is noticed and restarted (waiting for /readyz); it keeps its fault points
for a bounded number of deaths per phase, then starts clean.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from clock_cli.chaos.supervisor import (
    ACK_WAIT,
    LEASE_TTL,
    SERVICE_NAMES,
    ProcessDied,
    Supervisor,
)

log = logging.getLogger(__name__)

PUBLISHERS = ("membership", "catalog", "matching")
CONSUMERS = ("catalog", "matching", "reporting")
SERVICE_FAULT_PROBABILITY = 0.05
CONSUMER_FAULT_PROBABILITY = 0.02
DEATHS_PER_PHASE = 2
"""Deaths by fault points a service may have in one phase; it then starts clean."""
ARMED_SECONDS = 10.0
"""Longest a service keeps its fault points in one phase, if it has not died enough."""
PAUSE_SECONDS = ACK_WAIT + 2.0
RECOVERY_WINDOW = 8.0
"""Seconds after NATS is back, outside the mixed phase, before the next phase starts."""


class FaultKind(StrEnum):
    NATS = "nats"
    SERVICE = "service"
    CONSUMER = "consumer"
    PAUSE = "pause"
    KILL = "kill"
    REPLICA = "replica"
    MIXED = "mixed"


SINGLE_KINDS = (
    FaultKind.NATS,
    FaultKind.SERVICE,
    FaultKind.CONSUMER,
    FaultKind.PAUSE,
    FaultKind.KILL,
)
DEFAULT_KINDS = (*SINGLE_KINDS, FaultKind.MIXED)


async def until(
    condition: Callable[[], bool], *, timeout: float | None = None, interval: float = 0.1
) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds passed (False)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if condition():
            return True
        if deadline is not None and time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)


@dataclass
class FaultRecord:
    kind: FaultKind
    target: str
    started: float
    ended: float | None = None
    back_at: float | None = None
    """NATS faults: when the restarted node listened again."""
    mixed: bool = False
    deaths: int = 0
    """Deaths at fault points during the phase (service and consumer faults)."""


@dataclass
class Injector:
    supervisor: Supervisor
    kinds: tuple[FaultKind, ...] = DEFAULT_KINDS
    seed: int = 0
    records: list[FaultRecord] = field(default_factory=list)
    restarts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.done = False
        self._armed: dict[str, str] = {}
        """CLOCK_FAULTS a service gets at its next start, while armed."""
        self._deaths_left: dict[str, int] = {}
        self._restarting: Counter[str] = Counter()
        self._phase_deaths: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    # -- the schedule -------------------------------------------------------------------------

    async def run(self, progress: Callable[[], float]) -> None:
        """Phase i starts once the workload is (i + 1) / (phases + 1) of the way through."""
        monitor = asyncio.create_task(self._monitor())
        try:
            phases = len(self.kinds)
            for index, kind in enumerate(self.kinds):
                start_at = (index + 1) / (phases + 1)
                await until(lambda: progress() >= start_at)  # noqa: B023 (awaited here)
                log.info("chaos: phase %s", kind.value)
                if kind is FaultKind.MIXED:
                    await self._mixed()
                else:
                    await self._inject(kind, mixed=False)
            await self._settle()
        finally:
            self.done = True
            monitor.cancel()

    async def _mixed(self) -> None:
        faults = [self.rng.choice(SINGLE_KINDS) for _ in range(4)]
        tasks = []
        for kind in faults:
            tasks.append(asyncio.create_task(self._inject(kind, mixed=True)))
            await asyncio.sleep(self.rng.uniform(0.5, 3.0))
        await asyncio.gather(*tasks)

    async def _inject(self, kind: FaultKind, *, mixed: bool) -> None:
        if kind is FaultKind.NATS:
            await self._nats(mixed)
        elif kind is FaultKind.SERVICE:
            target = self._instance(self.rng.choice(PUBLISHERS))
            points = f"commit_before_publish={SERVICE_FAULT_PROBABILITY}," + (
                f"publish_before_mark={SERVICE_FAULT_PROBABILITY}"
            )
            await self._armed_phase(kind, target, points, mixed)
        elif kind is FaultKind.CONSUMER:
            target = self._instance(self.rng.choice(CONSUMERS))
            points = f"commit_before_ack={CONSUMER_FAULT_PROBABILITY}"
            await self._armed_phase(kind, target, points, mixed)
        elif kind is FaultKind.PAUSE:
            await self._pause(mixed)
        elif kind is FaultKind.KILL:
            await self._kill(mixed)
        elif kind is FaultKind.REPLICA:
            await self._replicas(mixed)

    async def _nats(self, mixed: bool) -> None:
        node = self.rng.randrange(len(self.supervisor.nats_nodes))
        record = self._record(FaultKind.NATS, f"nats node {node}", mixed)
        await asyncio.to_thread(self.supervisor.kill_nats, node)
        await asyncio.sleep(self.rng.uniform(1.0, 2.0))
        await asyncio.to_thread(self.supervisor.start_nats_node, node)
        record.back_at = time.time()
        record.ended = record.back_at
        if not mixed:
            # The time consumers take to flow again is measured alone: the next phase (which
            # may kill the very consumer measured) waits past the 5 s target.
            await asyncio.sleep(RECOVERY_WINDOW)

    async def _armed_phase(self, kind: FaultKind, target: str, points: str, mixed: bool) -> None:
        """Restart `target` with fault points until it died DEATHS_PER_PHASE times (each death
        restarted by the monitor) or ARMED_SECONDS passed; then it runs clean again."""
        # Another phase of the mixed one may hold it.
        await until(lambda: target not in self._armed and target not in self._restarting)
        record = self._record(kind, f"{target} {points}", mixed)
        self._armed[target] = points
        self._deaths_left[target] = DEATHS_PER_PHASE
        self._phase_deaths[target] = 0
        await self._restart(target, kill=True)
        await until(lambda: self._deaths_left[target] <= 0, timeout=ARMED_SECONDS)
        record.deaths = self._phase_deaths[target]
        del self._armed[target]
        await until(lambda: target not in self._restarting)
        await self._restart(target, kill=True)  # clean from now on
        record.ended = time.time()

    def _instance(self, component: str) -> str:
        return self.rng.choice(self.supervisor.instances(component))

    async def _pause(self, mixed: bool) -> None:
        target = self.rng.choice(self.supervisor.service_instances)
        await until(lambda: target not in self._restarting and self.supervisor.is_running(target))
        record = self._record(FaultKind.PAUSE, target, mixed)
        self.supervisor.pause(target)
        await asyncio.sleep(PAUSE_SECONDS)
        if target in self.supervisor.paused:
            self.supervisor.resume(target)
        record.ended = time.time()

    async def _kill(self, mixed: bool) -> None:
        target = self.rng.choice(self.supervisor.service_instances)
        await until(lambda: target not in self._restarting)
        record = self._record(FaultKind.KILL, target, mixed)
        await self._restart(target, kill=True)
        record.ended = time.time()

    async def _replicas(self, mixed: bool) -> None:
        """Kill the lease holder of each service in turn; the survivors carry on alone for
        longer than a lease, then the killed ones start again."""
        killed = []
        for component in SERVICE_NAMES:
            holder = await asyncio.to_thread(self.supervisor.holder, component)
            target = holder or self._instance(component)
            await until(lambda: target not in self._restarting)  # noqa: B023 (awaited here)
            record = self._record(FaultKind.REPLICA, target, mixed)
            await asyncio.to_thread(self.supervisor.kill, target)
            killed.append(target)
            await asyncio.sleep(LEASE_TTL * 1.5)
            record.ended = time.time()
        for target in killed:
            await self._restart(target, kill=False)

    async def _settle(self) -> None:
        """After the last phase: every service up, without fault points."""
        await until(lambda: not self._restarting and not self._armed)
        for name in self.supervisor.service_instances:
            if name in self.supervisor.paused:
                self.supervisor.resume(name)
            if not self.supervisor.is_running(name):
                await self._restart(name, kill=False)

    def _record(self, kind: FaultKind, target: str, mixed: bool) -> FaultRecord:
        record = FaultRecord(kind, target, time.time(), mixed=mixed)
        self.records.append(record)
        return record

    # -- restarts -----------------------------------------------------------------------------

    async def _monitor(self) -> None:
        """Restart every service that died (by its fault points, or a crash)."""
        while True:
            for death in self.supervisor.reap():
                if death.name in self._restarting:
                    continue
                self._count_death(death.name)
                # Counted now, not when the task first runs: a phase must not restart it too.
                self._restarting[death.name] += 1
                task = asyncio.create_task(self._restart(death.name, kill=False, counted=True))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(0.1)

    def _count_death(self, name: str) -> None:
        if name in self._armed:
            self._phase_deaths[name] += 1
            self._deaths_left[name] -= 1

    async def _restart(self, name: str, *, kill: bool, counted: bool = False) -> None:
        """SIGKILL (if asked) and start again, with the fault points it is armed with while it
        has deaths left; until /readyz answers. `counted`: the caller already counted it in
        `_restarting` (restarts under way, by process)."""
        if not counted:
            self._restarting[name] += 1
        lock = self._locks.setdefault(name, asyncio.Lock())
        try:
            async with lock:  # one restart of a process at a time
                await self._start_until_ready(name, kill=kill)
        finally:
            self._restarting[name] -= 1
            if self._restarting[name] <= 0:
                del self._restarting[name]

    async def _start_until_ready(self, name: str, *, kill: bool) -> None:
        if kill:
            await asyncio.to_thread(self.supervisor.kill, name)
        while True:
            armed = name in self._armed and self._deaths_left.get(name, 0) > 0
            faults = self._armed[name] if armed else ""
            # On this thread, never a worker's: the child's PR_SET_PDEATHSIG fires when the
            # thread that started it ends (the executor's threads end with the event loop).
            self.supervisor.start(name, faults=faults)
            self.restarts[name] += 1
            try:
                await asyncio.to_thread(self.supervisor.wait_ready, name)
                return
            except ProcessDied:  # a fault point hit while it was starting
                self.supervisor.kill(name)
                self._count_death(name)
                await asyncio.sleep(0.2)
