"""The rules of the catalog service.

Plain async functions with keyword-only arguments. They check permissions (object-level too),
change rows, keep the search index and the duplicate pairs in step, record their events in the
same session with `record_event`, and flush; the caller commits. They raise `kernel.errors`
domain errors, never HTTP ones.

Who may do what:
- writing (labs and their entries) is for the staff of the owning centre (`centre` role with
  `org_id` = the lab's `centre_id`), while the centre is an active member according to the
  membership events (409 otherwise, also for a centre the catalogue never heard of); another
  centre, and every other role, gets 403;
- reading: anyone sees the published entries of active members; a centre also sees its own
  entries in any status; the Region sees everything. What a caller may not see is a 404.

A lab goes draft → published → withdrawn (and may be published again); its competences,
equipment and service offerings follow its status.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from uuid6 import uuid7

from kernel.contracts import catalog as contracts
from kernel.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from kernel.outbox import record_event
from kernel.principal import Principal, Role
from services.catalog import duplicates, search, taxonomies
from services.catalog.entries import (
    KINDS,
    Actor,
    EntryRow,
    Kind,
    column_values,
    entry_document,
    entry_signature,
    entry_state,
    lab_document,
    lab_state,
    language_map,
    pair_state,
    tags_of,
    union_tags,
)
from services.catalog.models import (
    Competence,
    DuplicatePair,
    Equipment,
    Lab,
    Member,
    SearchDocument,
    ServiceOffering,
)
from services.catalog.schemas import EntryStatus, PairStatus

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


# -- actors and permissions -----------------------------------------------------------------


async def member_status(session: AsyncSession, organisation_id: str) -> str | None:
    member = await session.get(Member, organisation_id)
    return member.status if member else None


async def require_writer(
    session: AsyncSession, principal: Principal, centre_id: str | None = None
) -> str:
    """The writing centre's id: 403 unless the principal is its staff, 409 unless it is an
    active member."""
    if principal.role is not Role.CENTRE or not principal.org_id:
        raise Forbidden("only the staff of a member centre may write the catalogue")
    if centre_id is not None and centre_id != principal.org_id:
        raise Forbidden("this lab belongs to another centre: only its own staff may change it")
    member = await session.get(Member, principal.org_id)
    status = member.status if member else None
    if member is None or status is None:
        known = "registered but not a member" if member else "not known to the catalogue (yet)"
        raise Conflict(
            f"centre {principal.org_id} is {known}: only active members of the platform write "
            "the catalogue",
            member_status=None,
        )
    if status != "active":
        raise Conflict(
            f"centre {principal.org_id} is a {status} member: only active members write "
            "the catalogue",
            member_status=status,
        )
    return principal.org_id


def sees_everything_of(principal: Principal, centre_id: str) -> bool:
    """The Region, or the centre itself, sees entries in any status."""
    return principal.role is Role.REGION or (
        principal.role is Role.CENTRE and principal.org_id == centre_id
    )


def _active_centres() -> Any:
    return select(Member.organisation_id).where(Member.status == "active")


def _visibility(principal: Principal, model: type[Lab] | type[EntryRow]) -> Any:
    """SQL condition: rows `principal` may read (deleted ones never)."""
    public = and_(
        model.status == EntryStatus.PUBLISHED.value, model.centre_id.in_(_active_centres())
    )
    if principal.role is Role.REGION:
        return model.deleted_at.is_(None)
    if principal.role is Role.CENTRE and principal.org_id:
        return and_(model.deleted_at.is_(None), or_(public, model.centre_id == principal.org_id))
    return and_(model.deleted_at.is_(None), public)


async def _readable(session: AsyncSession, principal: Principal, row: Lab | EntryRow) -> bool:
    if row.deleted_at is not None:
        return False
    if sees_everything_of(principal, row.centre_id):
        return True
    return (
        row.status == EntryStatus.PUBLISHED.value
        and await member_status(session, row.centre_id) == "active"
    )


# -- helpers: flush, ETags, cursors, locations ----------------------------------------------


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as exc:
        raise Conflict("this record was changed meanwhile by another request; retry") from exc
    except IntegrityError as exc:
        raise Conflict("this change conflicts with data written meanwhile; retry") from exc


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, current: str, what: str, *, required: bool) -> None:
    if if_match is None or not if_match.strip():
        if not required:
            return
        raise PreconditionRequired(
            f"updating {what} needs an If-Match header with the ETag you read (GET it first)"
        )
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags or current in tags:  # strong comparison: a weak W/ tag never matches
        return
    raise PreconditionFailed(
        f"{what} changed since you read it: read it again and retry", etag=current
    )


def encode_cursor(created_at: datetime, key: str) -> str:
    raw = json.dumps([created_at.isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def invalid_cursor() -> InvalidInput:
    return InvalidInput(
        "invalid cursor: pass the next_cursor of a previous page",
        errors=[{"field": "cursor", "in": "query", "message": "invalid cursor", "type": "cursor"}],
    )


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, key = json.loads(raw)
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None or not isinstance(key, str):
            raise ValueError("bad cursor")
        return moment, key
    except (ValueError, TypeError, binascii.Error) as exc:
        raise invalid_cursor() from exc


async def _page(
    session: AsyncSession,
    statement: Select,  # type: ignore[type-arg]
    *,
    created: Any,
    key: Any,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """One page of `statement` (of one entity) in (created, key) order."""
    if cursor:
        after_created, after_key = decode_cursor(cursor)
        statement = statement.where(
            or_(created > after_created, and_(created == after_created, key > after_key))
        )
    rows = list((await session.scalars(statement.order_by(created, key).limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(last.created_at, last.id)
    return rows, next_cursor


def _location(province: str, municipality: str) -> taxonomies.Place:
    try:
        return taxonomies.check_location(province, municipality)
    except taxonomies.InvalidLocation as exc:
        raise InvalidInput(
            exc.message,
            errors=[{"field": exc.field, "in": "body", "message": exc.message, "type": "location"}],
        ) from exc


# -- labs -----------------------------------------------------------------------------------


async def _lab(session: AsyncSession, lab_id: str) -> Lab:
    lab = await session.get(Lab, lab_id)
    if lab is None or lab.deleted_at is not None:
        raise NotFound(f"no lab {lab_id}")
    return lab


async def get_lab(session: AsyncSession, *, lab_id: str, principal: Principal) -> Lab:
    lab = await _lab(session, lab_id)
    if not await _readable(session, principal, lab):
        raise NotFound(f"no lab {lab_id}")
    return lab


async def _entries(session: AsyncSession, lab_id: str) -> list[tuple[Kind, EntryRow]]:
    """Every live entry of a lab, oldest first."""
    found: list[tuple[Kind, EntryRow]] = []
    for kind in KINDS.values():
        rows = await session.scalars(
            select(kind.model)
            .where(kind.model.lab_id == lab_id, kind.model.deleted_at.is_(None))
            .order_by(kind.model.created_at, kind.model.id)
        )
        found.extend((kind, cast("EntryRow", row)) for row in rows)
    return found


async def _reindex_lab(session: AsyncSession, lab: Lab) -> dict[str, list[str]]:
    """Rewrite the lab's own document (its tags are its entries'); returns those tags."""
    entries = await _entries(session, lab.id)
    tags = union_tags([(k, e) for k, e in entries if e.deleted_at is None])
    if lab.status == EntryStatus.PUBLISHED.value and lab.deleted_at is None:
        await search.index(session, [lab_document(lab, tags)])
    else:
        await search.unindex(session, [lab.id])
    return tags


async def create_lab(
    session: AsyncSession, *, data: Mapping[str, Any], principal: Principal, now: datetime
) -> Lab:
    centre_id = await require_writer(session, principal)
    return await add_lab(session, centre_id=centre_id, data=data, now=now)


async def add_lab(
    session: AsyncSession,
    *,
    centre_id: str,
    data: Mapping[str, Any],
    now: datetime,
    lab_id: str | None = None,
    external_id: str | None = None,
) -> Lab:
    place = _location(data["province"], data["municipality"])
    lab = Lab(
        id=lab_id or str(uuid7()),
        centre_id=centre_id,
        name=language_map(data["name"]),
        description=language_map(data.get("description")),
        province=place.province,
        municipality=place.municipality,
        accreditations=list(data.get("accreditations") or []),
        access_modes=list(data.get("access_modes") or []),
        contact_email=data.get("contact_email"),
        external_id=external_id,
        status=EntryStatus.DRAFT.value,
        published_at=None,
        created_at=now,
        updated_at=now,
        deleted_at=None,
        version=1,
    )
    session.add(lab)
    await _flush(session)
    return lab


async def _writable_lab(
    session: AsyncSession,
    lab_id: str,
    principal: Principal,
    if_match: str | None,
    *,
    required: bool,
) -> Lab:
    if principal.role is not Role.CENTRE:
        raise Forbidden("only the staff of a member centre may write the catalogue")
    lab = await _lab(session, lab_id)
    await require_writer(session, principal, lab.centre_id)
    check_if_match(if_match, etag(lab.version), "the lab", required=required)
    return lab


async def update_lab(
    session: AsyncSession,
    *,
    lab_id: str,
    changes: Mapping[str, Any],
    if_match: str | None,
    principal: Principal,
    now: datetime,
) -> Lab:
    lab = await _writable_lab(session, lab_id, principal, if_match, required=True)
    await apply_lab_changes(session, lab=lab, changes=changes, actor=Actor.of(principal), now=now)
    return lab


async def apply_lab_changes(
    session: AsyncSession, *, lab: Lab, changes: Mapping[str, Any], actor: Actor, now: datetime
) -> list[str]:
    """Change `lab` (already authorised); the names of the fields that changed."""
    values = dict(changes)
    for name in ("name", "description"):
        if name in values:
            values[name] = language_map(values[name])
    if "province" in values or "municipality" in values:
        place = _location(
            values.get("province", lab.province), values.get("municipality", lab.municipality)
        )
        values["province"], values["municipality"] = place.province, place.municipality
    changed = sorted(k for k, v in values.items() if getattr(lab, k) != v)
    if not changed:
        return changed
    for name in changed:
        setattr(lab, name, values[name])
    lab.updated_at = now
    lab.version += 1
    await _flush(session)
    if lab.status == EntryStatus.PUBLISHED.value:
        tags = await _reindex_lab(session, lab)
        entries = await _entries(session, lab.id)
        await search.index(session, [entry_document(k, e, lab) for k, e in entries])
        await record_event(
            session,
            contracts.LabUpdated(**lab_state(lab, tags, actor), changed=changed),
            subject=lab.id,
            aggregate_version=lab.version,
        )
    return changed


LAB_TRANSITIONS: Mapping[str, Mapping[str, str]] = {
    "publication": {"draft": "published", "withdrawn": "published"},
    "withdrawal": {"published": "withdrawn"},
}


async def change_lab_status(
    session: AsyncSession,
    *,
    lab_id: str,
    action: str,
    if_match: str | None,
    principal: Principal,
    now: datetime,
) -> Lab:
    """Publish or withdraw a lab with its entries (If-Match optional)."""
    lab = await _writable_lab(session, lab_id, principal, if_match, required=False)
    return await transition_lab(session, lab=lab, action=action, actor=Actor.of(principal), now=now)


async def transition_lab(
    session: AsyncSession, *, lab: Lab, action: str, actor: Actor, now: datetime
) -> Lab:
    target = LAB_TRANSITIONS[action].get(lab.status)
    if target is None:
        allowed = [a for a, moves in LAB_TRANSITIONS.items() if lab.status in moves]
        raise Conflict(
            f"{action} is not possible for a {lab.status} lab (allowed: "
            f"{', '.join(allowed) or 'none'})",
            current_status=lab.status,
            allowed=allowed,
        )
    lab.status = target
    lab.updated_at = now
    lab.version += 1
    if target == EntryStatus.PUBLISHED.value:
        lab.published_at = now
    entries = await _entries(session, lab.id)
    for _, entry in entries:
        entry.status = target
        entry.updated_at = now
        entry.version += 1
    await _flush(session)
    tags = await _reindex_lab(session, lab)
    if target == EntryStatus.PUBLISHED.value:
        await record_event(
            session,
            contracts.LabPublished(**lab_state(lab, tags, actor)),
            subject=lab.id,
            aggregate_version=lab.version,
        )
        await search.index(session, [entry_document(k, e, lab) for k, e in entries])
        for kind, entry in entries:
            await _publish_event(session, kind, entry, lab, actor)
            await _duplicates(session, kind, entry, lab, now)
    else:
        await _withdraw(session, lab, entries, tags, actor, "lab_withdrawn")
    return lab


async def _withdraw(
    session: AsyncSession,
    lab: Lab,
    entries: Sequence[tuple[Kind, EntryRow]],
    tags: Mapping[str, list[str]],
    actor: Actor,
    reason: str,
) -> None:
    await search.unindex(session, [lab.id, *(e.id for _, e in entries)])
    await record_event(
        session,
        contracts.LabWithdrawn(**lab_state(lab, tags, actor), reason=reason),
        subject=lab.id,
        aggregate_version=lab.version,
    )
    for kind, entry in entries:
        await record_event(
            session,
            kind.withdrawn(**entry_state(kind, entry, lab, actor), reason=reason),
            subject=entry.id,
            aggregate_version=entry.version,
        )


async def delete_lab(
    session: AsyncSession,
    *,
    lab_id: str,
    if_match: str | None,
    principal: Principal,
    now: datetime,
) -> None:
    """Delete a lab and its entries (softly); a published one leaves the catalogue."""
    lab = await _writable_lab(session, lab_id, principal, if_match, required=False)
    was_published = lab.status == EntryStatus.PUBLISHED.value
    entries = await _entries(session, lab.id)
    tags = union_tags(entries)
    lab.deleted_at = now
    lab.updated_at = now
    lab.version += 1
    for _, entry in entries:
        entry.deleted_at = now
        entry.updated_at = now
        entry.version += 1
    await _flush(session)
    if was_published:
        await _withdraw(session, lab, entries, tags, Actor.of(principal), "lab_deleted")


async def list_labs(
    session: AsyncSession,
    *,
    principal: Principal,
    limit: int,
    cursor: str | None,
    centre: str | None = None,
    province: str | None = None,
    status: EntryStatus | None = None,
) -> tuple[list[Lab], str | None]:
    statement = select(Lab).where(_visibility(principal, Lab))
    if centre:
        statement = statement.where(Lab.centre_id == centre)
    if province:
        statement = statement.where(Lab.province == province.upper())
    if status:
        statement = statement.where(Lab.status == status.value)
    return await _page(
        session, statement, created=Lab.created_at, key=Lab.id, limit=limit, cursor=cursor
    )


# -- entries --------------------------------------------------------------------------------


async def _entry(session: AsyncSession, kind: Kind, entry_id: str) -> EntryRow:
    entry = cast("EntryRow | None", await session.get(kind.model, entry_id))
    if entry is None or entry.deleted_at is not None:
        raise NotFound(f"no {kind.noun} {entry_id}")
    return entry


async def get_entry(
    session: AsyncSession, *, kind: Kind, entry_id: str, principal: Principal
) -> EntryRow:
    entry = await _entry(session, kind, entry_id)
    if not await _readable(session, principal, entry):
        raise NotFound(f"no {kind.noun} {entry_id}")
    return entry


async def _publish_event(
    session: AsyncSession, kind: Kind, entry: EntryRow, lab: Lab, actor: Actor
) -> None:
    await record_event(
        session,
        kind.published(**entry_state(kind, entry, lab, actor)),
        subject=entry.id,
        aggregate_version=entry.version,
    )


async def check_duplicates(
    session: AsyncSession,
    *,
    kind: Kind,
    entry: EntryRow,
    lab: Lab,
    now: datetime,
    batch: SearchBatch | None = None,
) -> list[duplicates.Candidate]:
    """Near-duplicates of a changed entry at other centres (pairs stored if published)."""
    return await _duplicates(session, kind, entry, lab, now, batch=batch)


async def _duplicates(
    session: AsyncSession,
    kind: Kind,
    entry: EntryRow,
    lab: Lab,
    now: datetime,
    *,
    batch: SearchBatch | None = None,
    new: bool = False,
) -> list[duplicates.Candidate]:
    """Near-duplicates at other centres; stored as pairs when the entry is published."""
    candidates = await duplicates.find(
        session,
        entity=kind.entity,
        entry_id=entry.id,
        centre_id=lab.centre_id,
        mine=entry_signature(kind, entry),
        candidates=None
        if batch is None
        else await batch.others_of(session, kind.entity, lab.centre_id),
        new=new,
    )
    if entry.status != EntryStatus.PUBLISHED.value:
        return candidates
    stored, created = await duplicates.record(
        session,
        entity=kind.entity,
        entry_id=entry.id,
        centre_id=lab.centre_id,
        lab_id=lab.id,
        candidates=candidates,
        now=now,
    )
    if batch is None:
        await _flush(session)
    for pair in created:
        await record_event(
            session,
            contracts.DuplicateFound(**pair_state(pair)),
            subject=pair.id,
            aggregate_version=pair.version,
        )
    return stored


async def create_entry(
    session: AsyncSession,
    *,
    kind: Kind,
    lab_id: str,
    data: Mapping[str, Any],
    principal: Principal,
    now: datetime,
) -> tuple[EntryRow, list[duplicates.Candidate]]:
    lab = await _writable_lab(session, lab_id, principal, None, required=False)
    return await add_entry(
        session, kind=kind, lab=lab, data=data, actor=Actor.of(principal), now=now
    )


@dataclass
class SearchBatch:
    """The search-index work of many writes of one transaction (an import's chunk), done once
    by `flush_search` instead of at each write: each entry's document, and each touched lab's
    (whose tags are the union of its entries', so it is rebuilt once, not once per entry)."""

    documents: dict[str, search.Document] = field(default_factory=dict)
    labs: dict[str, Lab] = field(default_factory=dict)
    others: dict[str, list[duplicates.Other]] = field(default_factory=dict)
    """By entity: the other centres' published entries, read once for duplicate detection."""

    async def others_of(
        self, session: AsyncSession, entity: str, centre_id: str
    ) -> list[duplicates.Other]:
        if entity not in self.others:
            self.others[entity] = await duplicates.others(
                session, entity=entity, centre_id=centre_id
            )
        return self.others[entity]

    def add(self, document: search.Document, lab: Lab) -> None:
        self.documents[document.entry_id] = document
        self.labs[lab.id] = lab

    def merge(self, other: SearchBatch) -> None:
        self.documents.update(other.documents)
        self.labs.update(other.labs)
        self.others.update(other.others)


async def flush_search(session: AsyncSession, batch: SearchBatch, *, labs: bool = True) -> None:
    """Write what `batch` collected; `labs=False` leaves the labs' documents to
    `reindex_labs` (an import rebuilds them once, at its end)."""
    await _flush(session)
    await search.index(session, list(batch.documents.values()))
    if labs:
        for lab in batch.labs.values():
            await _reindex_lab(session, lab)
    batch.documents.clear()
    batch.labs.clear()


async def reindex_labs(session: AsyncSession, *, centre_id: str) -> int:
    """Rebuild the search documents of the centre's labs (their tags follow their entries)."""
    labs = (
        await session.scalars(
            select(Lab).where(Lab.centre_id == centre_id, Lab.deleted_at.is_(None))
        )
    ).all()
    for lab in labs:
        await _reindex_lab(session, lab)
    return len(labs)


async def _index_entry(
    session: AsyncSession, kind: Kind, entry: EntryRow, lab: Lab, batch: SearchBatch | None
) -> None:
    document = entry_document(kind, entry, lab)
    if batch is not None:
        batch.add(document, lab)
        return
    await search.index(session, [document])
    await _reindex_lab(session, lab)


async def add_entry(
    session: AsyncSession,
    *,
    kind: Kind,
    lab: Lab,
    data: Mapping[str, Any],
    actor: Actor,
    now: datetime,
    entry_id: str | None = None,
    external_id: str | None = None,
    batch: SearchBatch | None = None,
) -> tuple[EntryRow, list[duplicates.Candidate]]:
    values = column_values(kind, data)
    values.setdefault("tags", tags_of(None))
    entry = kind.model(
        id=entry_id or str(uuid7()),
        lab_id=lab.id,
        centre_id=lab.centre_id,
        external_id=external_id,
        status=lab.status,
        created_at=now,
        updated_at=now,
        deleted_at=None,
        version=1,
        **values,
    )
    session.add(entry)
    if batch is None:  # a batch's rows are flushed together at its end
        await _flush(session)
    if entry.status == EntryStatus.PUBLISHED.value:
        await _index_entry(session, kind, entry, lab, batch)
        await _publish_event(session, kind, entry, lab, actor)
    return entry, await _duplicates(session, kind, entry, lab, now, batch=batch, new=True)


async def _writable_entry(
    session: AsyncSession,
    kind: Kind,
    entry_id: str,
    principal: Principal,
    if_match: str | None,
    *,
    required: bool,
) -> tuple[EntryRow, Lab]:
    if principal.role is not Role.CENTRE:
        raise Forbidden("only the staff of a member centre may write the catalogue")
    entry = await _entry(session, kind, entry_id)
    await require_writer(session, principal, entry.centre_id)
    check_if_match(if_match, etag(entry.version), f"the {kind.noun}", required=required)
    return entry, await _lab(session, entry.lab_id)


async def update_entry(
    session: AsyncSession,
    *,
    kind: Kind,
    entry_id: str,
    changes: Mapping[str, Any],
    if_match: str | None,
    principal: Principal,
    now: datetime,
) -> tuple[EntryRow, list[duplicates.Candidate]]:
    entry, lab = await _writable_entry(session, kind, entry_id, principal, if_match, required=True)
    await apply_entry_changes(
        session,
        kind=kind,
        entry=entry,
        lab=lab,
        changes=changes,
        actor=Actor.of(principal),
        now=now,
    )
    return entry, await _duplicates(session, kind, entry, lab, now)


async def apply_entry_changes(
    session: AsyncSession,
    *,
    kind: Kind,
    entry: EntryRow,
    lab: Lab,
    changes: Mapping[str, Any],
    actor: Actor,
    now: datetime,
    batch: SearchBatch | None = None,
) -> list[str]:
    """Change `entry` (already authorised); the names of the fields that changed."""
    values = column_values(kind, changes)
    if isinstance(entry, Competence):
        low = values.get("trl_min", entry.trl_min)
        high = values.get("trl_max", entry.trl_max)
        if low > high:
            message = f"trl_min ({low}) must not exceed trl_max ({high})"
            raise InvalidInput(
                message,
                errors=[{"field": "trl_max", "in": "body", "message": message, "type": "range"}],
            )
    changed = sorted(k for k, v in values.items() if getattr(entry, k) != v)
    if changed:
        for name in changed:
            setattr(entry, name, values[name])
        entry.updated_at = now
        entry.version += 1
        await _flush(session)
        if entry.status == EntryStatus.PUBLISHED.value:
            await _index_entry(session, kind, entry, lab, batch)
            await record_event(
                session,
                kind.updated(**entry_state(kind, entry, lab, actor), changed=changed),
                subject=entry.id,
                aggregate_version=entry.version,
            )
    return changed


async def delete_entry(
    session: AsyncSession,
    *,
    kind: Kind,
    entry_id: str,
    if_match: str | None,
    principal: Principal,
    now: datetime,
) -> None:
    entry, lab = await _writable_entry(session, kind, entry_id, principal, if_match, required=False)
    entry.deleted_at = now
    entry.updated_at = now
    entry.version += 1
    await _flush(session)
    if entry.status == EntryStatus.PUBLISHED.value:
        await search.unindex(session, [entry.id])
        await _reindex_lab(session, lab)
        await record_event(
            session,
            kind.withdrawn(**entry_state(kind, entry, lab, Actor.of(principal)), reason="deleted"),
            subject=entry.id,
            aggregate_version=entry.version,
        )


@dataclass(frozen=True)
class EntryFilters:
    lab: str | None = None
    centre: str | None = None
    province: str | None = None
    status: EntryStatus | None = None
    trl: int | None = None
    shareable: bool | None = None
    kind: str | None = None
    category: str | None = None
    tags: Mapping[str, Sequence[str]] | None = None


async def list_entries(
    session: AsyncSession,
    *,
    kind: Kind,
    principal: Principal,
    filters: EntryFilters,
    limit: int,
    cursor: str | None,
) -> tuple[list[EntryRow], str | None]:
    model = kind.model
    statement = select(model).where(_visibility(principal, model))
    if filters.lab:
        statement = statement.where(model.lab_id == filters.lab)
    if filters.centre:
        statement = statement.where(model.centre_id == filters.centre)
    if filters.province:
        statement = statement.where(
            model.lab_id.in_(select(Lab.id).where(Lab.province == filters.province.upper()))
        )
    if filters.status:
        statement = statement.where(model.status == filters.status.value)
    if filters.trl is not None and model is Competence:
        statement = statement.where(
            Competence.trl_min <= filters.trl, Competence.trl_max >= filters.trl
        )
    if filters.shareable is not None and model is Equipment:
        statement = statement.where(Equipment.shareable == filters.shareable)
    if filters.category and model is Equipment:
        statement = statement.where(Equipment.category == filters.category)
    if filters.kind and model is ServiceOffering:
        statement = statement.where(ServiceOffering.kind == filters.kind)
    wanted = {d: set(codes) for d, codes in (filters.tags or {}).items() if codes}
    if not wanted:
        return await _page(
            session, statement, created=model.created_at, key=model.id, limit=limit, cursor=cursor
        )
    # Tags are JSON: filter in Python, reading pages until this one is full.
    kept: list[EntryRow] = []
    while True:
        rows, after = await _page(
            session,
            statement,
            created=model.created_at,
            key=model.id,
            limit=MAX_LIMIT,
            cursor=cursor,
        )
        kept.extend(row for row in rows if _has_tags(row, wanted))
        if len(kept) > limit:
            last = kept[limit - 1]
            return kept[:limit], encode_cursor(last.created_at, last.id)
        if after is None:
            return kept, None
        cursor = after


def _has_tags(row: EntryRow, wanted: Mapping[str, set[str]]) -> bool:
    for dimension, codes in wanted.items():
        closure = taxonomies.closure(dimension, row.tags.get(dimension, []))
        if not closure & codes:
            return False
    return True


# -- duplicates -----------------------------------------------------------------------------


def _require_committee(principal: Principal) -> None:
    if principal.role not in (Role.REGION, Role.CENTRE):
        raise Forbidden("duplicate pairs are for the Region and the member centres")


async def list_pairs(
    session: AsyncSession,
    *,
    principal: Principal,
    status: PairStatus,
    entity: str | None,
    centre: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[DuplicatePair], str | None]:
    """Pairs whose two entries are both still published."""
    _require_committee(principal)
    live = select(SearchDocument.entry_id)
    statement = select(DuplicatePair).where(
        DuplicatePair.status == status.value,
        DuplicatePair.a_id.in_(live),
        DuplicatePair.b_id.in_(live),
    )
    if entity:
        statement = statement.where(DuplicatePair.entity == entity)
    if centre:
        statement = statement.where(
            or_(DuplicatePair.a_centre_id == centre, DuplicatePair.b_centre_id == centre)
        )
    return await _page(
        session,
        statement,
        created=DuplicatePair.created_at,
        key=DuplicatePair.id,
        limit=limit,
        cursor=cursor,
    )


async def get_pair(session: AsyncSession, *, pair_id: str, principal: Principal) -> DuplicatePair:
    _require_committee(principal)
    pair = await session.get(DuplicatePair, pair_id)
    if pair is None:
        raise NotFound(f"no duplicate pair {pair_id}")
    return pair


async def decide_pair(
    session: AsyncSession,
    *,
    model: type[Any],
    pair_id: str,
    resolution: str,
    principal: Principal,
    now: datetime,
    noun: str,
) -> tuple[Any, Actor]:
    """Record the committee's decision on an open pair (duplicates, overlapping initiatives):
    the Region only (403), an existing pair (404), once (409). The caller records the event."""
    if principal.role is not Role.REGION:
        raise Forbidden(f"only the Region records the committee's decision on a {noun}")
    pair = await session.get(model, pair_id)
    if pair is None:
        raise NotFound(f"no {noun} {pair_id}")
    if pair.status != "open":
        raise Conflict(
            f"this {noun} was already resolved as {pair.status}", current_status=pair.status
        )
    actor = Actor.of(principal)
    pair.status = resolution
    pair.resolved_at = now
    pair.resolved_by_role, pair.resolved_by_org_id = actor.role, actor.org_id
    pair.resolved_by_key_id = actor.key_id
    pair.updated_at = now
    pair.version += 1
    await _flush(session)
    return pair, actor


async def resolve_pair(
    session: AsyncSession,
    *,
    pair_id: str,
    resolution: PairStatus,
    principal: Principal,
    now: datetime,
) -> DuplicatePair:
    """The committee's decision, recorded by the Region: `distinct` or `shared`."""
    pair: DuplicatePair
    pair, actor = await decide_pair(
        session,
        model=DuplicatePair,
        pair_id=pair_id,
        resolution=resolution.value,
        principal=principal,
        now=now,
        noun="duplicate pair",
    )
    await record_event(
        session,
        contracts.DuplicateResolved(
            **pair_state(pair),
            resolution=cast("Any", resolution.value),
            actor=actor.contract(),
        ),
        subject=pair.id,
        aggregate_version=pair.version,
    )
    return pair
