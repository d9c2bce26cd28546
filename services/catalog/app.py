"""The catalog service's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from kernel.runtime import ServiceRuntime, create_service_app
from services.catalog import __doc__ as DESCRIPTION
from services.catalog import api, events
from services.catalog.settings import CatalogSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    settings = settings or CatalogSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceRuntime(settings, subscriptions=events.SUBSCRIPTIONS) as runtime:
            app.state.runtime = runtime
            yield

    app = create_service_app(
        settings=settings,
        title="CLOCK catalog",
        description=DESCRIPTION or "",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
