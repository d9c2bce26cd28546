"""Import jobs: a spreadsheet into a centre's catalogue.

`submit` reads the file, resolves the column mapping and converts every row at once, so a bad
file or mapping is a 422 before anything is stored. A dry run stops there and answers the
report (what would be created, updated or left unchanged, and every row's problems). A real
import stores the file as a queued job and answers 202; a worker in every replica
(`ImportWorker`) claims queued jobs, and jobs whose worker stopped beating, and applies the rows
in chunks: one transaction per chunk, a savepoint per row (a row that fails leaves nothing
behind), the job's counters and `next_row` committed with the chunk, so a replica taking over
resumes where the chunk stopped.

Rows are matched by the centre's own identifier (`external_id`): a known one updates its entry
(only the fields whose columns the file has), an unknown one creates an entry, and an entry
whose mapped fields are equal is unchanged (no write, no event).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from uuid6 import uuid7

from kernel.errors import DomainError, Forbidden, InvalidInput, NotFound
from kernel.outbox import outbox_batch
from kernel.principal import Principal, Role
from services.catalog import service
from services.catalog.entries import KINDS, Actor, column_values, language_map
from services.catalog.models import ImportJob, ImportMapping, Lab, Member
from services.catalog.schemas import EntryStatus
from services.catalog.transfer.convert import MODELS as INPUTS
from services.catalog.transfer.convert import Converted, convert_rows
from services.catalog.transfer.mapping import Problem, resolve_mapping
from services.catalog.transfer.reading import Table, UnreadableFile, read_table

log = logging.getLogger(__name__)

QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"
CHUNK_ROWS = 250
"""Rows applied per transaction (a savepoint each)."""
STALE_AFTER = timedelta(seconds=60)
"""A running job whose worker has not beaten for this long is taken over."""
MAX_FAILURES = 3
"""Times a job may fail as a whole in one worker before it is marked failed."""
MAX_ERRORS = 5000
"""Problems kept per job (the counters stay exact beyond)."""
Outcome = Literal["created", "updated", "unchanged"]


@dataclass
class Tally:
    rows_ok: int = 0
    rows_failed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def ok(self, outcome: Outcome) -> None:
        self.rows_ok += 1
        setattr(self, outcome, getattr(self, outcome) + 1)

    def failed(self, problems: Sequence[Problem]) -> None:
        self.rows_failed += 1
        room = MAX_ERRORS - len(self.errors)
        self.errors.extend(p.as_dict() for p in problems[: max(0, room)])


@dataclass
class DryRun:
    """The report of a dry run: the shape of a job, nothing stored."""

    centre_id: str
    entity: str
    filename: str | None
    mapping: dict[str, str]
    unmapped_headers: list[str]
    rows_total: int
    tally: Tally


# -- who may import ---------------------------------------------------------------------------


async def authorise(session: AsyncSession, principal: Principal, centre_id: str) -> None:
    """A centre imports into its own catalogue (an active member); the Region into any active
    member centre's."""
    if principal.role is Role.CENTRE:
        await service.require_writer(session, principal, centre_id)
        return
    if principal.role is not Role.REGION:
        raise Forbidden("only a member centre (for itself) or the Region may import")
    member = await session.get(Member, centre_id)
    if member is None or member.status != "active":
        state = "not a member" if member is None else f"a {member.status} member"
        raise InvalidInput(
            f"centre {centre_id} is {state}: imports go to active member centres",
            errors=[
                {
                    "field": "centre_id",
                    "in": "body",
                    "message": f"centre is {state}",
                    "type": "membership",
                }
            ],
        )


# -- submission -------------------------------------------------------------------------------


@dataclass
class Prepared:
    table: Table
    mapping: dict[str, str]
    unmapped_headers: list[str]
    rows: list[Converted]


async def prepare(
    session: AsyncSession,
    *,
    centre_id: str,
    entity: str,
    content: bytes,
    filename: str | None,
    content_type: str | None,
    given_mapping: Mapping[str, str | None] | None,
) -> Prepared:
    """The file read, its mapping resolved and every row converted; 422 when the file or the
    mapping cannot be used at all."""
    try:
        table = read_table(content, filename=filename, content_type=content_type)
    except UnreadableFile as exc:
        raise InvalidInput(
            f"the file cannot be read: {exc}",
            errors=[{"field": "file", "in": "body", "message": str(exc), "type": "file"}],
        ) from None
    saved = await session.get(ImportMapping, (centre_id, entity))
    resolution = resolve_mapping(
        entity, table.headers, given_mapping, saved.mapping if saved else None
    )
    if resolution.problems:
        raise InvalidInput(
            "the columns of the file cannot be mapped: "
            + "; ".join(p.problem for p in resolution.problems),
            errors=[
                {
                    "field": "mapping",
                    "in": "body",
                    "message": p.problem,
                    "type": "mapping",
                    **p.as_dict(),
                }
                for p in resolution.problems
            ],
        )
    rows = convert_rows(entity, table, resolution.mapping)
    _flag_repeated_identifiers(rows, resolution.mapping)
    return Prepared(table, dict(resolution.mapping), list(resolution.unmapped_headers), rows)


def _flag_repeated_identifiers(rows: Sequence[Converted], mapping: Mapping[str, str]) -> None:
    """A second row with the same identifier is a problem (it would overwrite the first)."""
    column = next((h for h, f in mapping.items() if f == "external_id"), None)
    first: dict[str, int] = {}
    for row in rows:
        if row.external_id is None:
            continue
        if row.external_id in first:
            row.problems.append(
                Problem(
                    row.row,
                    column,
                    row.external_id,
                    f"the identifier {row.external_id!r} is also in row {first[row.external_id]}",
                )
            )
            row.payload = None
        else:
            first[row.external_id] = row.row


async def dry_run(
    session: AsyncSession, *, centre_id: str, entity: str, filename: str | None, prepared: Prepared
) -> DryRun:
    """What the import would do, row by row, without writing."""
    tally = Tally()
    mapped = set(prepared.mapping.values())
    labs = _LabResolver(session, centre_id)
    known = await _existing_many(
        session, centre_id, entity, [r.external_id for r in prepared.rows if r.valid]
    )
    for row in prepared.rows:
        if not row.valid:
            tally.failed(row.problems)
            continue
        try:
            outcome = await _preview(entity, row, mapped, labs, known)
        except DomainError as exc:
            tally.failed([_problem(row, prepared.mapping, exc)])
            continue
        tally.ok(outcome)
    return DryRun(
        centre_id,
        entity,
        filename,
        prepared.mapping,
        prepared.unmapped_headers,
        len(prepared.rows),
        tally,
    )


async def enqueue(
    session: AsyncSession,
    *,
    centre_id: str,
    entity: str,
    filename: str | None,
    content: bytes,
    prepared: Prepared,
    publish: bool,
    principal: Principal,
    now: datetime,
) -> ImportJob:
    """Store the job (the API commits) and remember the mapping for the centre's next file."""
    job = ImportJob(
        id=str(uuid7()),
        centre_id=centre_id,
        entity=entity,
        status=QUEUED,
        filename=filename,
        content=content,
        mapping=prepared.mapping,
        publish=publish,
        rows_total=len(prepared.rows),
        next_row=0,
        rows_ok=0,
        rows_failed=0,
        created=0,
        updated=0,
        unchanged=0,
        errors=[],
        requested_by_role=principal.role.value,
        requested_by_org_id=principal.org_id,
        requested_by_key_id=principal.key_id,
        claimed_by=None,
        heartbeat_at=None,
        created_at=now,
        started_at=None,
        finished_at=None,
    )
    session.add(job)
    saved = await session.get(ImportMapping, (centre_id, entity))
    if saved is None:
        session.add(
            ImportMapping(
                centre_id=centre_id, entity=entity, mapping=prepared.mapping, updated_at=now
            )
        )
    else:
        saved.mapping = {**saved.mapping, **prepared.mapping}
        saved.updated_at = now
    await session.flush()
    return job


async def get_job(session: AsyncSession, *, job_id: str, principal: Principal) -> ImportJob:
    job = await session.get(ImportJob, job_id)
    if job is None or not service.sees_everything_of(principal, job.centre_id):
        raise NotFound(f"no import {job_id}")
    return job


async def list_jobs(
    session: AsyncSession, *, principal: Principal, centre_id: str | None, limit: int
) -> list[ImportJob]:
    query = select(ImportJob).order_by(ImportJob.created_at.desc(), ImportJob.id.desc())
    if principal.role is Role.CENTRE and principal.org_id:
        query = query.where(ImportJob.centre_id == principal.org_id)
    elif principal.role is not Role.REGION:
        raise Forbidden("imports are seen by their centre and the Region")
    if centre_id is not None:
        query = query.where(ImportJob.centre_id == centre_id)
    return list((await session.scalars(query.limit(limit))).all())


# -- applying a row ---------------------------------------------------------------------------


class _LabResolver:
    """The lab an entry row names: by the centre's identifier, CLOCK id or exact Italian name."""

    def __init__(self, session: AsyncSession, centre_id: str) -> None:
        self.session = session
        self.centre_id = centre_id
        self._cache: dict[str, Lab] = {}

    async def get(self, reference: str) -> Lab:
        if reference in self._cache:
            return self._cache[reference]
        live = (Lab.centre_id == self.centre_id, Lab.deleted_at.is_(None))
        lab = await self.session.scalar(select(Lab).where(*live, Lab.external_id == reference))
        if lab is None:
            lab = await self.session.scalar(select(Lab).where(*live, Lab.id == reference))
        if lab is None:
            named = (await self.session.scalars(select(Lab).where(*live).limit(10_000))).all()
            matches = [lab for lab in named if lab.name.get("it") == reference]
            lab = matches[0] if len(matches) == 1 else None
        if lab is None:
            raise NotFound(f"no lab of this centre has the identifier or name {reference!r}")
        self._cache[reference] = lab
        return lab


def _updates(data: BaseModel, mapped: set[str], current: Any) -> dict[str, Any]:
    """The fields a row sets on an existing row: those whose columns the file has (a
    language or a tag dimension without its column keeps what it was)."""
    values: dict[str, Any] = {}
    dumped = data.model_dump(mode="python")
    for name, value in dumped.items():
        if name == "tags":
            dimensions = {f.removeprefix("tags_") for f in mapped if f.startswith("tags_")}
            if dimensions:
                tags = dict(current.tags or {})
                tags.update({d: list(value.get(d) or []) for d in dimensions})
                values["tags"] = tags
        elif f"{name}_it" in mapped or f"{name}_en" in mapped:
            text = dict(getattr(current, name) or {})
            for language in ("it", "en"):
                if f"{name}_{language}" in mapped:
                    new = (value or {}).get(language)
                    if new:
                        text[language] = new
                    else:
                        text.pop(language, None)
            values[name] = text
        elif name in mapped:
            values[name] = value
    return values


def _lab_differs(lab: Lab, values: Mapping[str, Any]) -> bool:
    for name, value in values.items():
        if name in ("name", "description"):
            value = language_map(value)
        if getattr(lab, name) != value:
            return True
    return False


async def _existing_many(
    session: AsyncSession, centre_id: str, entity: str, external_ids: Sequence[str | None]
) -> dict[str, Any]:
    """The live rows of the centre with these identifiers, by identifier."""
    model: Any = Lab if entity == "lab" else KINDS[entity].model
    wanted = sorted({i for i in external_ids if i is not None})
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):  # bounded IN lists
        rows = await session.scalars(
            select(model).where(
                model.centre_id == centre_id,
                model.external_id.in_(wanted[start : start + 500]),
                model.deleted_at.is_(None),
            )
        )
        found.update({row.external_id: row for row in rows})
    return found


async def _preview(
    entity: str,
    row: Converted,
    mapped: set[str],
    labs: _LabResolver,
    known: Mapping[str, Any],
) -> Outcome:
    assert row.payload is not None and row.external_id is not None
    data = INPUTS[entity].model_validate(row.payload)
    lab = None
    if entity != "lab":
        assert row.lab_ref is not None
        lab = await labs.get(row.lab_ref)
    current = known.get(row.external_id)
    if current is None:
        return "created"
    if lab is not None and current.lab_id != lab.id:
        raise _moved(row)
    values = _updates(data, mapped, current)
    if entity == "lab":
        values = _normalised_place(values, current)
        return "updated" if _lab_differs(current, values) else "unchanged"
    converted = column_values(KINDS[entity], values)
    changed = any(getattr(current, k) != v for k, v in converted.items())
    return "updated" if changed else "unchanged"


def _normalised_place(values: dict[str, Any], lab: Lab) -> dict[str, Any]:
    if "province" in values or "municipality" in values:
        from services.catalog import taxonomies

        place = taxonomies.check_location(
            values.get("province", lab.province), values.get("municipality", lab.municipality)
        )
        values = {**values, "province": place.province, "municipality": place.municipality}
    return values


async def apply_row(
    session: AsyncSession,
    *,
    job: ImportJob,
    row: Converted,
    labs: _LabResolver,
    known: dict[str, Any],
    actor: Actor,
    now: datetime,
    batch: service.SearchBatch,
) -> Outcome:
    """Create, update or leave one entry (the caller holds a savepoint; the search index is
    written with `batch`, once per chunk)."""
    assert row.payload is not None and row.external_id is not None
    entity = job.entity
    data = INPUTS[entity].model_validate(row.payload)
    mapped = set(job.mapping.values())
    current = known.get(row.external_id)
    if entity == "lab":
        if current is None:
            lab = await service.add_lab(
                session,
                centre_id=job.centre_id,
                data=dict(data),
                now=now,
                external_id=row.external_id,
            )
            known[row.external_id] = lab
            outcome: Outcome = "created"
        else:
            lab = current
            changed = await service.apply_lab_changes(
                session, lab=lab, changes=_updates(data, mapped, lab), actor=actor, now=now
            )
            outcome = "updated" if changed else "unchanged"
        if job.publish and lab.status != EntryStatus.PUBLISHED.value:
            await service.transition_lab(
                session, lab=lab, action="publication", actor=actor, now=now
            )
            outcome = "updated" if outcome == "unchanged" else outcome
        await session.flush()
        return outcome
    kind = KINDS[entity]
    assert row.lab_ref is not None
    lab = await labs.get(row.lab_ref)
    if current is None:
        entry, _ = await service.add_entry(
            session,
            kind=kind,
            lab=lab,
            data=dict(data),
            actor=actor,
            now=now,
            external_id=row.external_id,
            batch=batch,
        )
        known[row.external_id] = entry
        return "created"
    if current.lab_id != lab.id:
        raise _moved(row)
    changed = await service.apply_entry_changes(
        session,
        kind=kind,
        entry=current,
        lab=lab,
        changes=_updates(data, mapped, current),
        actor=actor,
        now=now,
        batch=batch,
    )
    if not changed:
        return "unchanged"
    await service.check_duplicates(session, kind=kind, entry=current, lab=lab, now=now, batch=batch)
    return "updated"


def _moved(row: Converted) -> InvalidInput:
    message = (
        f"the entry {row.external_id!r} belongs to another lab: an import does not move "
        "entries between labs (delete it and import it again)"
    )
    return InvalidInput(
        message, errors=[{"field": "lab", "in": "body", "message": message, "type": "lab"}]
    )


def _problem(row: Converted, mapping: Mapping[str, str], exc: DomainError) -> Problem:
    """A domain error of one row as a problem on the column it concerns, if one does."""
    field_name = None
    errors = getattr(exc, "errors", None) or []
    if errors:
        field_name = errors[0].get("field")
    if isinstance(exc, NotFound):
        field_name = "lab"
    column = next(
        (
            header
            for header, name in mapping.items()
            if field_name and (name == field_name or name.startswith(f"{field_name}_"))
        ),
        None,
    )
    return Problem(row.row, column, None, exc.detail)


# -- the worker -------------------------------------------------------------------------------


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class ImportWorker:
    """Runs the queued import jobs of the catalogue, in every replica; a job is claimed by one
    of them at a time (an UPDATE that only one wins)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Any,
        poll_interval: float = 2.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.poll_interval = poll_interval
        self.id = worker_id()
        self._wake = asyncio.Event()
        self._failures: dict[str, int] = {}

    def notify(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            job_id = None
            try:
                job_id = await self._claim()
                if job_id is not None:
                    await self._run(job_id)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away: try again at the next poll
                log.exception("import worker failed", extra={"job": job_id})
                if job_id is not None:
                    await self._give_up_after_failures(job_id)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _give_up_after_failures(self, job_id: str) -> None:
        """A job that fails MAX_FAILURES times in this worker (not a row: the job itself) ends
        as failed rather than being retried for ever."""
        self._failures[job_id] = self._failures.get(job_id, 0) + 1
        try:
            if self._failures[job_id] < MAX_FAILURES:
                await self._release(job_id)  # queued again: this or another worker retries
            else:
                await self._finish(
                    job_id, FAILED, problem="the import stopped on an internal error (the log says)"
                )
        except Exception:
            log.exception("could not release or end the import", extra={"job": job_id})

    async def _release(self, job_id: str) -> None:
        async with self.sessionmaker() as session:
            await session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.claimed_by == self.id)
                .values(status=QUEUED, claimed_by=None)
            )
            await session.commit()

    async def _claim(self) -> str | None:
        now = self.clock()
        async with self.sessionmaker() as session:
            candidates = (
                await session.scalars(
                    select(ImportJob.id)
                    .where(
                        or_(
                            ImportJob.status == QUEUED,
                            (ImportJob.status == RUNNING)
                            & (ImportJob.heartbeat_at < now - STALE_AFTER),
                        )
                    )
                    .order_by(ImportJob.created_at)
                    .limit(5)
                )
            ).all()
            for job_id in candidates:
                result = await session.execute(
                    update(ImportJob)
                    .where(
                        ImportJob.id == job_id,
                        or_(
                            ImportJob.status == QUEUED,
                            (ImportJob.status == RUNNING)
                            & (ImportJob.heartbeat_at < now - STALE_AFTER),
                        ),
                    )
                    .values(status=RUNNING, claimed_by=self.id, heartbeat_at=now)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    await session.commit()
                    return job_id
            await session.rollback()
        return None

    async def _run(self, job_id: str) -> None:
        async with self.sessionmaker() as session:
            job = await session.get(ImportJob, job_id)
            assert job is not None
            if job.started_at is None:
                job.started_at = self.clock()
            content = job.content or b""
            await session.commit()
        try:
            table = read_table(content, filename=None, content_type=None)
        except UnreadableFile as exc:  # it was read at submission: only a broken store
            await self._finish(job_id, FAILED, problem=f"the stored file cannot be read: {exc}")
            return
        async with self.sessionmaker() as session:
            job = await session.get(ImportJob, job_id)
            assert job is not None
            rows = convert_rows(job.entity, table, job.mapping)
            _flag_repeated_identifiers(rows, job.mapping)
        start = job.next_row
        while start < len(rows):
            chunk = rows[start : start + CHUNK_ROWS]
            if not await self._apply_chunk(job_id, chunk, start + len(chunk)):
                return  # another worker took the job over
            start += len(chunk)
        await self._finish(job_id, COMPLETED)

    async def _apply_chunk(self, job_id: str, chunk: Sequence[Converted], next_row: int) -> bool:
        """Apply a chunk in one transaction: first all rows at once (they were validated); if
        one fails there, again with a savepoint per row, so that only it is left out."""
        async with self.sessionmaker() as session:
            for savepoints in (False, True):
                job = await session.get(ImportJob, job_id)
                if job is None or job.claimed_by != self.id or job.status != RUNNING:
                    await session.rollback()
                    return False
                try:
                    if savepoints:
                        tally = await self._apply_rows(session, job, chunk, savepoints=True)
                    else:
                        async with outbox_batch(session):
                            tally = await self._apply_rows(session, job, chunk, savepoints=False)
                except (DomainError, ValidationError, IntegrityError):
                    await session.rollback()
                    continue
                job.rows_ok += tally.rows_ok
                job.rows_failed += tally.rows_failed
                job.created += tally.created
                job.updated += tally.updated
                job.unchanged += tally.unchanged
                job.errors = tally.errors
                job.next_row = next_row
                job.heartbeat_at = self.clock()
                await session.commit()
                return True
        raise AssertionError("unreachable: with savepoints, row failures are counted")

    async def _apply_rows(
        self,
        session: AsyncSession,
        job: ImportJob,
        chunk: Sequence[Converted],
        *,
        savepoints: bool,
    ) -> Tally:
        actor = Actor(job.requested_by_role, job.requested_by_org_id, job.requested_by_key_id)
        labs = _LabResolver(session, job.centre_id)
        known = await _existing_many(
            session, job.centre_id, job.entity, [r.external_id for r in chunk if r.valid]
        )
        tally = Tally(errors=list(job.errors))
        now = self.clock()
        done = service.SearchBatch()
        for row in chunk:
            if not row.valid:
                tally.failed(row.problems)
                continue
            # Kept only if the row is; the other centres' entries are read once per chunk.
            batch = service.SearchBatch(others=done.others)
            if not savepoints:
                outcome = await apply_row(
                    session,
                    job=job,
                    row=row,
                    labs=labs,
                    known=known,
                    actor=actor,
                    now=now,
                    batch=batch,
                )
            else:
                try:
                    async with session.begin_nested():
                        outcome = await apply_row(
                            session,
                            job=job,
                            row=row,
                            labs=labs,
                            known=known,
                            actor=actor,
                            now=now,
                            batch=batch,
                        )
                except DomainError as exc:
                    tally.failed([_problem(row, job.mapping, exc)])
                    continue
                except (ValidationError, IntegrityError) as exc:  # e.g. a concurrent import
                    log.warning("import row failed", extra={"job": job.id, "row": row.row})
                    tally.failed([Problem(row.row, None, None, f"not applied: {exc}"[:500])])
                    continue
            done.merge(batch)
            tally.ok(outcome)
        await service.flush_search(session, done, labs=False)  # at the job's end
        return tally

    async def _finish(self, job_id: str, status: str, *, problem: str | None = None) -> None:
        async with self.sessionmaker() as session:
            job = await session.get(ImportJob, job_id)
            if job is None or job.claimed_by != self.id:
                return
            if status == COMPLETED and job.entity != "lab":
                await service.reindex_labs(session, centre_id=job.centre_id)
            job.status = status
            job.finished_at = self.clock()
            job.content = None  # the file is not kept once imported
            if problem is not None:
                job.errors = [*job.errors, Problem(None, None, None, problem).as_dict()]
            await session.commit()
        log.info("import finished", extra={"job": job_id, "status": status})
