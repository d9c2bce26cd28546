"""A write carrying the gateway's idempotency key is applied once, whatever the retries
(kernel/idempotency.py), here on the matching service's demands."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from kernel.db import create_engine, create_sessionmaker
from kernel.idempotency import FINGERPRINT_HEADER, KEY_HEADER
from kernel.tables import idempotency_keys
from services.matching.models import Demand
from tests.integration.matching.conftest import REGION, Service

BODY = {
    "title": "Analisi dei polifenoli",
    "description": "Vogliamo il claim salutistico in etichetta.",
    "needs": [{"text": "Misurare i biofenoli dell'olio con HPLC"}],
}


def keyed(key: str, fingerprint: str = "f" * 64) -> dict[str, str]:
    return {**REGION, KEY_HEADER: key, FINGERPRINT_HEADER: fingerprint}


async def demands(svc: Service) -> int:
    engine = create_engine(svc.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(Demand)) or 0)
    finally:
        await engine.dispose()


async def test_a_retry_gets_the_first_answer_and_changes_nothing(svc: Service) -> None:
    firm_id = await svc.firm()
    body = {"firm_id": firm_id, **BODY}
    first = await svc.client.post("/demands", json=body, headers=keyed("a" * 64))
    again = await svc.client.post("/demands", json=body, headers=keyed("a" * 64))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await demands(svc) == 1
    other = await svc.client.post("/demands", json=body, headers=keyed("b" * 64))
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert await demands(svc) == 2


async def test_a_key_whose_answer_was_lost_is_refused_not_applied_again(svc: Service) -> None:
    firm_id = await svc.firm()
    # What a service that died between its commit and storing its answer leaves behind.
    engine = create_engine(svc.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            await session.execute(
                insert(idempotency_keys).values(
                    key="c" * 64, fingerprint="f" * 64, created_at=func.now()
                )
            )
            await session.commit()
    finally:
        await engine.dispose()
    body = {"firm_id": firm_id, **BODY}
    retry = await svc.client.post("/demands", json=body, headers=keyed("c" * 64))
    assert retry.status_code == 409
    assert retry.json()["type"].endswith("/already-applied")
    reused = await svc.client.post("/demands", json=body, headers=keyed("c" * 64, "0" * 64))
    assert reused.status_code == 422
    assert await demands(svc) == 0


async def test_a_refused_write_keeps_no_key(svc: Service) -> None:
    refused = await svc.client.post(
        "/demands", json={"firm_id": "nobody", **BODY}, headers=keyed("d" * 64)
    )
    assert refused.status_code in (404, 422), refused.text
    firm_id = await svc.firm()
    accepted = await svc.client.post(
        "/demands", json={"firm_id": firm_id, **BODY}, headers=keyed("d" * 64)
    )
    assert accepted.status_code == 201, accepted.text
