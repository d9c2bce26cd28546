"""The signatories of the protocol, loaded once at first start.

The protocol founding the CLOCK platform (CLuster Of Clusters for Knowledge) was signed on
9 December 2019 at Palazzo Strozzi Sacrati, Firenze, by the Regione Toscana and six
technology-transfer centres, for three years. Names, legal forms, seats and web sites below are
the real ones. VAT numbers are left empty on purpose: a wrong one that happens to pass the check
digit would belong to somebody else, and each member can set its own with PATCH.
Addresses, contact e-mails and representatives are not invented either; the seats start vacant.

Ids are fixed (UUIDv5), the same in every installation, so that demo data of other services and
API keys (`clock apikey create --role centre --org <id>`) can name the founding centres.

Seeding is idempotent and safe with replicas starting together: everything is written in one
transaction that first inserts the protocol row with a fixed id; a second replica either sees
it, or fails on its primary key and leaves.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.errors import Conflict
from services.membership import service
from services.membership.models import Protocol
from services.membership.schemas import MemberRole, OrganisationKind

log = logging.getLogger(__name__)

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "membership.clock.toscana.it")
PROTOCOL_ID = str(uuid.uuid5(NAMESPACE, "protocol"))
ORIGINAL_SIGNATURE = date(2019, 12, 9)


@dataclass(frozen=True)
class Signatory:
    key: str
    name: str
    acronym: str | None
    kind: OrganisationKind
    legal_form: str
    province: str
    municipality: str
    website: str | None
    role: MemberRole

    @property
    def id(self) -> str:
        return str(uuid.uuid5(NAMESPACE, f"signatory:{self.key}"))

    def organisation(self) -> dict[str, object]:
        data = asdict(self)
        for name in ("key", "role"):
            data.pop(name)
        data["kind"] = self.kind.value
        return data


TTC = OrganisationKind.TECHNOLOGY_TRANSFER_CENTRE

SIGNATORIES: tuple[Signatory, ...] = (
    Signatory(
        key="regione-toscana",
        name="Regione Toscana",
        acronym=None,
        kind=OrganisationKind.PUBLIC_BODY,
        legal_form="Ente pubblico territoriale",
        province="FI",
        municipality="Firenze",
        website="https://www.regione.toscana.it",
        role=MemberRole.REGION,
    ),
    Signatory(
        key="asev",
        name="Agenzia per lo Sviluppo Empolese Valdelsa",
        acronym="ASEV",
        kind=TTC,
        legal_form="S.p.A.",
        province="FI",
        municipality="Empoli",
        website="https://www.asev.it",
        role=MemberRole.FOUNDING,
    ),
    Signatory(
        key="cosvig",
        name="Consorzio per lo Sviluppo delle Aree Geotermiche",
        acronym="COSVIG",
        kind=TTC,
        legal_form="S.c.r.l.",
        province="SI",
        municipality="Radicondoli",
        website="https://www.cosvig.it",
        role=MemberRole.FOUNDING,
    ),
    Signatory(
        key="cptm",
        name="Consorzio Polo Tecnologico Magona",
        acronym="CPTM",
        kind=TTC,
        legal_form="Consorzio",
        province="LI",
        municipality="Cecina",
        website="https://www.polomagona.it",
        role=MemberRole.FOUNDING,
    ),
    Signatory(
        key="lucense",
        name="Lucense",
        acronym="LUCENSE",
        kind=TTC,
        legal_form="S.c.a r.l.",
        province="LU",
        municipality="Lucca",
        website="https://www.lucense.it",
        role=MemberRole.FOUNDING,
    ),
    Signatory(
        key="navigo",
        name="Navigo",
        acronym="NAVIGO",
        kind=TTC,
        legal_form="S.c.a r.l.",
        province="LU",
        municipality="Viareggio",
        website=None,
        role=MemberRole.FOUNDING,
    ),
    Signatory(
        key="tls",
        name="Fondazione Toscana Life Sciences",
        acronym="TLS",
        kind=TTC,
        legal_form="Fondazione",
        province="SI",
        municipality="Siena",
        website="https://www.toscanalifesciences.org",
        role=MemberRole.FOUNDING,
    ),
)

SIGNATORY_IDS = {s.acronym or s.key: s.id for s in SIGNATORIES}
"""Fixed organisation ids of the signatories, by acronym (`regione-toscana` for the Region)."""


async def load_signatories(session: AsyncSession, *, signed_on: date, now: datetime) -> bool:
    """Write the protocol and the signatories unless present; flushes, the caller commits.

    Returns False when they were already there (nothing written).
    """
    if await session.get(Protocol, PROTOCOL_ID) is not None:
        return False
    protocol = await service.establish_protocol(
        session, protocol_id=PROTOCOL_ID, signed_on=signed_on, now=now
    )
    reason = f"signatory of the protocol signed on {signed_on.isoformat()}"
    for index, signatory in enumerate(SIGNATORIES):
        # A microsecond apart, so that lists show the signatories in this order.
        moment = now + timedelta(microseconds=index)
        organisation = await service.create_organisation(
            session,
            data=signatory.organisation(),
            actor=service.SYSTEM,
            now=moment,
            organisation_id=signatory.id,
        )
        await service.admit_member(
            session,
            organisation=organisation,
            role=signatory.role,
            term_end=protocol.term_end,
            reason=reason,
            actor=service.SYSTEM,
            now=moment,
            since=service.start_of(signed_on),
        )
    return True


async def seed(
    sessionmaker: async_sessionmaker[AsyncSession], *, signed_on: date, now: datetime
) -> bool:
    """Load the signatories in one transaction; True when this call wrote them."""
    async with sessionmaker() as session:
        try:
            loaded = await load_signatories(session, signed_on=signed_on, now=now)
            if not loaded:
                await session.rollback()
                return False
            await session.commit()
        except IntegrityError:  # another replica seeded concurrently
            await session.rollback()
            return False
        except Conflict:  # the same, seen through a service flush
            await session.rollback()
            return False
    log.info("signatories loaded", extra={"signatories": len(SIGNATORIES)})
    return True
