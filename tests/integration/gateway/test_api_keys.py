"""API keys: creation, validation, listing, revocation, authentication (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import service as keys
from kernel.db import create_engine, create_sessionmaker
from kernel.errors import InvalidInput, NotFound
from kernel.principal import Principal, Role

ORG = "7C0A4F52-8F9E-4A53-9B8E-3F5A0C6A1D01"
KEY_FORMAT = re.compile(r"^clk_[A-Za-z0-9]{12}_[A-Za-z0-9_\-]{43}$")


@pytest.fixture
async def session(gateway_database: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(gateway_database)
    try:
        async with create_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def test_create_authenticate_list_revoke(session: AsyncSession) -> None:
    centre, centre_key = await keys.create_api_key(
        session, role=Role.CENTRE, org_id=ORG, name="  COSVIG lab sync  "
    )
    region, region_key = await keys.create_api_key(session, role=Role.REGION, org_id=None, name="")
    await session.commit()

    assert KEY_FORMAT.match(centre_key)
    assert centre_key.split("_")[1] == centre.prefix
    assert centre_key.split("_", 2)[2] not in centre.secret_hash
    assert len(centre.secret_hash) == 64
    assert centre.org_id == ORG.lower(), "org ids are stored canonical"
    assert centre.name == "COSVIG lab sync"
    assert region.name is None
    assert centre.created_at.tzinfo is not None

    assert await keys.authenticate(session, centre_key) == Principal(
        role=Role.CENTRE, org_id=ORG.lower(), key_id=centre.id, name="COSVIG lab sync"
    )
    assert await keys.authenticate(session, f"  {region_key}\n") == Principal(
        role=Role.REGION, key_id=region.id
    )
    assert [k.id for k in await keys.list_api_keys(session)] == [centre.id, region.id]

    revoked = await keys.revoke_api_key(session, key_id=centre.id)
    await session.commit()
    assert revoked.revoked_at is not None
    assert await keys.authenticate(session, centre_key) is None
    again = await keys.revoke_api_key(session, key_id=centre.id)
    assert again.revoked_at == revoked.revoked_at, "revoking twice changes nothing"
    assert len(await keys.list_api_keys(session)) == 2, "revoked keys stay listed"

    by_prefix = await keys.revoke_api_key(session, key_id=region.prefix)
    assert by_prefix.id == region.id
    with pytest.raises(NotFound):
        await keys.revoke_api_key(session, key_id="00000000-0000-0000-0000-000000000000")


async def test_every_key_is_different(session: AsyncSession) -> None:
    created = [
        await keys.create_api_key(session, role=Role.REGION, org_id=None, name=None)
        for _ in range(20)
    ]
    assert len({key for _, key in created}) == 20
    assert len({row.prefix for row, _ in created}) == 20


@pytest.mark.parametrize(
    ("role", "org_id", "fields"),
    [
        (Role.ANONYMOUS, None, ["role"]),
        ("superuser", None, ["role"]),
        (Role.CENTRE, None, ["org_id"]),
        (Role.FIRM, "  ", ["org_id"]),
        (Role.PARTNER, "not-a-uuid", ["org_id"]),
        (Role.REGION, ORG, ["org_id"]),
    ],
)
async def test_role_and_organisation_are_validated(
    session: AsyncSession, role: Role, org_id: str | None, fields: list[str]
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await keys.create_api_key(session, role=role, org_id=org_id, name=None)
    assert [e["field"] for e in raised.value.errors or []] == fields
    assert await keys.list_api_keys(session) == []


async def test_a_too_long_name_is_refused(session: AsyncSession) -> None:
    with pytest.raises(InvalidInput):
        await keys.create_api_key(session, role=Role.REGION, org_id=None, name="x" * 201)


async def test_malformed_unknown_and_wrong_keys_authenticate_as_nobody(
    session: AsyncSession,
) -> None:
    row, key = await keys.create_api_key(session, role=Role.FIRM, org_id=ORG, name=None)
    secret = key.split("_", 2)[2]
    for candidate in (
        "",
        "clk_",
        "garbage",
        key[:-1],
        key + "x",
        key.replace("clk_", "sk_"),
        f"clk_{row.prefix}_{'A' * 43}",
        f"clk_{'B' * 12}_{secret}",
        f"clk_{row.prefix}{secret}",
        f"clk_{row.prefix[:-1]}_{secret}",
    ):
        assert await keys.authenticate(session, candidate) is None, candidate


async def test_last_used_is_written_at_most_once_a_minute(session: AsyncSession) -> None:
    row, key = await keys.create_api_key(session, role=Role.REGION, org_id=None, name=None)
    await session.commit()
    assert row.last_used_at is None
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    await keys.authenticate(session, key, now=start)
    await session.commit()
    assert row.last_used_at == start

    await keys.authenticate(session, key, now=start + timedelta(seconds=30))
    assert not session.dirty, "no write within the minute"
    await session.commit()
    assert row.last_used_at == start

    later = start + timedelta(seconds=61)
    await keys.authenticate(session, key, now=later)
    await session.commit()
    session.expire_all()
    (reloaded,) = await keys.list_api_keys(session)
    assert reloaded.last_used_at == later
