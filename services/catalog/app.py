"""The catalog service's ASGI app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from kernel.events import now_utc
from kernel.http import PublicCacheControl
from kernel.runtime import ServiceRuntime, create_service_app
from kernel.tasks import cancel_and_wait
from services.catalog import __doc__ as DESCRIPTION
from services.catalog import api, events, seed
from services.catalog.initiatives import api as initiatives_api
from services.catalog.settings import CatalogSettings
from services.catalog.transfer import api as transfer_api
from services.catalog.transfer.jobs import ImportWorker

MIGRATIONS = Path(__file__).parent / "migrations"

Clock = Callable[[], datetime]


def create_app(settings: CatalogSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The app; `clock` (default: the real UTC time) stamps what it writes."""
    settings = settings or CatalogSettings()
    now: Clock = clock or now_utc

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceRuntime(settings, subscriptions=events.SUBSCRIPTIONS) as runtime:
            app.state.runtime = runtime
            if settings.demo_data:
                await seed.seed(runtime.sessionmaker, now=now())
            worker = ImportWorker(
                runtime.sessionmaker, clock=now, poll_interval=settings.import_poll_interval
            )
            app.state.import_worker = worker
            imports = asyncio.create_task(worker.run(), name="catalog-imports")
            try:
                yield
            finally:
                await cancel_and_wait(imports)

    app = create_service_app(
        settings=settings,
        title="CLOCK catalog",
        description=DESCRIPTION or "",
        lifespan=lifespan,
        idempotent_writes=True,
        body_limits={"/imports": settings.import_max_bytes},
    )
    if settings.public_max_age:
        app.add_middleware(PublicCacheControl, max_age=settings.public_max_age)
    app.state.clock = now
    app.state.settings = settings
    app.include_router(api.router)
    app.include_router(initiatives_api.router)
    app.include_router(transfer_api.router)
    return app
