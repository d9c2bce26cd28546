"""The reporting service's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from kernel.runtime import ServiceRuntime, create_service_app
from services.reporting import __doc__ as DESCRIPTION
from services.reporting import api, events
from services.reporting.settings import ReportingSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceRuntime(
            settings, subscriptions=events.SUBSCRIPTIONS, publishes=False
        ) as runtime:
            app.state.runtime = runtime
            yield

    app = create_service_app(
        settings=settings,
        title="CLOCK reporting",
        description=DESCRIPTION or "",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
