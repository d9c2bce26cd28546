"""The catalog service's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from kernel.events import now_utc
from kernel.http import PublicCacheControl
from kernel.runtime import ServiceRuntime, create_service_app
from services.catalog import __doc__ as DESCRIPTION
from services.catalog import api, events, seed
from services.catalog.settings import CatalogSettings

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
            yield

    app = create_service_app(
        settings=settings,
        title="CLOCK catalog",
        description=DESCRIPTION or "",
        lifespan=lifespan,
        idempotent_writes=True,
    )
    if settings.public_max_age:
        app.add_middleware(PublicCacheControl, max_age=settings.public_max_age)
    app.state.clock = now
    app.include_router(api.router)
    return app
