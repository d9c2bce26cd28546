"""HTTP routes of the catalog service (mounted by the gateway at /api/v1/catalog).

Thin: parse, call the service, commit, shape the response. The rules live in `service`.
The routes of competences, equipment and service offerings are alike and made by one factory
(so this module does not use postponed annotations: FastAPI reads them at definition).
"""

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel

from kernel.deps import PrincipalDep, SessionDep
from kernel.errors import InvalidInput, NotFound
from kernel.openapi import problems
from services.catalog import entries, search, service, taxonomies
from services.catalog.duplicates import Candidate
from services.catalog.models import DuplicatePair, Lab
from services.catalog.schemas import (
    ActorOut,
    CompetenceIn,
    CompetenceOut,
    CompetencePatch,
    CompetenceWritten,
    DuplicatePairOut,
    Entity,
    EntryRef,
    EntryStatus,
    EquipmentIn,
    EquipmentOut,
    EquipmentPatch,
    EquipmentWritten,
    LabIn,
    LabOut,
    LabPatch,
    LabWritten,
    Language,
    Page,
    PairStatus,
    PossibleDuplicate,
    ResolutionIn,
    SearchEntity,
    SearchItem,
    SearchKind,
    SearchPage,
    SearchStatus,
    ServiceIn,
    ServiceKind,
    ServiceOut,
    ServicePatch,
    ServiceWritten,
    TaxonomyOut,
    TermOut,
)

router = APIRouter()

Clock = Callable[[], datetime]


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]
Limit = Annotated[int, Query(ge=1, le=service.MAX_LIMIT, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor of a page.")]
IfMatch = Annotated[
    str | None, Header(description="The ETag you read; required on PATCH, optional otherwise.")
]
Province = Annotated[
    str | None, Query(pattern=r"^[A-Za-z]{2}$", description="ISTAT two-letter code.")
]
CentreId = Annotated[
    str | None, Query(max_length=36, description="Organisation id of the owning centre.")
]
LabIdQ = Annotated[str | None, Query(max_length=36, description="Entries of this lab.")]
Id = Annotated[str, Path(max_length=36)]


def _codes_query(dimension: str) -> Any:
    return Query(
        max_length=20,
        description=f"Codes of `/taxonomies/{dimension}` (any of them; a code also finds the "
        "codes below it).",
    )


AtecoQ = Annotated[list[str] | None, _codes_query("ateco")]
S3Q = Annotated[list[str] | None, _codes_query("s3")]
KetQ = Annotated[list[str] | None, _codes_query("ket")]
ErcQ = Annotated[list[str] | None, _codes_query("erc")]
FordQ = Annotated[list[str] | None, _codes_query("ford")]
TRLQ = Annotated[int | None, Query(ge=1, le=9, description="A TRL the competence covers.")]


def not_modified(request: Request, etag: str) -> Response | None:
    candidates = request.headers.get("if-none-match")
    if candidates and (
        candidates.strip() == "*"
        or etag in [c.strip().removeprefix("W/") for c in candidates.split(",")]
    ):
        return Response(status_code=304, headers={"ETag": etag})
    return None


def tag_filters(**codes: list[str] | None) -> dict[str, list[str]]:
    """Canonical codes of the tag filters; 422 naming the parameter for an unknown code."""
    found: dict[str, list[str]] = {}
    errors = []
    for dimension, values in codes.items():
        if not values:
            continue
        try:
            found[dimension] = taxonomies.check_codes(dimension, values)
        except taxonomies.UnknownCodes as exc:
            errors.append(
                {"field": dimension, "in": "query", "message": str(exc), "type": "taxonomy"}
            )
    if errors:
        raise InvalidInput("; ".join(e["message"] for e in errors), errors=errors)
    return found


# -- shaping --------------------------------------------------------------------------------


def lab_out(lab: Lab) -> LabOut:
    return LabOut(
        id=lab.id,
        lab_id=lab.id,
        centre_id=lab.centre_id,
        name=lab.name,
        description=lab.description,
        province=lab.province,
        municipality=lab.municipality,
        accreditations=lab.accreditations,
        access_modes=lab.access_modes,
        contact_email=lab.contact_email,
        external_id=lab.external_id,
        status=EntryStatus(lab.status),
        published_at=lab.published_at,
        created_at=lab.created_at,
        updated_at=lab.updated_at,
        version=lab.version,
    )


def possible(candidates: list[Candidate]) -> list[PossibleDuplicate]:
    return [
        PossibleDuplicate(
            entity=Entity(c.entity),
            id=c.id,
            centre_id=c.centre_id,
            lab_id=c.lab_id,
            similarity=c.similarity,
            reason=c.reason,
            pair_id=c.pair_id,
        )
        for c in candidates
    ]


def decision_fields(pair: Any) -> dict[str, Any]:
    """What every pair the committee decides on shows (duplicates, overlapping initiatives)."""
    return {
        "id": pair.id,
        "similarity": pair.similarity,
        "reason": pair.reason,
        "created_at": pair.created_at,
        "updated_at": pair.updated_at,
        "resolved_at": pair.resolved_at,
        "resolved_by": ActorOut(
            role=pair.resolved_by_role,
            org_id=pair.resolved_by_org_id,
            key_id=pair.resolved_by_key_id,
        )
        if pair.resolved_by_role
        else None,
    }


def pair_out(pair: DuplicatePair) -> DuplicatePairOut:
    entity = Entity(pair.entity)
    return DuplicatePairOut(
        a=EntryRef(entity=entity, id=pair.a_id, centre_id=pair.a_centre_id, lab_id=pair.a_lab_id),
        b=EntryRef(entity=entity, id=pair.b_id, centre_id=pair.b_centre_id, lab_id=pair.b_lab_id),
        status=PairStatus(pair.status),
        **decision_fields(pair),
    )


# -- labs -----------------------------------------------------------------------------------


@router.post("/labs", status_code=201, tags=["labs"], responses=problems(403, 409))
async def create_lab(
    body: LabIn, response: Response, session: SessionDep, principal: PrincipalDep, clock: ClockDep
) -> LabWritten:
    """Create a lab of your centre, as a draft (staff of an active member centre)."""
    lab = await service.create_lab(session, data=dict(body), principal=principal, now=clock())
    await session.commit()
    response.headers["ETag"] = service.etag(lab.version)
    response.headers["Location"] = f"labs/{lab.id}"
    return LabWritten(**lab_out(lab).model_dump())


@router.get("/labs", tags=["labs"])
async def list_labs(
    session: SessionDep,
    principal: PrincipalDep,
    centre: CentreId = None,
    province: Province = None,
    status: EntryStatus | None = None,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[LabOut]:
    """Labs you may see, oldest first: published ones of active members; your centre's in any
    status; everything for the Region."""
    rows, next_cursor = await service.list_labs(
        session,
        principal=principal,
        centre=centre,
        province=province,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return Page[LabOut](items=[lab_out(lab) for lab in rows], next_cursor=next_cursor)


@router.get("/labs/{lab_id}", tags=["labs"], response_model=None, responses=problems(404))
async def get_lab(
    lab_id: Id, request: Request, response: Response, session: SessionDep, principal: PrincipalDep
) -> LabOut | Response:
    lab = await service.get_lab(session, lab_id=lab_id, principal=principal)
    etag = service.etag(lab.version)
    if (cached := not_modified(request, etag)) is not None:
        return cached
    response.headers["ETag"] = etag
    return lab_out(lab)


@router.patch("/labs/{lab_id}", tags=["labs"], responses=problems(403, 404, 409, 412, 428))
async def update_lab(
    lab_id: Id,
    body: LabPatch,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> LabWritten:
    """Change some fields of your lab. Needs If-Match."""
    lab = await service.update_lab(
        session,
        lab_id=lab_id,
        changes=body.changes(),
        if_match=if_match,
        principal=principal,
        now=clock(),
    )
    await session.commit()
    response.headers["ETag"] = service.etag(lab.version)
    return LabWritten(**lab_out(lab).model_dump())


@router.delete(
    "/labs/{lab_id}", status_code=204, tags=["labs"], responses=problems(403, 404, 409, 412)
)
async def delete_lab(
    lab_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> Response:
    """Delete your lab and its entries; a published lab leaves the catalogue."""
    await service.delete_lab(
        session, lab_id=lab_id, if_match=if_match, principal=principal, now=clock()
    )
    await session.commit()
    return Response(status_code=204)


async def _lab_action(
    action: str,
    lab_id: str,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    now: datetime,
    if_match: str | None,
) -> LabOut:
    lab = await service.change_lab_status(
        session, lab_id=lab_id, action=action, if_match=if_match, principal=principal, now=now
    )
    await session.commit()
    response.headers["ETag"] = service.etag(lab.version)
    return lab_out(lab)


@router.post("/labs/{lab_id}/publication", tags=["labs"], responses=problems(403, 404, 409, 412))
async def publish_lab(
    lab_id: Id,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> LabOut:
    """Publish your lab (draft or withdrawn) with its entries."""
    return await _lab_action("publication", lab_id, response, session, principal, clock(), if_match)


@router.post("/labs/{lab_id}/withdrawal", tags=["labs"], responses=problems(403, 404, 409, 412))
async def withdraw_lab(
    lab_id: Id,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> LabOut:
    """Withdraw your published lab, with its entries, from the public catalogue."""
    return await _lab_action("withdrawal", lab_id, response, session, principal, clock(), if_match)


# -- entries: competences, equipment, service offerings --------------------------------------


def entry_routes(
    kind: entries.Kind,
    plural: str,
    body_in: type[BaseModel],
    body_patch: type[BaseModel],
    out: type[BaseModel],
    written: type[BaseModel],
) -> None:
    """POST/GET /labs/{id}/<plural>, GET/PATCH/DELETE /<plural>/{id} of one kind of entry."""
    tag = plural
    noun = kind.noun

    def shape(entry: Any) -> Any:
        return out.model_validate(entry)

    def shape_written(entry: Any, candidates: list[Candidate]) -> Any:
        return written.model_validate(
            {**shape(entry).model_dump(), "possible_duplicates": possible(candidates)}
        )

    async def create(
        lab_id: Id,
        body: body_in,  # type: ignore[valid-type]
        response: Response,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
    ) -> Any:
        entry, candidates = await service.create_entry(
            session,
            kind=kind,
            lab_id=lab_id,
            data=dict(body),
            principal=principal,
            now=clock(),
        )
        await session.commit()
        response.headers["ETag"] = service.etag(entry.version)
        response.headers["Location"] = f"{plural}/{entry.id}"
        return shape_written(entry, candidates)

    async def list_of_lab(
        lab_id: Id,
        session: SessionDep,
        principal: PrincipalDep,
        limit: Limit = service.DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Any:
        await service.get_lab(session, lab_id=lab_id, principal=principal)
        rows, next_cursor = await service.list_entries(
            session,
            kind=kind,
            principal=principal,
            filters=service.EntryFilters(lab=lab_id),
            limit=limit,
            cursor=cursor,
        )
        return {"items": [shape(row) for row in rows], "next_cursor": next_cursor}

    async def get(
        entry_id: Id,
        request: Request,
        response: Response,
        session: SessionDep,
        principal: PrincipalDep,
    ) -> Any:
        entry = await service.get_entry(session, kind=kind, entry_id=entry_id, principal=principal)
        etag = service.etag(entry.version)
        if (cached := not_modified(request, etag)) is not None:
            return cached
        response.headers["ETag"] = etag
        return shape(entry)

    async def update(
        entry_id: Id,
        body: body_patch,  # type: ignore[valid-type]
        response: Response,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        if_match: IfMatch = None,
    ) -> Any:
        entry, candidates = await service.update_entry(
            session,
            kind=kind,
            entry_id=entry_id,
            changes=body.changes(),  # type: ignore[attr-defined]
            if_match=if_match,
            principal=principal,
            now=clock(),
        )
        await session.commit()
        response.headers["ETag"] = service.etag(entry.version)
        return shape_written(entry, candidates)

    async def remove(
        entry_id: Id,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        if_match: IfMatch = None,
    ) -> Response:
        await service.delete_entry(
            session,
            kind=kind,
            entry_id=entry_id,
            if_match=if_match,
            principal=principal,
            now=clock(),
        )
        await session.commit()
        return Response(status_code=204)

    entity = kind.entity
    router.add_api_route(
        f"/labs/{{lab_id}}/{plural}",
        create,
        methods=["POST"],
        status_code=201,
        response_model=written,
        tags=[tag],
        name=f"create_{entity}",
        responses=problems(403, 404, 409),
        summary=f"Add a {noun} to your lab",
        description=f"Its status follows the lab's. The answer lists `possible_duplicates`: "
        f"similar {plural} at other centres.",
    )
    router.add_api_route(
        f"/labs/{{lab_id}}/{plural}",
        list_of_lab,
        methods=["GET"],
        response_model=Page[out],  # type: ignore[valid-type]
        tags=[tag],
        name=f"list_{plural}_of_lab",
        responses=problems(404),
        summary=f"The {plural} of a lab",
    )
    router.add_api_route(
        f"/{plural}/{{entry_id}}",
        get,
        methods=["GET"],
        response_model=out,
        tags=[tag],
        name=f"get_{entity}",
        responses=problems(404),
        summary=f"A {noun}",
    )
    router.add_api_route(
        f"/{plural}/{{entry_id}}",
        update,
        methods=["PATCH"],
        response_model=written,
        tags=[tag],
        name=f"update_{entity}",
        responses=problems(403, 404, 409, 412, 428),
        summary=f"Change some fields of a {noun} of your lab (needs If-Match)",
    )
    router.add_api_route(
        f"/{plural}/{{entry_id}}",
        remove,
        methods=["DELETE"],
        status_code=204,
        response_class=Response,
        tags=[tag],
        name=f"delete_{entity}",
        responses=problems(403, 404, 409, 412),
        summary=f"Delete a {noun} of your lab",
    )


async def _flat_list(
    kind: entries.Kind,
    session: SessionDep,
    principal: PrincipalDep,
    filters: service.EntryFilters,
    limit: int,
    cursor: str | None,
    out: type[BaseModel],
) -> dict[str, Any]:
    rows, next_cursor = await service.list_entries(
        session, kind=kind, principal=principal, filters=filters, limit=limit, cursor=cursor
    )
    return {"items": [out.model_validate(row) for row in rows], "next_cursor": next_cursor}


@router.get("/competences", tags=["competences"], response_model=Page[CompetenceOut])
async def list_competences(
    session: SessionDep,
    principal: PrincipalDep,
    lab: LabIdQ = None,
    centre: CentreId = None,
    province: Province = None,
    status: EntryStatus | None = None,
    trl: TRLQ = None,
    ateco: AtecoQ = None,
    s3: S3Q = None,
    ket: KetQ = None,
    erc: ErcQ = None,
    ford: FordQ = None,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Competences you may see, oldest first, with filters."""
    tags = tag_filters(ateco=ateco, s3=s3, ket=ket, erc=erc, ford=ford)
    filters = service.EntryFilters(
        lab=lab, centre=centre, province=province, status=status, trl=trl, tags=tags
    )
    return await _flat_list(
        entries.COMPETENCE, session, principal, filters, limit, cursor, CompetenceOut
    )


@router.get("/equipment", tags=["equipment"], response_model=Page[EquipmentOut])
async def list_equipment(
    session: SessionDep,
    principal: PrincipalDep,
    lab: LabIdQ = None,
    centre: CentreId = None,
    province: Province = None,
    status: EntryStatus | None = None,
    shareable: bool | None = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    ateco: AtecoQ = None,
    s3: S3Q = None,
    ket: KetQ = None,
    erc: ErcQ = None,
    ford: FordQ = None,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Equipment you may see, oldest first, with filters."""
    tags = tag_filters(ateco=ateco, s3=s3, ket=ket, erc=erc, ford=ford)
    filters = service.EntryFilters(
        lab=lab,
        centre=centre,
        province=province,
        status=status,
        shareable=shareable,
        category=category,
        tags=tags,
    )
    return await _flat_list(
        entries.EQUIPMENT, session, principal, filters, limit, cursor, EquipmentOut
    )


@router.get("/services", tags=["services"], response_model=Page[ServiceOut])
async def list_services(
    session: SessionDep,
    principal: PrincipalDep,
    lab: LabIdQ = None,
    centre: CentreId = None,
    province: Province = None,
    status: EntryStatus | None = None,
    kind: ServiceKind | None = None,
    ateco: AtecoQ = None,
    s3: S3Q = None,
    ket: KetQ = None,
    erc: ErcQ = None,
    ford: FordQ = None,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Service offerings you may see, oldest first, with filters."""
    tags = tag_filters(ateco=ateco, s3=s3, ket=ket, erc=erc, ford=ford)
    filters = service.EntryFilters(
        lab=lab,
        centre=centre,
        province=province,
        status=status,
        kind=kind.value if kind else None,
        tags=tags,
    )
    return await _flat_list(entries.SERVICE, session, principal, filters, limit, cursor, ServiceOut)


entry_routes(
    entries.COMPETENCE,
    "competences",
    CompetenceIn,
    CompetencePatch,
    CompetenceOut,
    CompetenceWritten,
)
entry_routes(
    entries.EQUIPMENT, "equipment", EquipmentIn, EquipmentPatch, EquipmentOut, EquipmentWritten
)
entry_routes(entries.SERVICE, "services", ServiceIn, ServicePatch, ServiceOut, ServiceWritten)


# -- search ---------------------------------------------------------------------------------


@router.get("/search", tags=["search"])
async def search_catalogue(
    session: SessionDep,
    _: PrincipalDep,
    q: Annotated[
        str | None, Query(max_length=500, description="Words, Italian or English.")
    ] = None,
    province: Province = None,
    centre: CentreId = None,
    entity: SearchEntity | None = None,
    kind: Annotated[
        SearchKind | None,
        Query(
            description="Service offerings and initiatives of a kind (`training` is both: add "
            "`entity` to narrow)."
        ),
    ] = None,
    status: Annotated[
        SearchStatus | None,
        Query(description="`published` (labs and entries) or an initiative's status."),
    ] = None,
    ateco: AtecoQ = None,
    s3: S3Q = None,
    ket: KetQ = None,
    erc: ErcQ = None,
    ford: FordQ = None,
    trl: TRLQ = None,
    shareable: Annotated[bool | None, Query(description="Equipment others may book.")] = None,
    lang: Annotated[Language, Query(description="Language of titles and snippets.")] = Language.IT,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> SearchPage:
    """Published entries and initiatives (not drafts) of active members, ranked by relevance,
    with facet counts.

    Accents, case and stop words are ignored; Italian and English words are stemmed. A query in
    either language finds the text in that language of entries described in both.
    """
    filters = search.Filters(
        province=province.upper() if province else None,
        centre=centre,
        entity=entity.value if entity else None,
        kind=kind.value if kind else None,
        status=status.value if status else None,
        trl=trl,
        shareable=shareable,
        tags=tag_filters(ateco=ateco, s3=s3, ket=ket, erc=erc, ford=ford),
    )
    result = await search.search(
        session, q=q, filters=filters, lang=lang.value, limit=limit, cursor=cursor
    )
    return SearchPage(
        items=[SearchItem.model_validate(hit) for hit in result.items],
        next_cursor=result.next_cursor,
        total=result.total,
        facets=result.facets,
    )


# -- duplicates -----------------------------------------------------------------------------


@router.get("/duplicates", tags=["duplicates"], responses=problems(403))
async def list_duplicates(
    session: SessionDep,
    principal: PrincipalDep,
    status: PairStatus = PairStatus.OPEN,
    entity: Entity | None = None,
    centre: Annotated[str | None, Query(max_length=36, description="Pairs of this centre.")] = None,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[DuplicatePairOut]:
    """Near-duplicate pairs of published entries across centres (Region and centres)."""
    rows, next_cursor = await service.list_pairs(
        session,
        principal=principal,
        status=status,
        entity=entity.value if entity else None,
        centre=centre,
        limit=limit,
        cursor=cursor,
    )
    return Page[DuplicatePairOut](items=[pair_out(p) for p in rows], next_cursor=next_cursor)


@router.get("/duplicates/{pair_id}", tags=["duplicates"], responses=problems(403, 404))
async def get_duplicate(
    pair_id: Id, session: SessionDep, principal: PrincipalDep
) -> DuplicatePairOut:
    return pair_out(await service.get_pair(session, pair_id=pair_id, principal=principal))


@router.post(
    "/duplicates/{pair_id}/resolution", tags=["duplicates"], responses=problems(403, 404, 409)
)
async def resolve_duplicate(
    pair_id: Id, body: ResolutionIn, session: SessionDep, principal: PrincipalDep, clock: ClockDep
) -> DuplicatePairOut:
    """Record the committee's decision (the Region): `distinct` or `shared`. A resolved pair is
    never reported again."""
    pair = await service.resolve_pair(
        session, pair_id=pair_id, resolution=body.resolution, principal=principal, now=clock()
    )
    await session.commit()
    return pair_out(pair)


# -- taxonomies -----------------------------------------------------------------------------


def _taxonomy(name: str) -> taxonomies.Taxonomy:
    if name not in taxonomies.LOADERS:
        raise NotFound(f"no taxonomy {name!r}; see GET /taxonomies")
    return taxonomies.get(name)


def term_out(term: taxonomies.Term) -> TermOut:
    return TermOut(
        code=term.code,
        label=dict(term.label),
        parent=term.parent,
        level=term.level,
        description=dict(term.description) if term.description else None,
        attributes=dict(term.attributes) if term.attributes else None,
    )


@router.get("/taxonomies", tags=["taxonomies"])
async def list_taxonomies(_: PrincipalDep) -> Page[TaxonomyOut]:
    """The code lists of the catalogue (public), with their source and licence."""
    items = []
    for name in taxonomies.NAMES:
        taxonomy = taxonomies.get(name)
        items.append(
            TaxonomyOut(
                name=name,
                title=dict(taxonomy.title),
                source=taxonomy.source,
                licence=taxonomy.licence,
                tag=taxonomy.tag,
                size=len(taxonomy.terms),
            )
        )
    return Page[TaxonomyOut](items=items, next_cursor=None)


@router.get("/taxonomies/{name}", tags=["taxonomies"], responses=problems(404))
async def list_terms(
    name: Annotated[str, Path(max_length=30)],
    _: PrincipalDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Words of the label or code (accents ignored)."),
    ] = None,
    parent: Annotated[
        str | None, Query(max_length=30, description="Terms under this code.")
    ] = None,
    level: Annotated[str | None, Query(max_length=30)] = None,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[TermOut]:
    """Terms of a taxonomy in the list's order, searchable by label."""
    taxonomy = _taxonomy(name)
    terms = taxonomy.search(q, parent=parent, level=level)
    start = 0
    if cursor:
        try:
            after = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            position = taxonomy.order[after]
        except (ValueError, KeyError, binascii.Error) as exc:
            raise service.invalid_cursor() from exc
        start = next(
            (i for i, t in enumerate(terms) if taxonomy.order[t.code] > position), len(terms)
        )
    page = terms[start : start + limit]
    next_cursor = None
    if start + limit < len(terms):
        next_cursor = base64.urlsafe_b64encode(page[-1].code.encode()).decode().rstrip("=")
    return Page[TermOut](items=[term_out(t) for t in page], next_cursor=next_cursor)


@router.get("/taxonomies/{name}/{code}", tags=["taxonomies"], responses=problems(404))
async def get_term(
    name: Annotated[str, Path(max_length=30)],
    code: Annotated[str, Path(max_length=30)],
    _: PrincipalDep,
) -> TermOut:
    term = _taxonomy(name).get(code)
    if term is None:
        raise NotFound(f"no code {code!r} in taxonomy {name!r}")
    return term_out(term)
