"""The matching service's ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from kernel.events import now_utc
from kernel.runtime import ServiceRuntime, create_service_app, freeze_heap
from services.matching import __doc__ as DESCRIPTION
from services.matching import api, events
from services.matching.challenges import api as challenges_api
from services.matching.embedding import Embedder
from services.matching.index import IndexCache
from services.matching.matcher import Ranker
from services.matching.settings import MatchingSettings

MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


async def warm(ranker: Ranker) -> None:
    """Load the sentence encoder and the index in the background, so the first query is fast."""
    try:
        await ranker.embed(["warm up"])
        await ranker.for_request()
        freeze_heap()  # the model and the index live as long as the process
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the first query will try again
        log.warning("matching warm-up failed: %r", exc)


def create_app(
    settings: MatchingSettings | None = None,
    *,
    clock: Clock | None = None,
    embedder: Embedder | None = None,
) -> FastAPI:
    """The app; `clock` (default: the real UTC time) and `embedder` are injectable."""
    settings = settings or MatchingSettings()
    subscriptions = events.SUBSCRIPTIONS
    if embedder is not None:
        from services.matching.index import handlers, membership_handlers

        subscriptions = {"catalog": handlers(embedder), "membership": membership_handlers()}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceRuntime(settings, subscriptions=subscriptions) as runtime:
            app.state.runtime = runtime
            cache = IndexCache(embedder, check_interval=settings.index_check_interval)
            app.state.ranker = Ranker(cache, runtime.sessionmaker)
            warming = (
                asyncio.create_task(warm(app.state.ranker), name="matching-warm-up")
                if settings.warm_model
                else None
            )
            try:
                yield
            finally:
                if warming is not None:
                    warming.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await warming

    app = create_service_app(
        settings=settings,
        title="CLOCK matching",
        description=DESCRIPTION or "",
        lifespan=lifespan,
        idempotent_writes=True,
    )
    app.state.clock = clock or now_utc
    app.include_router(api.router)
    app.include_router(challenges_api.router)
    return app
