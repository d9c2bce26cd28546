"""Automatic issue at period close among replicas, and the rebuild of the log from the
streams."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from kernel.db import create_engine
from services.reporting.models import Report, StoredEvent
from services.reporting.rebuild import rebuild
from tests.conftest import eventually
from tests.integration.reporting import builders as b
from tests.integration.reporting.builders import scenario
from tests.integration.reporting.conftest import REGION, Service


async def _count(database_url: str, table: type[Report] | type[StoredEvent]) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(select(func.count()).select_from(table))
            return int(found or 0)
    finally:
        await engine.dispose()


async def test_reports_are_issued_once_at_period_close_by_one_replica(svc: Service) -> None:
    await svc.publish(scenario())
    await svc.wait_stored(len(scenario()))
    svc.clock.now = datetime(2026, 2, 2, 12, tzinfo=UTC)  # January closed 36 h ago
    options = {
        "auto_issue": "month,quarter,year",
        "auto_issue_grace_hours": 24,
        "auto_issue_interval": 0.1,
        "lease_ttl": 1.0,
    }
    async with svc.app(**options), svc.app(**options):

        async def issued() -> bool:
            return await _count(svc.database_url, Report) >= 3

        await eventually(issued, message="automatic reports")
        listed = (await svc.client.get("/reports", headers=REGION)).json()["items"]
    assert sorted(r["period"] for r in listed) == ["2025", "2025-Q4", "2026-01"]
    assert await _count(svc.database_url, Report) == 3
    january = next(r for r in listed if r["period"] == "2026-01")
    report = (await svc.client.get(f"/reports/{january['id']}", headers=REGION)).json()
    assert {r["kpi"]: r["current"] for r in report["comparison"]}["demands_received"] == 3


async def test_rebuild_replays_every_stream_into_the_log(svc: Service) -> None:
    events = scenario()
    await svc.publish(events)
    await svc.wait_stored(len(events))
    stats = await rebuild(svc.settings(lease_ttl=0.3))
    assert sum(s.events for s in stats) == len(events)
    assert await _count(svc.database_url, StoredEvent) == len(events)
    # The live consumers carry on after the rebuild.
    await svc.publish([b.demand("d-after", b.firm("f-after"), b.at(2026, 3, 1))])
    await svc.wait_stored(len(events) + 1)
