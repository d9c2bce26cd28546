"""An initiative in the catalogue search (`services.catalog.search`).

Every initiative that is not a draft is a search document of entity `initiative`, weighted like
the catalogue's entries: its title, its description, and as other text the partner
organisations' names, the funding programme (its Italian and English names, so that `FESR`
finds what `ERDF` does) and call, and an event's venue and comune. It belongs to no lab
(`lab_id` null); its centre is the lead centre, so the search shows it only while that centre is
an active member, as the initiative's own reads do; its province is the event's, else the lead
centre's (the `members` projection, as of the initiative's last write), so that a province
filter finds a centre's projects too.

The service rewrites the document after every write of an initiative, in the same transaction.
A draft is not indexed, and the status only moves forward, so no document ever has to be
removed. Migration catalog_0006 builds the same documents for the initiatives registered before
search knew them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog import search
from services.catalog.initiatives.models import Initiative
from services.catalog.initiatives.schemas import FUNDING_LABELS
from services.catalog.models import Member

ENTITY = "initiative"


def initiative_document(row: Initiative, *, lead_province: str | None) -> search.Document:
    partners = [o["name"] for o in row.partner_organisations]
    programme = FUNDING_LABELS.get(row.funding_programme or "")
    place = [p for p in (row.venue, row.municipality) if p]
    return search.Document(
        entry_id=row.id,
        entity=ENTITY,
        lab_id=None,
        centre_id=row.centre_id,
        province=row.province or lead_province or "",
        title=row.title,
        text=row.description,
        fields=[
            ("title", row.title),
            ("description", row.description),
            ("extra", partners),
            ("extra", programme),
            ("extra", row.funding_call),
            ("extra", place),
        ],
        tags=row.tags,
        kind=row.kind,
        status=row.status,
    )


async def reindex(session: AsyncSession, row: Initiative) -> None:
    """Write the document of an initiative that is not a draft (replacing the one it had)."""
    if row.status == "draft":
        return
    lead = await session.get(Member, row.centre_id)
    await search.index(
        session, [initiative_document(row, lead_province=lead.province if lead else None)]
    )
