"""`clock run`: the whole platform on one machine.

Starts a real nats-server (JetStream under `<data dir>/nats`) unless `CLOCK_NATS_URL` is set,
migrates every database, creates a `region` API key on the first start, starts the four
services and the gateway as child processes, and stops them all on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from clock_cli.components import COMPONENTS, GATEWAY, SERVICES, Component
from clock_cli.nats_server import NatsServer, port_is_free
from kernel.settings import CommonSettings

STOP_TIMEOUT = 15.0
START_TIMEOUT = 120.0


class RunSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CLOCK_", extra="ignore", populate_by_name=True)

    nats_url_override: str | None = Field(default=None, validation_alias="CLOCK_NATS_URL")


def die_with_parent() -> None:
    """In the child: receive SIGTERM if the runner dies, so no process is orphaned."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def serve_process(name: str, *, env: Mapping[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    """`clock serve <name>` as a child, its output appended to `log_file`. Its own session:
    a Ctrl-C reaches the runner, which stops the children in order."""
    with log_file.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "clock_cli.main", "serve", name],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )


def stop_in_order(processes: Mapping[str, subprocess.Popen[bytes]], order: Sequence[str]) -> None:
    """SIGTERM to each process of `order` still running, then SIGKILL to any that has not
    exited within STOP_TIMEOUT of them all."""
    for name in order:
        process = processes.get(name)
        if process is not None and process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for name in order:
        process = processes.get(name)
        if process is None:
            continue
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Platform:
    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.log_dir = self.data_dir / "log"
        self.nats: NatsServer | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.env = dict(os.environ)

    def check_ports(self) -> list[str]:
        problems = []
        wanted: list[tuple[str, int]] = []
        if self.settings.nats_url_override is None:
            wanted.append(("CLOCK_NATS_PORT", self.settings.nats_port))
        for component in (*SERVICES, GATEWAY):
            wanted.append((component.port_setting, component.settings().port))
        seen: dict[int, str] = {}
        for setting, port in wanted:
            if port in seen:
                problems.append(f"{setting} and {seen[port]} are both {port}: change one of them")
            elif not port_is_free(port):
                problems.append(f"port {port} is taken: set {setting} to a free port")
            seen[port] = setting
        return problems

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env["CLOCK_DATA_DIR"] = str(self.data_dir)
        self.env["CLOCK_PRINCIPAL_SECRET"] = self.settings.resolved_principal_secret()
        if self.settings.nats_url_override is None:
            self.nats = NatsServer(
                self.data_dir / "nats",
                port=self.settings.nats_port,
                log_file=self.log_dir / "nats.log",
            )
            self.env["CLOCK_NATS_URL"] = self.nats.url
        os.environ.update(self.env)  # the migrations and key creation below read it

    def migrate(self) -> None:
        from kernel.migrations import upgrade

        for component in (*SERVICES, GATEWAY):
            upgrade(component.migrations, component.settings().sqlalchemy_url)

    def first_key(self) -> str | None:
        """On the first start, a region key (printed once)."""
        import asyncio

        from gateway import service
        from kernel.db import create_engine, create_sessionmaker
        from kernel.principal import Role

        async def create() -> str | None:
            engine = create_engine(GATEWAY.settings().sqlalchemy_url)
            try:
                async with create_sessionmaker(engine)() as session:
                    if await service.list_api_keys(session):
                        return None
                    _, secret = await service.create_api_key(
                        session, role=Role.REGION, org_id=None, name="first region key"
                    )
                    await session.commit()
                    return secret
            finally:
                await engine.dispose()

        return asyncio.run(create())

    def start_nats(self) -> None:
        if self.nats is not None:
            self.nats.start()

    def start(self, component: Component) -> None:
        self.children[component.name] = serve_process(
            component.name, env=self.env, log_file=self.log_dir / f"{component.name}.log"
        )

    def wait_until_answering(self, names: list[str], path: str) -> None:
        """Until each process answers 200 on `path` (`/healthz` alive, `/readyz` ready)."""
        deadline = time.monotonic() + START_TIMEOUT
        for name in names:
            process = self.children[name]
            url = f"http://127.0.0.1:{COMPONENTS[name].settings().port}{path}"
            while True:
                if process.poll() is not None:
                    log = self.log_dir / f"{name}.log"
                    raise RuntimeError(f"{name} exited with code {process.returncode}; see {log}")
                try:
                    if httpx.get(url, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not answering {path} after {START_TIMEOUT}s")
                time.sleep(0.1)

    def stop(self) -> None:
        stop_in_order(self.children, ["gateway", *(s.name for s in SERVICES)])
        self.children.clear()
        if self.nats is not None:
            self.nats.stop()

    def watch(self) -> int:
        """Until a signal arrives or a child dies; returns the exit code."""
        while True:
            for name, process in self.children.items():
                if process.poll() is not None:
                    print(
                        f"clock: {name} exited with code {process.returncode}; "
                        f"see {self.log_dir / (name + '.log')}. Stopping.",
                        file=sys.stderr,
                    )
                    return 1
            if self.nats is not None and self.nats.process and self.nats.process.poll() is not None:
                print("clock: nats-server exited; see var/log/nats.log. Stopping.", file=sys.stderr)
                return 1
            time.sleep(0.5)


class _Stop(Exception):
    pass


def until_stopped(name: str, body: Callable[[], int], stop: Callable[[], None]) -> int:
    """`body` (start, then watch) until it returns, Ctrl-C or SIGTERM; then `stop`, with those
    signals ignored meanwhile (a second Ctrl-C must not cut the stopping short)."""

    def on_signal(signum: int, _frame: object) -> None:
        raise _Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        code = body()
    except _Stop:
        print(f"\n{name}: stopping")
    except Exception as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    print(f"{name}: stopped")
    return code


def run() -> int:
    settings = RunSettings()
    platform = Platform(settings)
    problems = platform.check_ports()
    if problems:
        for problem in problems:
            print(f"clock: {problem}", file=sys.stderr)
        return 2

    def start_and_watch() -> int:
        platform.prepare()
        print(f"clock: data in {platform.data_dir}, logs in {platform.log_dir}")
        platform.migrate()
        key = platform.first_key()
        platform.start_nats()
        for service in SERVICES:
            platform.start(service)
        # The gateway opens last, once every service is ready (database and NATS): a client
        # that sees the gateway up finds the platform up.
        platform.wait_until_answering([s.name for s in SERVICES], "/readyz")
        platform.start(GATEWAY)
        platform.wait_until_answering([GATEWAY.name], "/healthz")
        gateway = GATEWAY.settings()
        print(f"clock: NATS at {platform.env['CLOCK_NATS_URL']}")
        if key:
            print("clock: first start: an API key for the region role (shown once, store it):")
            print(f"    {key}")
        print(f"clock: gateway ready at http://{gateway.host}:{gateway.port}  (API docs: /docs)")
        print("clock: Ctrl-C stops everything")
        sys.stdout.flush()
        return platform.watch()

    return until_stopped("clock", start_and_watch, platform.stop)
