"""The membership service's ASGI app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.errors import Conflict
from kernel.events import now_utc
from kernel.runtime import ServiceRuntime, create_service_app
from kernel.tasks import cancel_and_wait
from services.membership import __doc__ as DESCRIPTION
from services.membership import api, events, seed, service
from services.membership.settings import MembershipSettings

MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


async def expire_once(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> list[str]:
    """Expire the memberships whose term has ended, in one transaction."""
    async with sessionmaker() as session:
        try:
            expired = await service.expire_due(session, now=now)
        except Conflict:  # another replica is expiring them right now
            await session.rollback()
            return []
        await session.commit()
        return expired


async def expiry_loop(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, interval: float
) -> None:
    while True:
        try:
            expired = await expire_once(sessionmaker, clock())
            if expired:
                log.info("memberships expired", extra={"count": len(expired)})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be briefly away: try again next round
            log.warning("membership expiry failed: %r", exc)
        await asyncio.sleep(interval)


def create_app(
    settings: MembershipSettings | None = None, *, clock: Clock | None = None
) -> FastAPI:
    """The app; `clock` (default: the real UTC time) decides when terms have ended."""
    settings = settings or MembershipSettings()
    now: Clock = clock or now_utc

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceRuntime(settings, subscriptions=events.SUBSCRIPTIONS) as runtime:
            app.state.runtime = runtime
            await seed.seed(runtime.sessionmaker, signed_on=settings.protocol_signed_on, now=now())
            expiry = asyncio.create_task(
                expiry_loop(runtime.sessionmaker, now, settings.expiry_interval),
                name="membership-expiry",
            )
            try:
                yield
            finally:
                await cancel_and_wait(expiry)

    app = create_service_app(
        settings=settings,
        title="CLOCK membership",
        description=DESCRIPTION or "",
        lifespan=lifespan,
        idempotent_writes=True,
    )
    app.state.clock = now
    app.include_router(api.router)
    return app
