"""The platform under test: its own nats-server (or a three-node cluster), the four services and
the gateway as child processes in a temporary data dir on free ports, each one restartable.

It is `clock run` with handles a fault injector needs: SIGKILL, SIGSTOP/SIGCONT and restart of
any single process (with `CLOCK_FAULTS` for its next life), and a record of every death.

With `replicas` (and `gateways`) above one, each service runs as that many processes
(`catalog-1`, `catalog-2`, ...), every gateway knowing all of them; with `postgres_url` the
databases are PostgreSQL databases created on that server (`<database_prefix>_<component>`)
instead of SQLite files: the topology of `clock cluster`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from clock_cli import postgres
from clock_cli.chaos.observe import Databases
from clock_cli.components import COMPONENTS, GATEWAY, SERVICES
from clock_cli.nats_server import NatsServer, free_port
from clock_cli.run import serve_process, stop_in_order

READY_TIMEOUT = 120.0
ACK_WAIT = 3.0
"""Seconds JetStream waits for a consumer's ack (CLOCK_CONSUMER_ACK_WAIT): short, so that a
paused consumer's messages are redelivered within the round."""
LEASE_TTL = 3.0

SERVICE_NAMES = tuple(s.name for s in SERVICES)
FOUNDING_CENTRES = ("asev", "cosvig", "cptm", "lucense", "navigo", "tls")
SIGNATORIES = uuid.uuid5(uuid.NAMESPACE_DNS, "membership.clock.toscana.it")
"""The namespace of the signatories' fixed ids (services/membership/seed.py)."""


def centre_id(key: str) -> str:
    """The fixed organisation id of a founding centre."""
    return str(uuid.uuid5(SIGNATORIES, f"signatory:{key}"))


@dataclass(frozen=True)
class Death:
    """A child that exited without being asked to (a fault point, or a crash)."""

    name: str
    at: float
    returncode: int | None


@dataclass
class Keys:
    region: str
    centres: dict[str, str]
    """Centre API keys by the centre's organisation id."""


def instance_names(component: str, count: int) -> list[str]:
    """`catalog` alone; `catalog-1`, `catalog-2`, ... for replicas."""
    return [component] if count == 1 else [f"{component}-{n}" for n in range(1, count + 1)]


def component_of(name: str) -> str:
    """The component a process name runs (`catalog-2` -> `catalog`)."""
    return name if name in COMPONENTS else name.rsplit("-", 1)[0]


@dataclass
class Supervisor:
    root: Path
    cluster: bool = False
    replicas: int = 1
    """Processes per service."""
    gateways: int = 1
    postgres_url: str | None = None
    """A PostgreSQL server (any database on it) where a database per component is created;
    None: SQLite files in `root`."""
    database_prefix: str = ""
    """Names of the PostgreSQL databases: `<prefix>_<component>` (default: from `root`)."""
    auto_issue: str = ""
    """CLOCK_REPORTING_AUTO_ISSUE: granularities whose reports are issued at period close."""
    cluster_name: str = "clock-chaos"
    under_test: bool = True
    """Settings for a workload and faults: short ack wait, no rate limits, `auto_issue`. False
    (`clock cluster`): the settings' defaults, but for a short lease."""
    env: dict[str, str] = field(default_factory=dict)
    process_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per process, over `env`: its port."""
    database_urls: dict[str, str] = field(default_factory=dict)
    """By component: the URL of its database."""
    ports: dict[str, int] = field(default_factory=dict)
    nats_nodes: list[NatsServer] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    deaths: list[Death] = field(default_factory=list)
    paused: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.log_dir = self.root / "log"
        self._lock = threading.Lock()
        self._observer: Databases | None = None
        self._expected_exit: set[str] = set()

    # -- setting up ---------------------------------------------------------------------------

    @property
    def service_instances(self) -> list[str]:
        return [n for s in SERVICE_NAMES for n in instance_names(s, self.replicas)]

    @property
    def gateway_instances(self) -> list[str]:
        return instance_names(GATEWAY.name, self.gateways)

    def instances(self, component: str) -> list[str]:
        count = self.gateways if component == GATEWAY.name else self.replicas
        return instance_names(component, count)

    def prepare(self) -> None:
        """Ports, NATS nodes, databases and the environment every child gets (no CLOCK_* of
        the caller's)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCK_")}
        env["CLOCK_DATA_DIR"] = str(self.root)
        for component in (*SERVICE_NAMES, GATEWAY.name):
            urls = []
            for name in self.instances(component):
                self.ports[name] = free_port()
                self.process_env[name] = {f"CLOCK_{component.upper()}_PORT": str(self.ports[name])}
                urls.append(f"http://127.0.0.1:{self.ports[name]}")
            if component != GATEWAY.name:
                env[f"CLOCK_{component.upper()}_URL"] = ",".join(urls)
        self.database_urls = self._databases()
        for component, url in self.database_urls.items():
            env[f"CLOCK_{component.upper()}_DATABASE_URL"] = url
        self.nats_nodes = self._nats_nodes(3 if self.cluster else 1)
        env["CLOCK_NATS_URL"] = ",".join(node.url for node in self.nats_nodes)
        env["CLOCK_NATS_PORT"] = str(self.nats_nodes[0].port)
        env["CLOCK_STREAM_REPLICAS"] = "3" if self.cluster else "1"
        env["CLOCK_LEASE_TTL"] = str(LEASE_TTL)
        env["CLOCK_LOG_LEVEL"] = "INFO"
        if self.under_test:
            env["CLOCK_CONSUMER_ACK_WAIT"] = str(ACK_WAIT)
            # The workload calls far faster than any client may, all from 127.0.0.1.
            for role in ("REGION", "CENTRE", "PARTNER", "FIRM", "ANONYMOUS"):
                env[f"CLOCK_GATEWAY_RATE_LIMIT_{role}"] = "1000000/minute"
            env["CLOCK_GATEWAY_AUTH_FAILURE_LIMIT"] = "1000000/minute"
            env["CLOCK_REPORTING_AUTO_ISSUE"] = self.auto_issue
        self.env = env

    def _databases(self) -> dict[str, str]:
        components = (*SERVICE_NAMES, GATEWAY.name)
        if self.postgres_url is None:
            return {c: f"sqlite:///{self.root / f'{c}.db'}" for c in components}
        prefix = self.database_prefix or re.sub(r"[^a-z0-9_]", "_", self.root.name.lower())
        if not prefix.startswith("clock"):
            prefix = f"clock_{prefix}"
        names = {c: f"{prefix}_{c}" for c in components}
        postgres.create_databases(self.postgres_url, list(names.values()))
        return {c: postgres.with_database(self.postgres_url, n) for c, n in names.items()}

    def drop_databases(self) -> None:
        """The PostgreSQL databases of the run, once every process has stopped."""
        if self.postgres_url is not None and self.database_urls:
            names = [postgres.database_of(url) for url in self.database_urls.values()]
            postgres.drop_databases(self.postgres_url, names)

    def databases(self) -> Databases:
        """The run's databases, read directly (one observer for the run)."""
        if self._observer is None:
            self._observer = Databases(self.database_urls)
        return self._observer

    def _nats_nodes(self, count: int) -> list[NatsServer]:
        if count == 1:
            return [NatsServer(self.root / "nats", log_file=self.log_dir / "nats.log")]
        routes = [free_port() for _ in range(count)]
        nodes = []
        for index, route in enumerate(routes):
            others = ",".join(f"nats://127.0.0.1:{p}" for p in routes if p != route)
            args = [
                "--server_name",
                f"{self.cluster_name}-n{index}",
                "--cluster_name",
                self.cluster_name,
                "--cluster",
                f"nats://127.0.0.1:{route}",
                "--routes",
                others,
            ]
            nodes.append(
                NatsServer(
                    self.root / f"nats-n{index}",
                    log_file=self.log_dir / f"nats-n{index}.log",
                    extra_args=args,
                )
            )
        return nodes

    def migrate_and_create_keys(self) -> Keys:
        """Migrations of every database and the API keys of the workload, in a child process
        (they read `CLOCK_*` settings from the environment: ours stays untouched)."""
        result = subprocess.run(
            [sys.executable, "-m", "clock_cli.chaos.setup"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"migrations or API keys failed:\n{result.stderr[-4000:]}")
        keys = json.loads(result.stdout.strip().splitlines()[-1])
        return Keys(region=keys["region"], centres=keys["centres"])

    # -- NATS ---------------------------------------------------------------------------------

    def start_nats(self) -> None:
        for node in self.nats_nodes:
            node.start()

    def kill_nats(self, index: int = 0) -> None:
        self.nats_nodes[index].kill()

    def start_nats_node(self, index: int = 0) -> None:
        self.nats_nodes[index].start()

    # -- services and gateway -----------------------------------------------------------------

    @property
    def gateway_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.ports[name]}" for name in self.gateway_instances]

    @property
    def gateway_url(self) -> str:
        return self.gateway_urls[0]

    def start(self, name: str, *, faults: str = "") -> None:
        """Start `name`; one still running under that name is killed first (never two on one
        port, never an orphan)."""
        if self.is_running(name):
            self.kill(name)
        env = {**self.env, **self.process_env[name]}
        if faults:
            env["CLOCK_FAULTS"] = faults
        with self._lock:
            self.processes[name] = serve_process(
                component_of(name), env=env, log_file=self.log_dir / f"{name}.log"
            )
            self._expected_exit.discard(name)

    def wait_ready(self, name: str, *, timeout: float = READY_TIMEOUT) -> None:
        """Until the process answers 200 on /readyz (/healthz for the gateway)."""
        path = "/healthz" if component_of(name) == GATEWAY.name else "/readyz"
        url = f"http://127.0.0.1:{self.ports[name]}{path}"
        deadline = time.monotonic() + timeout
        while True:
            process = self.processes[name]
            if process.poll() is not None:
                raise ProcessDied(name, process.returncode)
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready after {timeout}s; see {self.log_dir}")
            time.sleep(0.1)

    def start_all(self) -> None:
        self.start_nats()
        for name in self.service_instances:
            self.start(name)
        for name in self.service_instances:
            self.wait_ready(name)
        for name in self.gateway_instances:
            self.start(name)
        for name in self.gateway_instances:
            self.wait_ready(name)

    def pid_of(self, name: str) -> int | None:
        process = self.processes.get(name)
        return process.pid if process is not None and process.poll() is None else None

    def holder(self, component: str) -> str | None:
        """The instance of `component` holding most of its leases (relay, consumers)."""
        pids = {self.pid_of(n): n for n in self.instances(component)}
        held: Counter[str] = Counter()
        for holder in self.databases().lease_holders(component).values():
            parts = holder.split(":")
            if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) in pids:
                held[pids[int(parts[1])]] += 1
        return held.most_common(1)[0][0] if held else None

    def kill(self, name: str) -> None:
        """SIGKILL, as the OOM killer or a power cut would; the supervisor expects this death."""
        with self._lock:
            process = self.processes.get(name)
            self._expected_exit.add(name)
            self.paused.discard(name)
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    def pause(self, name: str) -> None:
        os.kill(self.processes[name].pid, signal.SIGSTOP)
        self.paused.add(name)

    def resume(self, name: str) -> None:
        self.paused.discard(name)
        os.kill(self.processes[name].pid, signal.SIGCONT)

    def reap(self) -> list[Death]:
        """Children that died without being asked to since the last call, recorded."""
        found = []
        with self._lock:
            for name, process in self.processes.items():
                if name in self._expected_exit or process.poll() is None:
                    continue
                death = Death(name, time.time(), process.returncode)
                self._expected_exit.add(name)
                self.deaths.append(death)
                found.append(death)
        return found

    def is_running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def stop_all(self) -> None:
        for name in list(self.paused):
            self.resume(name)
        order = [*self.gateway_instances, *self.service_instances]
        with self._lock:
            self._expected_exit.update(order)
        stop_in_order(self.processes, order)
        for node in self.nats_nodes:
            node.stop()


class ProcessDied(RuntimeError):
    def __init__(self, name: str, returncode: int | None) -> None:
        super().__init__(f"{name} exited with code {returncode} while starting")
        self.name = name
        self.returncode = returncode
