"""Handlers of the events the catalog service consumes, by publishing service and event type.

The catalogue keeps a projection of the membership (`members`): which organisations exist and
which of them are active members. Only active members write, and only their published entries
are visible; a suspension, withdrawal or expiry hides a centre's entries at once (reads and
search join this table), a reinstatement shows them again. Nothing else changes, so no
catalog event follows (see `kernel.contracts.catalog`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kernel.contracts import membership as contracts
from kernel.events import CloudEvent
from kernel.runtime import Subscriptions
from services.catalog.models import Member


async def _member(session: AsyncSession, organisation_id: str, event: CloudEvent[Any]) -> Member:
    member = await session.get(Member, organisation_id)
    if member is None:
        member = Member(organisation_id=organisation_id, name="", updated_at=event.time)
        session.add(member)
    return member


async def on_organisation(session: AsyncSession, event: CloudEvent[Any]) -> None:
    """Registered or updated: name, acronym and province (the status stays)."""
    data: contracts.OrganisationRegistered | contracts.OrganisationUpdated = event.data
    member = await _member(session, data.organisation_id, event)
    member.name = data.name
    member.acronym = data.acronym
    member.province = data.province
    member.updated_at = event.time
    await session.flush()


async def on_member(session: AsyncSession, event: CloudEvent[Any]) -> None:
    """Admitted, suspended, reinstated, withdrawn or expired: the status after the change."""
    data: contracts.MemberAdmitted = event.data
    member = await _member(session, data.organisation_id, event)
    member.name = data.name
    member.acronym = data.acronym
    member.province = data.province
    member.role = data.role
    member.status = data.status
    member.updated_at = event.time
    await session.flush()


SUBSCRIPTIONS: Subscriptions = {
    "membership": {
        contracts.OrganisationRegistered.event_type: on_organisation,
        contracts.OrganisationUpdated.event_type: on_organisation,
        contracts.MemberAdmitted.event_type: on_member,
        contracts.MemberSuspended.event_type: on_member,
        contracts.MemberReinstated.event_type: on_member,
        contracts.MemberWithdrawn.event_type: on_member,
        contracts.MemberExpired.event_type: on_member,
    }
}
