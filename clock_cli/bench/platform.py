"""The platform under benchmark: `clock run` in a subprocess, with data of its own.

Its own temporary `CLOCK_DATA_DIR`, free ports, its own nats-server (started by `clock run`),
SQLite by default or fresh PostgreSQL databases when `CLOCK_BENCH_POSTGRES_URL` is set, and the
matching database prefilled with synthetic catalogue entries before the start. Everything it
starts is stopped, and its temporary folder removed, on the way out (errors and Ctrl-C too).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from clock_cli.components import ROOT
from clock_cli.nats_server import free_port
from kernel.principal import PRINCIPAL_HEADER, Principal, Role, sign
from kernel.settings import normalise_database_url

SERVICES = ("membership", "catalog", "matching", "reporting")
DATABASES = (*SERVICES, "gateway")
START_TIMEOUT = 600.0  # the matching index of 100,000 entries loads at start
STOP_TIMEOUT = 60.0
RATE_LIMIT = "1000000/minute"


class BenchPlatform:
    """Context manager: prefill, start, expose URLs and process ids, stop and clean up."""

    def __init__(self, *, entries: int, postgres_url: str | None = None) -> None:
        self.entries = entries
        self.postgres_url = postgres_url
        self.folder = Path(tempfile.mkdtemp(prefix="clock-bench-"))
        self.data_dir = self.folder / "data"
        self.ports = {name: free_port() for name in ("GATEWAY", "NATS", *map(str.upper, SERVICES))}
        self.secret = secrets.token_urlsafe(32)
        self.database_urls = self._database_urls()
        self.env = self._env()
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.pids: dict[str, int] = {}
        self.region_key = ""

    # -- configuration ---------------------------------------------------------------------

    def _database_urls(self) -> dict[str, str]:
        if self.postgres_url is None:
            return {n: f"sqlite+aiosqlite:///{self.data_dir / f'{n}.db'}" for n in DATABASES}
        base = make_url(normalise_database_url(self.postgres_url))
        return {
            n: base.set(database=f"clock_bench_{n}").render_as_string(hide_password=False)
            for n in DATABASES
        }

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCK_")}
        env["CLOCK_DATA_DIR"] = str(self.data_dir)
        env["CLOCK_PRINCIPAL_SECRET"] = self.secret
        env["CLOCK_LOG_LEVEL"] = "WARNING"  # the logs are not what is measured
        for name, port in self.ports.items():
            env[f"CLOCK_{name}_PORT"] = str(port)
            if name not in ("GATEWAY", "NATS"):
                env[f"CLOCK_{name}_URL"] = f"http://127.0.0.1:{port}"
        # The bench measures capacity, not the limiter: every request comes from 127.0.0.1.
        for role in ("REGION", "CENTRE", "PARTNER", "FIRM", "ANONYMOUS"):
            env[f"CLOCK_GATEWAY_RATE_LIMIT_{role}"] = RATE_LIMIT
        env["CLOCK_GATEWAY_AUTH_FAILURE_LIMIT"] = RATE_LIMIT
        if self.postgres_url is not None:
            for name, url in self.database_urls.items():
                env[f"CLOCK_{name.upper()}_DATABASE_URL"] = url
        return env

    def url(self, component: str) -> str:
        return f"http://127.0.0.1:{self.ports[component.upper()]}"

    def principal(self, role: Role = Role.ANONYMOUS, org_id: str | None = None) -> str:
        """A signed principal header value, valid for about 110 s from now."""
        return sign(Principal(role=role, org_id=org_id), self.secret, now=time.time() + 50)

    def principal_header(self, role: Role = Role.ANONYMOUS, org_id: str | None = None) -> str:
        return f"{PRINCIPAL_HEADER}: {self.principal(role, org_id)}"

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> BenchPlatform:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        self.data_dir.mkdir(parents=True)
        if self.postgres_url is not None:
            asyncio.run(_postgres_databases(self.postgres_url, create=True))
        self.prefill()
        self._spawn()
        self.pids = child_pids(self._process().pid)

    def prefill(self) -> None:
        from kernel.migrations import upgrade
        from services.matching.app import MIGRATIONS
        from services.matching.bench import fill

        started = time.perf_counter()
        upgrade(MIGRATIONS, self.database_urls["matching"])
        asyncio.run(fill(self.database_urls["matching"], self.entries))
        took = time.perf_counter() - started
        print(
            f"bench: matching prefilled with {self.entries:,} entries in {took:.0f} s", flush=True
        )

    def _process(self) -> subprocess.Popen[str]:
        assert self.process is not None
        return self.process

    def _spawn(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clock_cli.main", "run"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own session: a Ctrl-C reaches the harness only, which stops it in order.
            start_new_session=True,
        )
        ready = threading.Event()
        threading.Thread(target=self._read_output, args=(ready,), daemon=True).start()
        if not ready.wait(START_TIMEOUT) or self.process.poll() is not None:
            raise RuntimeError("clock run did not get ready:\n" + "".join(self.output[-40:]))
        key = re.search(r"^\s+(clk_\S+)$", "".join(self.output), re.MULTILINE)
        if key is None:
            raise RuntimeError("clock run printed no region API key")
        self.region_key = key.group(1)

    def _read_output(self, ready: threading.Event) -> None:
        stream = self._process().stdout
        assert stream is not None
        for line in stream:  # read to the end, so that the pipe never fills up
            self.output.append(line)
            if "gateway ready at" in line:
                ready.set()
        ready.set()  # it exited: the waiter checks poll()

    def close(self) -> None:
        try:
            self._stop()
        finally:
            try:
                if self.postgres_url is not None:
                    asyncio.run(_postgres_databases(self.postgres_url, create=False))
            finally:
                shutil.rmtree(self.folder, ignore_errors=True)

    def _stop(self) -> None:
        """SIGINT to `clock run` (it stops its children in order); SIGKILL what is left."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in self.pids.values():  # nats-server does not die with its parent
            _kill(pid)
        self.process = None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def child_pids(parent: int) -> dict[str, int]:
    """Gateway, services and nats-server among the children of `clock run`, by name."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) != parent:
            continue
        if b"serve" in command:
            found[command[command.index(b"serve") + 1].decode()] = int(entry.name)
        elif command and command[0].endswith(b"nats-server"):
            found["nats-server"] = int(entry.name)
    missing = {"gateway", *SERVICES, "nats-server"} - found.keys()
    if missing:
        raise RuntimeError(f"processes not found under clock run: {sorted(missing)}")
    return found


async def _postgres_databases(admin_url: str, *, create: bool) -> None:
    """Drop the bench's databases (they may be left from an interrupted run); create them anew."""
    engine = create_async_engine(normalise_database_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for name in DATABASES:
                await connection.execute(text(f"DROP DATABASE IF EXISTS clock_bench_{name}"))
                if create:
                    await connection.execute(text(f"CREATE DATABASE clock_bench_{name}"))
    finally:
        await engine.dispose()
