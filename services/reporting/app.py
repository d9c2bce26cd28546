"""The reporting service's ASGI app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import FastAPI

from kernel.events import now_utc
from kernel.runtime import ServiceRuntime, create_service_app
from kernel.tasks import cancel_and_wait
from services.reporting import __doc__ as DESCRIPTION
from services.reporting import api, events
from services.reporting.scheduler import auto_issue_loop
from services.reporting.settings import ReportingSettings

MIGRATIONS = Path(__file__).parent / "migrations"

Clock = Callable[[], datetime]


def create_app(settings: ReportingSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The app; `clock` (default: the real UTC time) decides which periods are closed."""
    settings = settings or ReportingSettings()
    now: Clock = clock or now_utc

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceRuntime(
            settings, subscriptions=events.SUBSCRIPTIONS, publishes=False, skip_stale=False
        ) as runtime:
            app.state.runtime = runtime
            task = None
            granularities = settings.auto_issue_granularities()
            if granularities:
                task = asyncio.create_task(
                    auto_issue_loop(
                        runtime.sessionmaker,
                        now,
                        granularities=granularities,
                        grace=timedelta(hours=settings.auto_issue_grace_hours),
                        interval=settings.auto_issue_interval,
                        lease_ttl=settings.lease_ttl,
                    ),
                    name="reporting-auto-issue",
                )
            try:
                yield
            finally:
                await cancel_and_wait(task)

    app = create_service_app(
        settings=settings,
        title="CLOCK reporting",
        description=DESCRIPTION or "",
        lifespan=lifespan,
        idempotent_writes=True,
    )
    app.state.clock = now
    app.include_router(api.router)
    return app
