"""The protocol and its signatories, loaded once at first start."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.db import create_engine
from kernel.principal import Role
from services.membership import seed
from tests.conftest import migrate
from tests.integration.membership.conftest import (
    ANONYMOUS,
    REGION,
    SIGNED_ON,
    START,
    TERM_END,
    Service,
    as_,
)

FOUNDING = {"ASEV", "COSVIG", "CPTM", "LUCENSE", "NAVIGO", "TLS"}


async def test_the_region_and_the_six_founding_centres_are_active_members(svc: Service) -> None:
    response = await svc.client.get("/members", headers=ANONYMOUS)
    assert response.status_code == 200
    members = response.json()["items"]
    assert [m["acronym"] for m in members[1:]] == [
        "ASEV",
        "COSVIG",
        "CPTM",
        "LUCENSE",
        "NAVIGO",
        "TLS",
    ]
    region = members[0]
    assert (region["name"], region["role"], region["province"]) == (
        "Regione Toscana",
        "region",
        "FI",
    )
    assert {m["role"] for m in members[1:]} == {"founding"}
    assert {m["status"] for m in members} == {"active"}
    assert {m["term_end"] for m in members} == {TERM_END.isoformat()}
    where = {m["acronym"]: (m["municipality"], m["province"]) for m in members[1:]}
    assert where == {
        "ASEV": ("Empoli", "FI"),
        "COSVIG": ("Radicondoli", "SI"),
        "CPTM": ("Cecina", "LI"),
        "LUCENSE": ("Lucca", "LU"),
        "NAVIGO": ("Viareggio", "LU"),
        "TLS": ("Siena", "SI"),
    }
    assert [m["organisation_id"] for m in members] == [s.id for s in seed.SIGNATORIES]


async def test_signatories_have_no_invented_vat_numbers(svc: Service) -> None:
    response = await svc.client.get("/organisations", headers=ANONYMOUS)
    organisations = response.json()["items"]
    assert len(organisations) == 7
    assert all(o["vat_number"] is None for o in organisations)
    assert all(o["membership"]["status"] == "active" for o in organisations)


async def test_each_signatory_has_a_seat_vacant_until_appointed(svc: Service) -> None:
    response = await svc.client.get("/committee", headers=as_(Role.CENTRE, seed.SIGNATORIES[1].id))
    assert response.status_code == 200
    seats = response.json()["items"]
    assert len(seats) == 7
    assert all(seat["representative"] is None for seat in seats)


async def test_the_protocol_is_recorded_with_its_three_year_term(svc: Service) -> None:
    response = await svc.client.get("/protocol", headers=ANONYMOUS)
    assert response.status_code == 200
    protocol = response.json()
    assert protocol["signed_on"] == SIGNED_ON.isoformat()
    assert protocol["term_end"] == TERM_END.isoformat()
    assert (protocol["term_years"], protocol["status"], protocol["renewals"]) == (3, "in_force", [])
    assert response.headers["ETag"]


async def test_loading_publishes_registration_and_admission_events(svc: Service) -> None:
    events = await svc.wait_for_events(*["organisation.registered"] * 7, *["member.admitted"] * 7)
    admitted = [e for e in events if e["type"] == "clock.membership.member.admitted.v1"]
    for event in admitted:
        assert event["source"] == "/clock/membership"
        assert event["aggregateversion"] == 1
        assert event["subject"] == event["data"]["organisation_id"]
        assert event["data"]["actor"]["role"] == "system"
        assert event["data"]["reason"] == f"signatory of the protocol signed on {SIGNED_ON}"
    roles = sorted(e["data"]["role"] for e in admitted)
    assert roles == ["founding"] * 6 + ["region"]


async def test_loading_is_idempotent_across_restarts(svc: Service) -> None:
    before = await svc.counts()
    assert before["organisations"] == 7 and before["outbox"] == 14
    async with svc.app() as client:  # a second start on the same database
        assert (await client.get("/members", headers=REGION)).status_code == 200
    assert await svc.counts() == before


async def test_replicas_starting_together_load_the_signatories_once(database_url: str) -> None:
    migrate("membership", database_url)
    engines = [create_engine(database_url) for _ in range(3)]
    try:
        makers = [
            async_sessionmaker(e, expire_on_commit=False, class_=AsyncSession) for e in engines
        ]
        results = await asyncio.gather(
            *(seed.seed(m, signed_on=SIGNED_ON, now=START) for m in makers)
        )
        assert sorted(results) == [False, False, True]
        again = await seed.seed(makers[0], signed_on=SIGNED_ON, now=START)
        assert again is False
        async with engines[0].connect() as connection:
            for table, expected in (("organisations", 7), ("memberships", 7), ("outbox", 14)):
                count = await connection.scalar(text(f"SELECT count(*) FROM {table}"))
                assert count == expected, table
    finally:
        for engine in engines:
            await engine.dispose()
