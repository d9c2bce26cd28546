"""The NATS connection of a process and the JetStream streams of the platform.

Pitfalls of nats-py this module works around (see the Foundation issue):
- connect with `max_reconnect_attempts=-1`, else the client gives up after ~2 minutes down;
- the first connect runs in the background, so a process starts (and says "not ready")
  while NATS is down;
- streams are created or updated with their *full* config (a partial update resets fields).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from kernel.settings import SERVICE_NAMES
from kernel.tasks import cancel_and_wait

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 300.0
"""The stream de-duplicates a resent event id within this window (design: >= 2 minutes)."""


def stream_config(service: str, *, replicas: int = 1) -> StreamConfig:
    """The full config of the stream a service publishes to."""
    return StreamConfig(
        name=f"CLOCK_{service.upper()}",
        description=f"Events published by the CLOCK {service} service",
        subjects=[f"clock.{service}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=0,
        max_msgs=-1,
        max_bytes=-1,
    )


PUBLISHING_SERVICES = tuple(s for s in SERVICE_NAMES if s != "reporting")


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream, or update it when its config differs; idempotent."""
    assert config.name is not None
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            log.info("stream created", extra={"stream": config.name})
            return
        except nats.js.errors.BadRequestError:
            # Another process created it between our lookup and our add.
            info = await js.stream_info(config.name)
    current = info.config
    if (
        sorted(current.subjects or []) != sorted(config.subjects or [])
        or current.num_replicas != config.num_replicas
        or (current.duplicate_window or 0) < (config.duplicate_window or 0)
        or current.storage != config.storage
    ):
        await js.update_stream(config)
        log.info("stream updated", extra={"stream": config.name})


@dataclass
class Bus:
    """One NATS connection per process, connecting (and reconnecting) in the background."""

    url: str
    name: str
    stream_replicas: int = 1
    streams: tuple[str, ...] = ()
    """Services whose streams this process makes sure exist (its own and those it consumes)."""

    def __post_init__(self) -> None:
        self.nc: Client = Client()
        self._connected = asyncio.Event()
        self._streams_ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name=f"nats-connect-{self.name}")

    async def _connect(self) -> None:
        async def on_disconnect() -> None:
            log.warning("nats disconnected", extra={"nats_url": self.url})

        async def on_reconnect() -> None:
            log.info("nats reconnected", extra={"nats_url": self.url})
            # The store may have been wiped: make sure the streams exist again.
            asyncio.get_running_loop().create_task(self._ensure_streams())

        async def on_error(exc: Exception) -> None:
            log.debug("nats error: %s", exc)

        await self.nc.connect(
            servers=[u.strip() for u in self.url.split(",") if u.strip()],
            name=self.name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,  # type: ignore[arg-type]  # seconds, int in the stubs only
            connect_timeout=2,
            ping_interval=10,
            max_outstanding_pings=3,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            error_cb=on_error,
        )
        self._connected.set()
        log.info("nats connected", extra={"nats_url": self.url})
        await self._ensure_streams()

    async def _ensure_streams(self) -> None:
        delay = 0.2
        while not self.nc.is_closed:
            try:
                for service in self.streams:
                    await ensure_stream(
                        self.jetstream, stream_config(service, replicas=self.stream_replicas)
                    )
                self._streams_ready.set()
                return
            except Exception as exc:  # a fresh cluster needs seconds before add_stream succeeds
                log.warning("streams not ready yet: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    @property
    def jetstream(self) -> JetStreamContext:
        return self.nc.jetstream(timeout=5)

    @property
    def is_connected(self) -> bool:
        return self.nc.is_connected

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until connected and the streams exist."""
        async with asyncio.timeout(timeout):
            await self._streams_ready.wait()

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        if self.nc.is_connected:
            try:
                async with asyncio.timeout(5):
                    await self.nc.drain()
            except Exception:  # draining is best effort at shutdown
                log.debug("nats drain failed", exc_info=True)
        if not self.nc.is_closed:
            await self.nc.close()
