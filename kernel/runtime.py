"""The runtime of one service process and the app factory every service uses.

`ServiceRuntime` builds the engine, sessionmaker, NATS connection, outbox relay and consumers,
and disposes of them in reverse order; a service's `app.py` enters it in its lifespan.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from kernel.bus import Bus
from kernel.consumer import Consumer, Handler
from kernel.db import create_engine, read_only
from kernel.errors import install_problem_handlers
from kernel.events import EventRegistry, registry
from kernel.faults import FaultPoint, Faults
from kernel.http import (
    BodySizeLimit,
    RequestContextMiddleware,
    SignedPrincipalMiddleware,
    add_health_routes,
)
from kernel.idempotency import IdempotentWrites, record_claim
from kernel.logs import configure_logging
from kernel.openapi import document_problems
from kernel.outbox import PENDING_KEY, OutboxRelay
from kernel.settings import ServiceSettings

log = logging.getLogger(__name__)


def freeze_heap() -> None:
    """Move the objects alive now out of the collector's generations.

    Modules, routes, schemas, compiled statements, an index: they live as long as the process,
    yet a full collection walks all of them, every few hundred requests, for 50-120 ms: the
    p99 of the requests it lands on. Frozen, they are skipped; refcounting still frees them.
    No collection first: it would cost a test process, which starts apps by the hundred, a
    full walk of its large heap each time; what garbage is frozen with them is small."""
    gc.freeze()


Subscriptions = Mapping[str, Mapping[str, Handler]]
"""Handlers by event type, by the publishing service whose stream they consume."""


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    subscriptions: Subscriptions = field(default_factory=dict)
    publishes: bool = True
    events: EventRegistry = registry
    skip_stale: bool = True
    """False for a consumer that keeps every event, even one older than its aggregate's."""

    async def __aenter__(self) -> ServiceRuntime:
        settings = self.settings
        name = settings.service_name
        faults = Faults.parse(settings.faults)
        if faults:
            log.warning("fault injection is on: %s", settings.faults)
        self.engine: AsyncEngine = create_engine(
            settings.sqlalchemy_url, echo=settings.database_echo
        )

        # A session class of our own, so the commit hook below concerns this runtime only.
        session_class: type[Session] = type(f"{name.title()}Session", (Session,), {})
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=session_class
        )
        # A write's idempotency key commits with its effect (kernel.idempotency).
        event.listen(session_class, "before_commit", record_claim)
        # GET requests read on SQLite without taking the write lock (kernel.db.read_only).
        self.read_sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            read_only(self.engine), expire_on_commit=False, sync_session_class=session_class
        )
        own = (name,) if self.publishes else ()
        self.bus = Bus(
            url=settings.nats_url,
            name=f"clock-{name}",
            stream_replicas=settings.stream_replicas,
            streams=own + tuple(s for s in self.subscriptions if s not in own),
        )
        await self.bus.start()
        self.relay: OutboxRelay | None = None
        if self.publishes:
            relay = OutboxRelay(
                self.sessionmaker,
                self.bus,
                name,
                batch_size=settings.relay_batch_size,
                poll_interval=settings.relay_poll_interval,
                lease_ttl=settings.lease_ttl,
                faults=faults,
            )

            @event.listens_for(session_class, "after_commit")
            def _wake_relay(session: Session) -> None:
                if session.info.pop(PENDING_KEY, False):
                    faults.hit(FaultPoint.COMMIT_BEFORE_PUBLISH)
                    relay.notify()

            relay.start()
            self.relay = relay
        self.consumers = [
            Consumer(
                self.sessionmaker,
                self.bus,
                name,
                source,
                handlers,
                events=self.events,
                batch_size=settings.consumer_batch_size,
                max_deliveries=settings.consumer_max_deliveries,
                ack_wait=settings.consumer_ack_wait,
                lease_ttl=settings.lease_ttl,
                skip_stale=self.skip_stale,
                faults=faults,
            )
            for source, handlers in self.subscriptions.items()
        ]
        for consumer in self.consumers:
            consumer.start()
        freeze_heap()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        gc.unfreeze()
        for consumer in self.consumers:
            await consumer.stop()
        if self.relay is not None:
            await self.relay.stop()
        await self.bus.close()
        await self.engine.dispose()

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["database"] = {"ok": True}
        except Exception as exc:
            checks["database"] = {"ok": False, "error": type(exc).__name__}
        checks["nats"] = {"ok": self.bus.is_connected}
        return checks


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    idempotent_writes: bool = False,
    body_limits: Mapping[str, int] | None = None,
) -> FastAPI:
    """A FastAPI app with the platform's middlewares, problem handlers and health routes.

    `idempotent_writes`: the service keeps the gateway's idempotency keys with its writes (its
    database has the `idempotency_keys` table). `body_limits`: larger (or smaller) request
    bodies under some path prefixes than `settings.max_body_bytes`."""
    configure_logging(
        settings.service_name, level=settings.log_level, json_format=settings.log_json
    )
    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    install_problem_handlers(app)
    document_problems(app)

    async def readiness() -> dict[str, Any]:
        runtime: ServiceRuntime | None = getattr(app.state, "runtime", None)
        if runtime is None:
            return {"runtime": {"ok": False, "error": "starting"}}
        return await runtime.readiness()

    add_health_routes(app, readiness)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, paths=body_limits)
    if idempotent_writes:

        def sessionmakers() -> tuple[async_sessionmaker[AsyncSession], ...] | None:
            runtime: ServiceRuntime | None = getattr(app.state, "runtime", None)
            return None if runtime is None else (runtime.read_sessionmaker, runtime.sessionmaker)

        app.add_middleware(IdempotentWrites, sessionmakers=sessionmakers)
    app.add_middleware(SignedPrincipalMiddleware, secrets=settings.accepted_principal_secrets())
    app.add_middleware(RequestContextMiddleware, app_name=settings.service_name)
    return app
