"""The catalogue index: a projection of the catalogue and membership events, and the in-memory
matrix each process ranks with.

Storage. Every published lab, competence, equipment and service is a `catalog_entries` row
with its text analysed (terms) and its sentence vector (float32 bytes); withdrawn entries stay,
hidden. An entry is visible when it is published, its lab is published and its centre is an
active member (suspended, withdrawn and expired members hide their entries; reinstatement shows
them again). Each change increments `index_state.generation` and stamps the changed rows with
it (`change_seq`), in the handler's transaction.

Memory. `IndexCache` holds a `ranking.MemoryIndex` per process, loaded lazily. Before ranking,
it compares the generation in the database with its own (at most every
`index_check_interval` seconds) and loads only the rows changed since; a different `epoch`
(the index was rebuilt) reloads everything. So any number of replicas stay correct, and an entry
is matchable as soon as its event is applied.

The catalogue's initiative events feed a table of their own (`initiatives.py`): initiatives are
proposed beside the labs, not ranked with them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from uuid6 import uuid7

from kernel.contracts import catalog, membership
from kernel.contracts.matching import LabTags
from kernel.events import CloudEvent, now_utc
from services.matching import initiatives
from services.matching.documents import entry_document
from services.matching.embedding import Embedder, default_embedder, from_bytes, to_bytes
from services.matching.geo import locate
from services.matching.models import CatalogEntry, CatalogInitiative, Centre, IndexState
from services.matching.ranking import Entry, MemoryIndex, tag_set

log = logging.getLogger(__name__)

STATE_ID = 1
ACTIVE = "active"

# -- the state row --------------------------------------------------------------------------


async def bump_generation(session: AsyncSession) -> int:
    """The next generation, with the state row locked until the caller commits (so changes
    commit in generation order)."""
    state = await session.scalar(
        select(IndexState).where(IndexState.id == STATE_ID).with_for_update()
    )
    if state is None:
        state = IndexState(id=STATE_ID, epoch=str(uuid7()), generation=0, updated_at=now_utc())
        session.add(state)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:  # created meanwhile by another writer
            state = await session.scalar(
                select(IndexState).where(IndexState.id == STATE_ID).with_for_update()
            )
            assert state is not None
    state.generation += 1
    state.updated_at = now_utc()
    await session.flush()
    return state.generation


async def current_state(session: AsyncSession) -> tuple[str, int] | None:
    row = (
        await session.execute(
            select(IndexState.epoch, IndexState.generation).where(IndexState.id == STATE_ID)
        )
    ).first()
    return (row.epoch, row.generation) if row else None


async def reset(session: AsyncSession) -> None:
    """Empty the index (and the initiatives) and start a new epoch (before a replay); flush,
    no commit."""
    await session.execute(delete(CatalogEntry))
    await session.execute(delete(CatalogInitiative))
    await session.execute(delete(Centre))
    generation = await bump_generation(session)
    await session.execute(
        update(IndexState).where(IndexState.id == STATE_ID).values(epoch=str(uuid7()))
    )
    log.info("matching index reset", extra={"generation": generation})


# -- writing entries ------------------------------------------------------------------------


async def _centre_active(session: AsyncSession, centre_id: str) -> bool:
    status = await session.scalar(select(Centre.status).where(Centre.centre_id == centre_id))
    return status is None or status == ACTIVE  # unknown: it published, so it was active


async def _lab_published(session: AsyncSession, lab_id: str) -> bool:
    status = await session.scalar(
        select(CatalogEntry.status).where(CatalogEntry.id == lab_id, CatalogEntry.entity == "lab")
    )
    return status is None or status == "published"


def _text(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    data = value.model_dump() if hasattr(value, "model_dump") else dict(value)
    return {k: v for k, v in data.items() if v}


async def write_entry(
    session: AsyncSession,
    *,
    embedder: Embedder,
    entry_id: str,
    entity: str,
    lab_id: str,
    centre_id: str,
    published: bool,
    title: Mapping[str, str],
    description: Mapping[str, str],
    lab_name: Mapping[str, str],
    tags: Mapping[str, list[str]],
    keywords: list[str],
    details: dict[str, Any],
    extras: Iterable[str | None],
    trl_min: int | None,
    trl_max: int | None,
    province: str,
    municipality: str,
    shareable: bool | None,
    version: int,
) -> CatalogEntry:
    """Insert or replace one entry, its terms and vector; flush."""
    generation = await bump_generation(session)
    document = entry_document(
        entry_id=entry_id,
        entity=entity,
        lab_id=lab_id,
        centre_id=centre_id,
        title=title,
        description=description,
        extras=[*extras, *keywords],
        tags=tags,
        trl_min=trl_min,
        trl_max=trl_max,
        province=province,
        municipality=municipality,
        shareable=shareable,
    )
    vector = (await asyncio.to_thread(embedder.encode, [document.text]))[0]
    lab_published = published if entity == "lab" else await _lab_published(session, lab_id)
    centre_active = await _centre_active(session, centre_id)
    values: dict[str, Any] = {
        "entity": entity,
        "lab_id": lab_id,
        "centre_id": centre_id,
        "status": "published" if published else "withdrawn",
        "lab_published": lab_published,
        "centre_active": centre_active,
        "visible": published and lab_published and centre_active,
        "title": dict(title),
        "description": dict(description),
        "lab_name": dict(lab_name),
        "tags": {k: list(v) for k, v in tags.items()},
        "keywords": list(keywords),
        "details": details,
        "trl_min": trl_min,
        "trl_max": trl_max,
        "province": province,
        "municipality": municipality,
        "shareable": shareable,
        "languages": sorted(document.entry.languages),
        "terms": dict(document.entry.terms),
        "forms": dict(document.entry.forms),
        "embedding": to_bytes(vector),
        "embedding_model": embedder.name,
        "change_seq": generation,
        "catalog_version": version,
        "updated_at": now_utc(),
    }
    row = await session.get(CatalogEntry, entry_id)
    if row is None:
        row = CatalogEntry(id=entry_id, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    await session.flush()
    return row


async def _refresh_visibility(session: AsyncSession, *where: Any) -> None:
    generation = await bump_generation(session)
    await session.execute(
        update(CatalogEntry)
        .where(*where)
        .values(
            visible=(CatalogEntry.status == "published")
            & CatalogEntry.lab_published
            & CatalogEntry.centre_active,
            change_seq=generation,
        )
        .execution_options(synchronize_session=False)
    )


# -- handlers of catalogue events -----------------------------------------------------------


def _published(event_type: str) -> bool:
    return not event_type.endswith(".withdrawn.v1")


def handlers(embedder: Embedder | None = None) -> dict[str, Any]:
    """Handlers by catalogue event type, the initiatives' too (the embedder is loaded on
    first use)."""

    def model() -> Embedder:
        return embedder or default_embedder()

    async def on_lab(session: AsyncSession, event: CloudEvent[Any]) -> None:
        data: catalog._LabState = event.data
        published = _published(event.type)
        await write_entry(
            session,
            embedder=model(),
            entry_id=data.lab_id,
            entity="lab",
            lab_id=data.lab_id,
            centre_id=data.centre_id,
            published=published,
            title=_text(data.name),
            description=_text(data.description),
            lab_name=_text(data.name),
            tags=data.tags.model_dump(),
            keywords=[],
            details={
                "accreditations": list(data.accreditations),
                "access_modes": list(data.access_modes),
            },
            extras=data.accreditations,
            trl_min=None,
            trl_max=None,
            province=data.province,
            municipality=data.municipality,
            shareable=None,
            version=event.aggregateversion,
        )
        # The lab's state is authoritative for its entries' location and visibility.
        await session.execute(
            update(CatalogEntry)
            .where(CatalogEntry.lab_id == data.lab_id, CatalogEntry.entity != "lab")
            .values(
                lab_published=published,
                province=data.province,
                municipality=data.municipality,
                lab_name=_text(data.name),
            )
            .execution_options(synchronize_session=False)
        )
        await _refresh_visibility(
            session, CatalogEntry.lab_id == data.lab_id, CatalogEntry.entity != "lab"
        )

    async def on_competence(session: AsyncSession, event: CloudEvent[Any]) -> None:
        data: catalog._CompetenceState = event.data
        await write_entry(
            session,
            embedder=model(),
            entry_id=data.competence_id,
            entity="competence",
            lab_id=data.lab_id,
            centre_id=data.centre_id,
            published=_published(event.type),
            title=_text(data.title),
            description=_text(data.description),
            lab_name=_text(data.lab_name),
            tags=data.tags.model_dump(),
            keywords=list(data.keywords),
            details={},
            extras=[],
            trl_min=data.trl_min,
            trl_max=data.trl_max,
            province=data.province,
            municipality=data.municipality,
            shareable=None,
            version=event.aggregateversion,
        )

    async def on_equipment(session: AsyncSession, event: CloudEvent[Any]) -> None:
        data: catalog._EquipmentState = event.data
        await write_entry(
            session,
            embedder=model(),
            entry_id=data.equipment_id,
            entity="equipment",
            lab_id=data.lab_id,
            centre_id=data.centre_id,
            published=_published(event.type),
            title=_text(data.name),
            description=_text(data.description),
            lab_name=_text(data.lab_name),
            tags=data.tags.model_dump(),
            keywords=[],
            details={
                "category": data.category,
                "manufacturer": data.manufacturer,
                "model": data.model,
                "year": data.year,
                "tariff_eur_per_hour": data.tariff_eur_per_hour,
                "booking_conditions": _text(data.booking_conditions),
            },
            extras=[data.category, data.manufacturer, data.model],
            trl_min=None,
            trl_max=None,
            province=data.province,
            municipality=data.municipality,
            shareable=data.shareable,
            version=event.aggregateversion,
        )

    async def on_service(session: AsyncSession, event: CloudEvent[Any]) -> None:
        data: catalog._ServiceState = event.data
        await write_entry(
            session,
            embedder=model(),
            entry_id=data.service_id,
            entity="service",
            lab_id=data.lab_id,
            centre_id=data.centre_id,
            published=_published(event.type),
            title=_text(data.name),
            description=_text(data.description),
            lab_name=_text(data.lab_name),
            tags=data.tags.model_dump(),
            keywords=[],
            details={"kind": data.kind, "price_model": data.price_model},
            extras=[],
            trl_min=None,
            trl_max=None,
            province=data.province,
            municipality=data.municipality,
            shareable=None,
            version=event.aggregateversion,
        )

    found: dict[str, Any] = dict(initiatives.handlers(embedder))
    groups: list[tuple[Any, tuple[type[Any], ...]]] = [
        (on_lab, (catalog.LabPublished, catalog.LabUpdated, catalog.LabWithdrawn)),
        (
            on_competence,
            (catalog.CompetencePublished, catalog.CompetenceUpdated, catalog.CompetenceWithdrawn),
        ),
        (
            on_equipment,
            (catalog.EquipmentPublished, catalog.EquipmentUpdated, catalog.EquipmentWithdrawn),
        ),
        (on_service, (catalog.ServicePublished, catalog.ServiceUpdated, catalog.ServiceWithdrawn)),
    ]
    for handler, contracts in groups:
        for contract in contracts:
            found[contract.event_type] = handler
    return found


# -- handlers of membership events ----------------------------------------------------------


async def on_member(session: AsyncSession, event: CloudEvent[Any]) -> None:
    """A member's status changed: hide or show its centre's entries."""
    data: membership.MemberSuspended = event.data  # every member event has these fields
    centre = await session.get(Centre, data.organisation_id)
    if centre is None:
        centre = Centre(
            centre_id=data.organisation_id,
            name=data.name,
            status=data.status,
            updated_at=now_utc(),
        )
        session.add(centre)
    else:
        centre.name = data.name
        centre.status = data.status
        centre.updated_at = now_utc()
    await session.flush()
    active = data.status == ACTIVE
    await session.execute(
        update(CatalogEntry)
        .where(CatalogEntry.centre_id == data.organisation_id)
        .values(centre_active=active)
        .execution_options(synchronize_session=False)
    )
    await _refresh_visibility(session, CatalogEntry.centre_id == data.organisation_id)


MEMBER_EVENTS = (
    membership.MemberAdmitted,
    membership.MemberSuspended,
    membership.MemberReinstated,
    membership.MemberWithdrawn,
    membership.MemberExpired,
)


def membership_handlers() -> dict[str, Any]:
    return {contract.event_type: on_member for contract in MEMBER_EVENTS}


# -- reading the index into memory ----------------------------------------------------------


def entry_of(row: Any) -> Entry:
    return Entry(
        id=row.id,
        entity=row.entity,
        lab_id=row.lab_id,
        centre_id=row.centre_id,
        title=row.title,
        languages=frozenset(row.languages),
        tags=tag_set(row.tags),
        trl_min=row.trl_min,
        trl_max=row.trl_max,
        province=row.province,
        point=locate(row.province, row.municipality),
        terms=row.terms,
        shareable=row.shareable,
    )


COLUMNS = (
    CatalogEntry.id,
    CatalogEntry.entity,
    CatalogEntry.lab_id,
    CatalogEntry.centre_id,
    CatalogEntry.title,
    CatalogEntry.languages,
    CatalogEntry.tags,
    CatalogEntry.trl_min,
    CatalogEntry.trl_max,
    CatalogEntry.province,
    CatalogEntry.municipality,
    CatalogEntry.terms,
    CatalogEntry.shareable,
    CatalogEntry.visible,
    CatalogEntry.embedding,
    CatalogEntry.change_seq,
)
LOAD_BATCH = 2000


class IndexCache:
    """The in-memory index of one process, kept in step with the database."""

    def __init__(self, embedder: Embedder | None = None, *, check_interval: float = 0.1) -> None:
        self._embedder = embedder
        self.check_interval = check_interval
        self.index: MemoryIndex | None = None
        self.epoch: str | None = None
        self.generation = 0
        self.seen_seq = 0
        self._checked = 0.0
        self._lock = asyncio.Lock()

    @property
    def embedder(self) -> Embedder:
        return self._embedder or default_embedder()

    async def current(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, fresh: bool = False
    ) -> MemoryIndex:
        """The index, refreshed from the database if it may have changed."""
        if (
            not fresh
            and self.index is not None
            and time.monotonic() - self._checked < self.check_interval
        ):
            return self.index
        async with self._lock:
            if (
                not fresh
                and self.index is not None
                and time.monotonic() - self._checked < self.check_interval
            ):
                return self.index
            checked = time.monotonic()
            async with sessionmaker() as session:
                state = await current_state(session)
                if state is None:
                    self.index = self.index or MemoryIndex(self.embedder.dimension)
                elif self.index is None or state[0] != self.epoch:
                    await self._load_all(session, state)
                elif state[1] != self.generation:
                    await self._load_changes(session, state)
                await session.rollback()
            self._checked = checked
            assert self.index is not None
            return self.index

    async def _load_all(self, session: AsyncSession, state: tuple[str, int]) -> None:
        started = time.perf_counter()
        index = MemoryIndex(self.embedder.dimension)
        seen = 0
        after = ""
        while True:
            rows = (
                await session.execute(
                    select(*COLUMNS)
                    .where(CatalogEntry.id > after)
                    .order_by(CatalogEntry.id)
                    .limit(LOAD_BATCH)
                )
            ).all()
            if not rows:
                break
            for row in rows:
                seen = max(seen, row.change_seq)
                if row.visible:
                    index.upsert(entry_of(row), from_bytes(row.embedding))
            after = rows[-1].id
            await asyncio.sleep(0)  # let requests in between batches
        self.index, self.epoch, self.generation, self.seen_seq = index, state[0], state[1], seen
        log.info(
            "matching index loaded",
            extra={"entries": len(index), "seconds": round(time.perf_counter() - started, 2)},
        )

    async def _load_changes(self, session: AsyncSession, state: tuple[str, int]) -> None:
        assert self.index is not None
        rows = (
            await session.execute(
                select(*COLUMNS)
                .where(CatalogEntry.change_seq > self.seen_seq)
                .order_by(CatalogEntry.change_seq)
            )
        ).all()
        index = self.index
        for row in rows:
            self.seen_seq = max(self.seen_seq, row.change_seq)
            if row.visible:
                index.upsert(entry_of(row), from_bytes(row.embedding))
            else:
                index.remove(row.id)
        if index.dead > max(1000, len(index)):
            self.index = index.compact()
        self.generation = max(state[1], self.seen_seq)


async def entry_row(session: AsyncSession, entry_id: str) -> CatalogEntry | None:
    return await session.get(CatalogEntry, entry_id)


async def lab_row(session: AsyncSession, lab_id: str) -> CatalogEntry | None:
    found: CatalogEntry | None = await session.scalar(
        select(CatalogEntry).where(CatalogEntry.id == lab_id, CatalogEntry.entity == "lab")
    )
    return found


async def lab_tags(session: AsyncSession, lab_ids: list[str]) -> LabTags:
    """The union of the labs' smart-specialisation and KET tags, as the catalogue has them."""
    rows = await session.scalars(
        select(CatalogEntry.tags).where(CatalogEntry.id.in_(lab_ids), CatalogEntry.entity == "lab")
    )
    s3: dict[str, None] = {}
    ket: dict[str, None] = {}
    for tags in rows:
        s3.update(dict.fromkeys((tags or {}).get("s3") or []))
        ket.update(dict.fromkeys((tags or {}).get("ket") or []))
    return LabTags(s3=sorted(s3), ket=sorted(ket))
