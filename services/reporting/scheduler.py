"""Automatic issue of the report of each period once it has closed (plus a grace time for late
events). Among replicas, the holder of a lease issues; the `(period, version)` and `number`
constraints and the idempotency of `service.issue` make a double issue impossible anyway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.leases import Lease
from services.reporting import service
from services.reporting.periods import Granularity, containing

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


async def issue_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime,
    granularities: Sequence[Granularity],
    grace: timedelta,
) -> list[str]:
    """Issue the report of the last period of each granularity closed at least `grace` ago,
    unless it exists; returns the periods issued."""
    issued = []
    for granularity in granularities:
        period = containing((now - grace).date(), granularity).previous()
        async with sessionmaker() as session:
            if await service.latest_of(session, period.label) is not None:
                await session.rollback()
                continue
            result = await service.issue(
                session, period, supersede=False, provisional=False, now=now
            )
            if result.created:
                issued.append(period.label)
    return issued


async def auto_issue_loop(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    granularities: Sequence[Granularity],
    grace: timedelta,
    interval: float,
    lease_ttl: float,
) -> None:
    lease = Lease(sessionmaker, name="reporting:auto-issue", ttl=lease_ttl)
    try:
        while True:
            try:
                if lease.held or await lease.acquire():
                    issued = await issue_due(sessionmaker, clock(), granularities, grace)
                    if issued:
                        log.info("reports issued at period close", extra={"periods": issued})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be briefly away: next round
                log.warning("automatic report issue failed: %r", exc)
            await asyncio.sleep(interval)
    finally:
        if lease.held:
            try:
                await lease.release()
            except Exception:
                log.debug("could not release the auto-issue lease", exc_info=True)
