"""Synthetic events of the three publishing services, built from the kernel's contracts: for
the tests and for the benchmark (`clock reporting bench`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from kernel.contracts import catalog as c
from kernel.contracts import matching as m
from kernel.contracts import membership as ms
from kernel.events import CloudEvent, EventData, registry
from kernel.italy import ateco_section
from services.reporting.facts import LoggedEvent

SYSTEM_C = c.Actor(role="system")
SYSTEM_M = m.Actor(role="system")
SYSTEM_MS = ms.Actor(role="system")
CENTRE_A = "00000000-0000-0000-0000-00000000000a"
CENTRE_B = "00000000-0000-0000-0000-00000000000b"


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def build(data: EventData, subject: str, when: datetime, version: int = 1) -> CloudEvent[Any]:
    return registry.build(data, subject=subject, aggregate_version=version, time=when)


def logged(event: CloudEvent[Any]) -> LoggedEvent:
    return LoggedEvent(str(event.id), event.type, event.time, event.data.model_dump(mode="json"))


def text(value: str) -> c.Text:
    return c.Text(it=value, en=value)


def tags(s3: list[str] | None = None, ket: list[str] | None = None, ateco: str = "C") -> c.Tags:
    return c.Tags(ateco=[ateco], s3=s3 or [], ket=ket or [])


# -- catalog ----------------------------------------------------------------------------------


def lab(
    lab_id: str,
    centre: str,
    when: datetime,
    *,
    action: str = "published",
    version: int = 1,
    province: str = "FI",
    s3: list[str] | None = None,
    ket: list[str] | None = None,
    ateco: str = "13.10",
) -> CloudEvent[Any]:
    fields: dict[str, Any] = dict(
        lab_id=lab_id,
        centre_id=centre,
        name=text(f"Lab {lab_id}"),
        description=text("A lab"),
        province=province,
        municipality="Firenze",
        accreditations=[],
        access_modes=[],
        contact_email=None,
        status="withdrawn" if action == "withdrawn" else "published",
        tags=tags(s3, ket, ateco),
        actor=SYSTEM_C,
    )
    if action == "withdrawn":
        return build(c.LabWithdrawn(**fields, reason="lab_withdrawn"), lab_id, when, version)
    if action == "updated":
        return build(c.LabUpdated(**fields, changed=["tags"]), lab_id, when, version)
    return build(c.LabPublished(**fields), lab_id, when, version)


def _entry(
    lab_id: str, centre: str, entry_tags: c.Tags | None = None, province: str = "FI"
) -> dict[str, Any]:
    return dict(
        lab_id=lab_id,
        centre_id=centre,
        lab_name=text(f"Lab {lab_id}"),
        province=province,
        municipality="Firenze",
        tags=entry_tags or tags(["s3-a"]),
        actor=SYSTEM_C,
    )


def equipment(
    equipment_id: str,
    lab_id: str,
    centre: str,
    when: datetime,
    *,
    shareable: bool = True,
    action: str = "published",
    version: int = 1,
    entry_tags: c.Tags | None = None,
    province: str = "FI",
) -> CloudEvent[Any]:
    fields: dict[str, Any] = _entry(lab_id, centre, entry_tags, province) | dict(
        equipment_id=equipment_id,
        name=text("Microscope"),
        description=text("SEM"),
        category="microscopy",
        manufacturer=None,
        model=None,
        year=2020,
        shareable=shareable,
        tariff_eur_per_hour="80.00",
        booking_conditions=None,
        status="withdrawn" if action == "withdrawn" else "published",
    )
    if action == "withdrawn":
        event: EventData = c.EquipmentWithdrawn(**fields, reason="deleted")
    elif action == "updated":
        event = c.EquipmentUpdated(**fields, changed=["shareable"])
    else:
        event = c.EquipmentPublished(**fields)
    return build(event, equipment_id, when, version)


def competence(
    competence_id: str,
    lab_id: str,
    centre: str,
    when: datetime,
    *,
    entry_tags: c.Tags | None = None,
    province: str = "FI",
) -> CloudEvent[Any]:
    return build(
        c.CompetencePublished(
            **_entry(lab_id, centre, entry_tags, province),
            competence_id=competence_id,
            title=text("Textiles"),
            description=text("Smart textiles"),
            trl_min=3,
            trl_max=6,
            keywords=["textile"],
            status="published",
        ),
        competence_id,
        when,
    )


def service_offering(
    service_id: str,
    lab_id: str,
    centre: str,
    when: datetime,
    *,
    entry_tags: c.Tags | None = None,
    province: str = "FI",
) -> CloudEvent[Any]:
    return build(
        c.ServicePublished(
            **_entry(lab_id, centre, entry_tags, province),
            service_id=service_id,
            name=text("Testing"),
            kind="testing",
            description=text("Tests"),
            price_model=None,
            status="published",
        ),
        service_id,
        when,
    )


def duplicate(pair_id: str, when: datetime, *, resolved: bool = False) -> CloudEvent[Any]:
    fields: dict[str, Any] = dict(
        pair_id=pair_id,
        entity="equipment",
        a=c.EntryRef(entity="equipment", id="e1", centre_id=CENTRE_A, lab_id="l1"),
        b=c.EntryRef(entity="equipment", id="e2", centre_id=CENTRE_B, lab_id="l2"),
        similarity=0.93,
        reason="same model",
    )
    if resolved:
        return build(
            c.DuplicateResolved(**fields, resolution="shared", actor=SYSTEM_C), pair_id, when, 2
        )
    return build(c.DuplicateFound(**fields), pair_id, when)


def initiative(
    initiative_id: str,
    centre: str,
    when: datetime,
    *,
    action: str = "created",
    version: int = 1,
    kind: str = "research_project",
    status: str = "running",
    partners: dict[str, str] | None = None,
    programme: str | None = "horizon_europe",
    budget: str | None = None,
    funding: str | None = None,
    start: date = date(2026, 1, 1),
    end: date | None = None,
    times: tuple[str, str] | None = None,
    province: str | None = None,
    registered: int | None = None,
    attending: int | None = None,
    s3: list[str] | None = None,
    confirmed_by: str | None = None,
) -> CloudEvent[Any]:
    """An initiative event (`action`: created, updated, closed, participation_confirmed,
    event_held) with the whole state; `partners` maps partner centres to their status."""
    partner_centres = [
        c.InitiativePartner(
            centre_id=partner,
            status="confirmed" if state == "confirmed" else "proposed",
            confirmed_at=when if state == "confirmed" else None,
        )
        for partner, state in (partners or {}).items()
    ]
    fields: dict[str, Any] = dict(
        initiative_id=initiative_id,
        centre_id=centre,
        kind=kind,
        joint=bool(partner_centres),
        title=text(f"Initiative {initiative_id}"),
        description=text("An initiative"),
        partner_centres=partner_centres,
        partner_organisations=[],
        funding_programme=programme,
        funding_call=None,
        budget_eur=budget,
        public_funding_eur=funding,
        start_date=start,
        end_date=end,
        start_time=times[0] if times else None,
        end_time=times[1] if times else None,
        venue="Aula magna" if province else None,
        province=province,
        municipality="Firenze" if province else None,
        registration_open=False if province else None,
        registered_participants=registered,
        attending_participants=attending,
        tags=tags(s3 or ["s3-a"]),
        status=status,
        actor=SYSTEM_C,
    )
    if action == "updated":
        event: EventData = c.InitiativeUpdated(**fields, changed=["title"])
    elif action == "closed":
        event = c.InitiativeClosed(**fields)
    elif action == "participation_confirmed":
        event = c.InitiativeParticipationConfirmed(**fields, partner_centre_id=confirmed_by)
    elif action == "event_held":
        event = c.InitiativeEventHeld(**fields, registered=registered, attending=attending)
    else:
        event = c.InitiativeCreated(**fields)
    return build(event, initiative_id, when, version)


def initiative_overlap(
    overlap_id: str,
    when: datetime,
    *,
    a: tuple[str, str, str] = ("i1", CENTRE_A, "research_project"),
    b: tuple[str, str, str] = ("i2", CENTRE_B, "innovation_project"),
    resolution: str | None = None,
) -> CloudEvent[Any]:
    """An overlap found between two initiatives (`a`, `b`: id, centre, kind), or resolved."""
    fields: dict[str, Any] = dict(
        overlap_id=overlap_id,
        a=c.InitiativeRef(initiative_id=a[0], centre_id=a[1], kind=a[2]),
        b=c.InitiativeRef(initiative_id=b[0], centre_id=b[1], kind=b[2]),
        similarity=0.81,
        reason="similar topic and tags",
    )
    if resolution is None:
        return build(c.InitiativeOverlapFound(**fields), overlap_id, when)
    return build(
        c.InitiativeOverlapResolved(**fields, resolution=resolution, actor=SYSTEM_C),
        overlap_id,
        when,
        2,
    )


# -- membership -------------------------------------------------------------------------------


def member(
    org: str, when: datetime, *, action: str = "admitted", version: int = 1, province: str = "FI"
) -> CloudEvent[Any]:
    status = {"admitted": "active", "reinstated": "active", "suspended": "suspended"}[action]
    previous = {"admitted": None, "reinstated": "suspended", "suspended": "active"}[action]
    fields: dict[str, Any] = dict(
        organisation_id=org,
        name=f"Centre {org[-1]}",
        acronym=None,
        kind="technology_transfer_centre",
        province=province,
        municipality="Firenze",
        role="founding",
        status=status,
        previous_status=previous,
        term_end=date(2028, 12, 9),
        since=when,
        actor=SYSTEM_MS,
        reason="test",
    )
    if action == "admitted":
        return build(ms.MemberAdmitted(**fields, application_id=None), org, when, version)
    if action == "suspended":
        return build(ms.MemberSuspended(**fields), org, when, version)
    return build(ms.MemberReinstated(**fields), org, when, version)


def application_decided(app_id: str, submitted: datetime, decided: datetime) -> CloudEvent[Any]:
    return build(
        ms.ApplicationDecided(
            application_id=app_id,
            decision="admit",
            status="admitted",
            motivation="ok",
            votes=None,
            organisation_id=None,
            name="Applicant",
            kind="university",
            province="PI",
            submitted_at=submitted,
            decided_at=decided,
            actor=SYSTEM_MS,
        ),
        app_id,
        decided,
        2,
    )


# -- matching ---------------------------------------------------------------------------------


def firm(
    firm_id: str, size: str = "small", province: str = "PO", ateco: str = "13.10.00"
) -> m.FirmProfile:
    return m.FirmProfile(
        firm_id=firm_id,
        size_class=size,
        sme=size != "large",
        province=province,
        ateco_code=ateco,
        ateco_section=ateco_section(ateco),
        ateco_division=ateco[:2] if ateco[:2].isdigit() else "",
    )


def demand(
    demand_id: str,
    profile: m.FirmProfile,
    when: datetime,
    *,
    s3: list[str] | None = None,
    assisting_centre: str | None = None,
    challenge_id: str | None = None,
) -> CloudEvent[Any]:
    """A demand submitted; with `challenge_id`, the demand that backs that challenge."""
    return build(
        m.DemandSubmitted(
            demand_id=demand_id,
            firm=profile,
            status="open",
            title="Need",
            needs=[m.Need(text="help", tags={"s3": ["s3-a"] if s3 is None else s3})],
            needs_count=1,
            sector="13.10.00",
            trl_current=3,
            trl_target=6,
            budget_eur="10000.00",
            deadline=None,
            preferred_provinces=[],
            submitted_by=SYSTEM_M,
            partner_org_id=None,
            assisting_centre_id=assisting_centre,
            submitted_at=when,
            challenge_id=challenge_id,
        ),
        demand_id,
        when,
    )


def matches(
    demand_id: str,
    profile: m.FirmProfile,
    when: datetime,
    *,
    lab_id: str = "l1",
    centre: str = CENTRE_A,
) -> CloudEvent[Any]:
    return build(
        m.MatchesProposed(
            demand_id=demand_id,
            firm=profile,
            matches=[
                m.ProposedMatch(
                    rank=1,
                    lab_id=lab_id,
                    centre_id=centre,
                    entity="lab",
                    entry_id=lab_id,
                    score=0.8,
                    cross_language=False,
                    distance_km=None,
                )
            ],
            centre_ids=[centre],
            lab_ids=[lab_id],
            cross_language=False,
            index_generation=1,
            proposed_at=when,
        ),
        demand_id,
        when,
        2,
    )


LAB_S3 = {"l1": ["s3-a"]}
"""Default smart-specialisation tags of labs, when a builder is not given `tags`."""


def lab_tags(*lab_ids: str) -> m.LabTags:
    """What the matching service puts in its events: the tags of the labs involved."""
    return m.LabTags(s3=sorted({t for lab in lab_ids for t in LAB_S3.get(lab, [])}))


def introduction(
    intro_id: str,
    demand_id: str,
    profile: m.FirmProfile,
    requested: datetime,
    *,
    action: str = "requested",
    answered: datetime | None = None,
    centre: str = CENTRE_A,
    lab_id: str = "l1",
    tags: m.LabTags | None = None,
) -> CloudEvent[Any]:
    fields: dict[str, Any] = dict(
        introduction_id=intro_id,
        demand_id=demand_id,
        firm=profile,
        lab_id=lab_id,
        centre_id=centre,
        entry_id=None,
        consortium_id=None,
        consortium_size=None,
        consortium_centres=None,
        requested_at=requested,
        requested_by=SYSTEM_M,
        lab_tags=tags or lab_tags(lab_id),
    )
    if action == "requested":
        return build(m.IntroductionRequested(**fields), intro_id, requested)
    answered = answered or requested + timedelta(hours=5)
    hours = (answered - requested).total_seconds() / 3600
    if action == "accepted":
        event: EventData = m.IntroductionAccepted(
            **fields,
            answered_at=answered,
            answered_by=SYSTEM_M,
            reason=None,
            engagement_id=f"eng-{intro_id}",
            hours_to_answer=hours,
        )
    else:
        event = m.IntroductionDeclined(
            **fields,
            answered_at=answered,
            answered_by=SYSTEM_M,
            reason="busy",
            hours_to_answer=hours,
        )
    return build(event, intro_id, answered, 2)


def engagement(
    engagement_id: str,
    demand_id: str,
    profile: m.FirmProfile,
    opened: datetime,
    *,
    kind: str = "joint_research",
    centres: tuple[str, ...] = (CENTRE_A,),
    closed: datetime | None = None,
    value: str = "1000.00",
    satisfaction: int = 4,
    innovation: str = "product",
    lab_ids: list[str] | None = None,
    tags: m.LabTags | None = None,
    challenge_id: str | None = None,
    supplier: m.FirmProfile | None = None,
) -> CloudEvent[Any]:
    """An engagement opened, or closed when `closed` is given; `challenge_id` when an award
    opened it, and `supplier` for one with a firm of the awarded team (no lab: `centres=()`)."""
    labs = lab_ids or [f"l{i}" for i in range(1, len(centres) + 1)]
    fields: dict[str, Any] = dict(
        engagement_id=engagement_id,
        demand_id=demand_id,
        firm=profile,
        kind=kind,
        centre_ids=list(centres),
        lab_ids=labs,
        cross_centre=len(centres) > 1,
        consortium_id=f"cons-{engagement_id}" if len(centres) > 1 else None,
        consortium_size=len(centres) if len(centres) > 1 else None,
        introduction_ids=[],
        opened_at=opened,
        lab_tags=tags or lab_tags(*labs),
        challenge_id=challenge_id,
        supplier_firm=supplier,
    )
    if closed is None:
        return build(m.EngagementOpened(**fields), engagement_id, opened)
    return build(
        m.EngagementClosed(
            **fields,
            closed_at=closed,
            value_eur=value,
            delivered=True,
            satisfaction=satisfaction,
            innovation_introduced=innovation,
            duration_days=(closed - opened).total_seconds() / 86400,
            closed_by=SYSTEM_M,
        ),
        engagement_id,
        closed,
        2,
    )


def access_approved(
    request_id: str,
    when: datetime,
    hours: float,
    *,
    lab_id: str = "l1",
    centre: str = CENTRE_A,
    profile: m.FirmProfile | None = None,
    tags: m.LabTags | None = None,
) -> CloudEvent[Any]:
    return build(
        m.AccessApproved(
            request_id=request_id,
            equipment_id="e1",
            lab_id=lab_id,
            centre_id=centre,
            firm=profile or firm("f-access"),
            requester=SYSTEM_M,
            start=when,
            end=when + timedelta(hours=hours),
            hours=hours,
            requested_at=when,
            lab_tags=tags or lab_tags(lab_id),
            answered_at=when,
            answered_by=SYSTEM_M,
            reason=None,
        ),
        request_id,
        when,
        2,
    )
