"""HTTP routes of catalogue imports and exports (mounted with the catalog's routes).

This module does not use postponed annotations: FastAPI reads the form parameters' types.
"""

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile

from kernel.deps import PrincipalDep, SessionDep
from kernel.errors import Forbidden, InvalidInput
from kernel.openapi import problems
from kernel.principal import Role
from services.catalog.models import ImportJob
from services.catalog.schemas import (
    Entity,
    ExportFormat,
    ImportFieldOut,
    ImportOut,
    ImportStatus,
    Page,
    RowProblem,
)
from services.catalog.transfer import cerif, exporting, exports, jobs
from services.catalog.transfer.exporting import Locale
from services.catalog.transfer.fields import FIELDS

router = APIRouter()

MAPPING_MAX = 20_000
"""Characters of the `mapping` form field."""


def _counters(counts: ImportJob | jobs.Tally) -> dict[str, Any]:
    """What a job and a dry run's tally both count."""
    return {
        "rows_done": counts.rows_ok + counts.rows_failed,
        "rows_ok": counts.rows_ok,
        "rows_failed": counts.rows_failed,
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "errors": [RowProblem.model_validate(e) for e in counts.errors],
    }


def job_out(job: ImportJob) -> ImportOut:
    return ImportOut(
        id=job.id,
        centre_id=job.centre_id,
        entity=Entity(job.entity),
        status=ImportStatus(job.status),
        dry_run=False,
        publish=job.publish,
        filename=job.filename,
        mapping=job.mapping,
        unmapped_headers=[],
        rows_total=job.rows_total,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        **_counters(job),
    )


def dry_run_out(report: jobs.DryRun, *, publish: bool, now: datetime) -> ImportOut:
    return ImportOut(
        id=None,
        centre_id=report.centre_id,
        entity=Entity(report.entity),
        status=ImportStatus.VALIDATED,
        dry_run=True,
        publish=publish,
        filename=report.filename,
        mapping=report.mapping,
        unmapped_headers=report.unmapped_headers,
        rows_total=report.rows_total,
        created_at=now,
        started_at=now,
        finished_at=now,
        **_counters(report.tally),
    )


def _mapping(text: str | None) -> dict[str, str | None] | None:
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"mapping is not JSON: {exc.msg} at character {exc.pos}"
        raise InvalidInput(
            message,
            errors=[{"field": "mapping", "in": "body", "message": message, "type": "mapping"}],
        ) from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items()
    ):
        message = 'mapping is a JSON object from column header to field, e.g. {"Nome": "name_it"}'
        raise InvalidInput(
            message,
            errors=[{"field": "mapping", "in": "body", "message": message, "type": "mapping"}],
        )
    return value


@router.post(
    "/imports",
    status_code=202,
    tags=["imports"],
    responses={
        200: {"model": ImportOut, "description": "The report of a dry run."},
        **problems(403, 409, 413),
    },
)
async def submit_import(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    file: Annotated[
        UploadFile,
        File(
            description="CSV (UTF-8, UTF-8 with BOM or Windows-1252; "
            "`;` or `,`) or XLSX (the first sheet)."
        ),
    ],
    entity: Annotated[Entity, Form(description="What each row is.")],
    centre_id: Annotated[
        str | None,
        Form(max_length=36, description="The centre whose catalogue it is (default: yours)."),
    ] = None,
    dry_run: Annotated[
        bool, Form(description="Validate and report what would happen; write nothing.")
    ] = False,
    mapping: Annotated[
        str | None,
        Form(
            max_length=MAPPING_MAX,
            description="JSON object from column header to field (`GET /imports/fields`), "
            'e.g. {"Nome strumento": "name_it", "Note": null}. Saved for the centre\'s next '
            "file; columns it does not name are guessed from their headers.",
        ),
    ] = None,
    publish: Annotated[
        bool, Form(description="Labs: publish each lab once imported (their entries follow).")
    ] = False,
) -> ImportOut:
    """Import a spreadsheet of labs, competences, equipment or services into a centre's
    catalogue (the centre's staff for itself, or the Region for any member centre).

    A dry run answers the report at once (200). Otherwise the import runs as a job (202, its
    URL in `Location`): `GET /imports/{id}` follows it. Rows are matched by the centre's own
    identifiers (`external_id`): importing the same file again changes nothing."""
    if principal.role not in (Role.CENTRE, Role.REGION):
        raise Forbidden("only a member centre (for itself) or the Region may import")
    if centre_id is None:
        if principal.role is not Role.CENTRE or not principal.org_id:
            raise InvalidInput(
                "centre_id is required (the Region imports for a centre)",
                errors=[
                    {"field": "centre_id", "in": "body", "message": "required", "type": "missing"}
                ],
            )
        centre_id = principal.org_id
    await jobs.authorise(session, principal, centre_id)
    content = await file.read()
    clock = request.app.state.clock
    prepared = await jobs.prepare(
        session,
        centre_id=centre_id,
        entity=entity.value,
        content=content,
        filename=file.filename,
        content_type=file.content_type,
        given_mapping=_mapping(mapping),
    )
    if dry_run:
        report = await jobs.dry_run(
            session,
            centre_id=centre_id,
            entity=entity.value,
            filename=file.filename,
            prepared=prepared,
        )
        await session.rollback()
        response.status_code = 200
        return dry_run_out(report, publish=publish, now=clock())
    job = await jobs.enqueue(
        session,
        centre_id=centre_id,
        entity=entity.value,
        filename=file.filename,
        content=content,
        prepared=prepared,
        publish=publish,
        principal=principal,
        now=clock(),
    )
    await session.commit()
    worker: jobs.ImportWorker | None = getattr(request.app.state, "import_worker", None)
    if worker is not None:
        worker.notify()
    response.headers["Location"] = f"imports/{job.id}"
    return job_out(job)


@router.get("/imports", tags=["imports"], responses=problems(403))
async def list_imports(
    session: SessionDep,
    principal: PrincipalDep,
    centre_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page[ImportOut]:
    """The latest imports of your centre (the Region: of every centre, or of `centre_id`)."""
    rows = await jobs.list_jobs(session, principal=principal, centre_id=centre_id, limit=limit)
    return Page[ImportOut](items=[job_out(job) for job in rows], next_cursor=None)


@router.get("/imports/fields", tags=["imports"])
async def import_fields(
    _: PrincipalDep, entity: Annotated[Entity, Query()] = Entity.LAB
) -> Page[ImportFieldOut]:
    """The fields a column may be mapped to, and the headers recognised for each."""
    items = [
        ImportFieldOut(
            name=f.name,
            kind=f.kind.value,
            required=f.required,
            synonyms=list(f.synonyms),
            taxonomy=f.dimension,
        )
        for f in FIELDS[entity.value]
    ]
    return Page[ImportFieldOut](items=items, next_cursor=None)


@router.get("/imports/{import_id}", tags=["imports"], responses=problems(404))
async def get_import(
    import_id: Annotated[str, Path(max_length=36)], session: SessionDep, principal: PrincipalDep
) -> ImportOut:
    """An import: its status, counters and every row's problems."""
    return job_out(await jobs.get_job(session, job_id=import_id, principal=principal))


EXPORT_TYPES = {
    ExportFormat.CSV: ("text/csv; charset=utf-8", "csv"),
    ExportFormat.XLSX: (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    ExportFormat.JSON: ("application/json", "json"),
    ExportFormat.CERIF: ("application/xml", "xml"),
}


@router.get(
    "/exports",
    tags=["exports"],
    responses={
        200: {
            "description": "The file (CSV, XLSX, JSON, or CERIF-XML).",
            "content": {media: {} for media, _ in EXPORT_TYPES.values()},
        }
    },
)
async def export_catalogue(
    request: Request,
    session: SessionDep,
    _: PrincipalDep,
    format: Annotated[ExportFormat, Query(description="csv, xlsx, json or cerif.")],
    centre: Annotated[
        str | None, Query(max_length=36, description="One centre's catalogue (default: all).")
    ] = None,
    entity: Annotated[
        Entity | None,
        Query(description="CSV: which entity (default lab); XLSX and JSON: only it."),
    ] = None,
    locale: Annotated[
        Locale,
        Query(description="CSV: `it` (`;`, decimal comma, UTF-8 with BOM) or `en` (`,`)."),
    ] = "it",
) -> Response:
    """The published catalogue as a file a person can open: CSV or XLSX (the columns of
    `GET /imports/fields`: an export imports again unchanged), JSON (labs with their entries,
    as the API shows them) or CERIF-XML (equipment, OpenAIRE Guidelines for CRIS Managers)."""
    clock = request.app.state.clock
    now = clock()
    catalogue = await exports.published(session, centre_id=centre)
    settings = request.app.state.settings
    if format is ExportFormat.CSV:
        chosen = (entity or Entity.LAB).value
        content = exporting.to_csv(chosen, catalogue.records(chosen), locale=locale)
        suffix = chosen
    elif format is ExportFormat.XLSX:
        chosen_entities = [entity.value] if entity else list(FIELDS)
        content = exporting.to_xlsx({e: catalogue.records(e) for e in chosen_entities})
        suffix = entity.value if entity else "all"
    elif format is ExportFormat.JSON:
        content = exports.as_json(catalogue, generated_at=now, centre_id=centre)
        suffix = "all"
    else:
        content = cerif.equipment_xml(
            catalogue.equipment_items(base_url=settings.public_url), generated_at=now
        )
        suffix = "equipment"
    media, extension = EXPORT_TYPES[format]
    name = f"clock-catalogue-{centre or 'all'}-{suffix}-{now:%Y%m%d}.{extension}"
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
