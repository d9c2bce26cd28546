"""Demo labs of the six founding centres, loaded at first start when the catalogue is empty.

The content is in `data/demo-labs.json`. Each centre shows what it is known for: COSVIG
geothermal energy (Radicondoli), NAVIGO nautical engineering (Viareggio), Toscana Life Sciences
life sciences and biotech (Siena), LUCENSE paper, materials and ICT for the Lucca paper
district, CPTM (Polo Tecnologico Magona, Cecina) materials, chemistry and the environment, ASEV
(Empoli) training, innovation for SMEs and ICT, in Italian and English. Lab names and equipment
are illustrative, not an inventory of the real centres; instruments are real models of real
manufacturers. A few near-duplicates between centres are deliberate (the same SEM model at
LUCENSE and CPTM, ICP-OES spectrometers at COSVIG and CPTM, universal testing machines at
NAVIGO and CPTM, Industry 4.0 courses at ASEV and LUCENSE), so that the duplicate list has
something to show. Every tag is a real code of the catalogue's taxonomies (validated by the
same schemas as the API).

The demo initiatives (`data/demo-initiatives.json`: projects, a joint action, courses and
events of the same centres, dated from the day of loading so that the calendar has upcoming
events; two projects overlap on purpose) are loaded with them, past events held and closed.

The labs are published at once, with the system as actor. The catalogue shows entries of
active members only, so they become visible when the membership events (the signatories
seeded as active members) arrive.

Loading is idempotent and safe with replicas starting together: everything is written in one
transaction that first inserts the marker row with a fixed id; a second replica either sees it,
or fails on its primary key and leaves. Ids are fixed (UUIDv5), the same in every installation.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.errors import Conflict
from services.catalog import entries, service
from services.catalog.initiatives import service as initiatives
from services.catalog.initiatives.schemas import InitiativeIn
from services.catalog.models import DemoData, Lab
from services.catalog.schemas import CompetenceIn, EquipmentIn, LabIn, ServiceIn
from services.catalog.taxonomies import DATA

log = logging.getLogger(__name__)

# The membership service's fixed organisation ids of the signatories (services never import
# each other: this is a copy of services.membership.seed's derivation).
MEMBERSHIP_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "membership.clock.toscana.it")


def centre_id(key: str) -> str:
    """Organisation id of a founding centre (`asev`, `cosvig`, `cptm`, `lucense`, `navigo`,
    `tls`), as the membership service assigns it."""
    return str(uuid.uuid5(MEMBERSHIP_NAMESPACE, f"signatory:{key}"))


CENTRES = {key: centre_id(key) for key in ("asev", "cosvig", "cptm", "lucense", "navigo", "tls")}

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "catalog.clock.toscana.it")
MARKER_ID = str(uuid.uuid5(NAMESPACE, "demo-data"))


def demo_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def demo_labs() -> list[dict[str, Any]]:
    """The demo labs (`data/demo-labs.json`): centre key, lab fields, entries by kind."""
    data = json.loads((DATA / "demo-labs.json").read_text(encoding="utf-8"))
    labs: list[dict[str, Any]] = data["labs"]
    return labs


LABS = demo_labs()


def demo_initiatives() -> list[dict[str, Any]]:
    """The demo initiatives (`data/demo-initiatives.json`): centre key, partner centres (key,
    confirmed), dates as days from the day of loading, the other fields as the API takes them."""
    data = json.loads((DATA / "demo-initiatives.json").read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = data["initiatives"]
    return found


INITIATIVES = demo_initiatives()

SCHEMAS: Mapping[str, type[CompetenceIn] | type[EquipmentIn] | type[ServiceIn]] = {
    "competence": CompetenceIn,
    "equipment": EquipmentIn,
    "service": ServiceIn,
}


async def load(session: AsyncSession, *, now: datetime) -> int:
    """Write the demo labs unless the catalogue has labs or the marker; flushes, the caller
    commits. Returns the number of labs written (0: nothing written)."""
    if await session.get(DemoData, MARKER_ID) is not None:
        return 0
    if await session.scalar(select(func.count()).select_from(Lab)):
        return 0
    session.add(DemoData(id=MARKER_ID, loaded_at=now, labs=len(LABS)))
    await session.flush()  # a concurrent replica fails here, on the primary key
    for index, spec in enumerate(LABS):
        moment = now + timedelta(milliseconds=index)
        lab = await service.add_lab(
            session,
            centre_id=CENTRES[spec["centre"]],
            data=dict(LabIn(**spec["lab"])),
            now=moment,
            lab_id=demo_id("lab", spec["key"]),
        )
        for entity, schema in SCHEMAS.items():
            for entry in spec.get(entity, []):
                fields = {k: v for k, v in entry.items() if k != "key"}
                await service.add_entry(
                    session,
                    kind=entries.KINDS[entity],
                    lab=lab,
                    data=dict(schema(**fields)),
                    actor=entries.SYSTEM,
                    now=moment,
                    entry_id=demo_id(entity, entry["key"]),
                )
        await service.transition_lab(
            session, lab=lab, action="publication", actor=entries.SYSTEM, now=moment
        )
    await load_initiatives(session, now=now + timedelta(milliseconds=len(LABS)))
    return len(LABS)


async def load_initiatives(session: AsyncSession, *, now: datetime) -> None:
    """The demo initiatives, dated from today, with the rules of the API (`_check`) but not its
    permissions: the centres are not members yet when the demo data is loaded."""
    today = initiatives.today(now)
    for index, spec in enumerate(INITIATIVES):
        moment = now + timedelta(milliseconds=index)
        fields = {
            k: v
            for k, v in spec.items()
            if k not in ("key", "centre", "partners", "start_in_days", "end_in_days")
        }
        fields["start_date"] = today + timedelta(days=spec["start_in_days"])
        if "end_in_days" in spec:
            fields["end_date"] = today + timedelta(days=spec["end_in_days"])
        values = initiatives.column_values(dict(InitiativeIn(**fields)))
        initiatives.check(values, today=today)
        await initiatives.add_initiative(
            session,
            centre_id=CENTRES[spec["centre"]],
            values=values,
            partners={
                CENTRES[p["centre"]]: moment if p["confirmed"] else None for p in spec["partners"]
            },
            actor=entries.SYSTEM,
            now=moment,
            initiative_id=demo_id("initiative", spec["key"]),
        )


async def seed(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    """Load the demo labs in one transaction; the number of labs this call wrote."""
    async with sessionmaker() as session:
        try:
            loaded = await load(session, now=now)
            if not loaded:
                await session.rollback()
                return 0
            await session.commit()
        except (IntegrityError, Conflict):  # another replica seeded concurrently
            await session.rollback()
            return 0
    log.info("demo catalogue loaded", extra={"labs": loaded})
    return loaded
