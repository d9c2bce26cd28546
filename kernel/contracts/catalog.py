"""Events of the catalog service (stream CLOCK_CATALOG).

Matching keeps its search index and reporting its figures from these alone, so every event
carries the entry's whole public state (text in both languages, tags, location, TRL, ...), not
only what changed; they never call the catalog.

Only published entries have events: drafts are private to their centre. An entry is published
when its lab is (`POST /labs/{id}/publication`); its `*.published` event follows the lab's.
`*.updated` is a change to a published entry, `*.withdrawn` means it left the public catalogue
(its lab was withdrawn or deleted, or the entry was deleted).

Entries of a member that is suspended, withdrawn or expired disappear from the catalogue's
public reads and search at once, but no catalog event says so: consumers receive the membership
events too (`clock.membership.member.*`) and apply the same rule (visible = published and the
centre is an active member). Reinstatement brings them back, again without catalog events.

Aggregates and subjects (the version is the row's, which increments on every change, so a
consumer can drop an event older than what it has):
- `lab` (subject: lab id),
- `competence`, `equipment`, `service` (subject: the entry id); they carry their lab's
  location and name as of the event: a later `lab.updated` is authoritative for those,
- `duplicate` (subject: pair id): a near-duplicate pair found across centres and its
  resolution by the committee;
- `initiative` (subject: initiative id): the initiatives register (projects, joint actions,
  training and dissemination events); drafts have no events;
- `initiative_overlap` (subject: pair id): overlapping initiatives of different centres and the
  committee's resolution.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kernel.events import EventData, event

EntryStatus = Literal["draft", "published", "withdrawn"]
ServiceKind = Literal[
    "testing",
    "certification",
    "prototyping",
    "consulting",
    "training",
    "technology_scouting",
    "ip_support",
    "funding_support",
]
Entity = Literal["lab", "competence", "equipment", "service"]
WithdrawalReason = Literal["lab_withdrawn", "lab_deleted", "deleted"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(_Part):
    """Who caused the change: a principal's role and ids, or `system` (demo data)."""

    role: str = Field(description="region, centre or system")
    org_id: str | None = None
    key_id: str | None = None


class Text(_Part):
    """Text in Italian and/or English (at least one of them)."""

    it: str | None = None
    en: str | None = None


class Tags(_Part):
    """Codes of the catalogue's taxonomies (`GET /taxonomies/{name}` of the catalog)."""

    ateco: list[str] = Field(default_factory=list, description="ATECO 2025 (NACE) codes.")
    s3: list[str] = Field(default_factory=list, description="Tuscany smart specialisation.")
    ket: list[str] = Field(default_factory=list, description="Key Enabling Technologies.")
    erc: list[str] = Field(default_factory=list, description="ERC panels.")
    ford: list[str] = Field(default_factory=list, description="OECD fields of R&D (FORD).")


# -- lab ------------------------------------------------------------------------------------


class _LabState(EventData):
    lab_id: str
    centre_id: str = Field(description="Membership organisation id of the owning centre.")
    name: Text
    description: Text
    province: str = Field(description="ISTAT two-letter code, e.g. LU.")
    municipality: str = Field(description="Comune, in the ISTAT spelling.")
    accreditations: list[str]
    access_modes: list[str]
    contact_email: str | None
    status: EntryStatus
    tags: Tags = Field(description="Union of the tags of the lab's entries.")
    actor: Actor


@event
class LabPublished(_LabState):
    """A lab entered the public catalogue (with its entries, each with its own event)."""

    event_type = "clock.catalog.lab.published.v1"


@event
class LabUpdated(_LabState):
    """A published lab changed; carries the whole new state and the changed fields."""

    event_type = "clock.catalog.lab.updated.v1"
    changed: list[str]


@event
class LabWithdrawn(_LabState):
    """A lab left the public catalogue (withdrawn or deleted), with all its entries."""

    event_type = "clock.catalog.lab.withdrawn.v1"
    reason: WithdrawalReason


# -- entries --------------------------------------------------------------------------------


class _EntryState(EventData):
    lab_id: str
    centre_id: str
    lab_name: Text
    province: str
    municipality: str
    status: EntryStatus
    tags: Tags
    actor: Actor


class _CompetenceState(_EntryState):
    competence_id: str
    title: Text
    description: Text
    trl_min: int = Field(ge=1, le=9, description="Technology readiness level, EU H2020 scale.")
    trl_max: int = Field(ge=1, le=9)
    keywords: list[str]


@event
class CompetencePublished(_CompetenceState):
    """A competence of a lab entered the public catalogue."""

    event_type = "clock.catalog.competence.published.v1"


@event
class CompetenceUpdated(_CompetenceState):
    """A published competence changed."""

    event_type = "clock.catalog.competence.updated.v1"
    changed: list[str]


@event
class CompetenceWithdrawn(_CompetenceState):
    """A competence left the public catalogue."""

    event_type = "clock.catalog.competence.withdrawn.v1"
    reason: WithdrawalReason


class _EquipmentState(_EntryState):
    equipment_id: str
    name: Text
    description: Text
    category: str | None
    manufacturer: str | None
    model: str | None
    year: int | None
    shareable: bool = Field(description="Other centres and firms may book it.")
    tariff_eur_per_hour: str | None = Field(description="EUR per hour, a decimal string.")
    booking_conditions: Text | None


@event
class EquipmentPublished(_EquipmentState):
    """A piece of equipment of a lab entered the public catalogue."""

    event_type = "clock.catalog.equipment.published.v1"


@event
class EquipmentUpdated(_EquipmentState):
    """A published piece of equipment changed."""

    event_type = "clock.catalog.equipment.updated.v1"
    changed: list[str]


@event
class EquipmentWithdrawn(_EquipmentState):
    """A piece of equipment left the public catalogue."""

    event_type = "clock.catalog.equipment.withdrawn.v1"
    reason: WithdrawalReason


class _ServiceState(_EntryState):
    service_id: str
    name: Text
    kind: ServiceKind
    description: Text
    price_model: str | None


@event
class ServicePublished(_ServiceState):
    """A service offering of a lab entered the public catalogue."""

    event_type = "clock.catalog.service.published.v1"


@event
class ServiceUpdated(_ServiceState):
    """A published service offering changed."""

    event_type = "clock.catalog.service.updated.v1"
    changed: list[str]


@event
class ServiceWithdrawn(_ServiceState):
    """A service offering left the public catalogue."""

    event_type = "clock.catalog.service.withdrawn.v1"
    reason: WithdrawalReason


# -- duplicates -----------------------------------------------------------------------------


class EntryRef(_Part):
    entity: Entity
    id: str
    centre_id: str
    lab_id: str


class _DuplicateState(EventData):
    pair_id: str
    entity: Entity
    a: EntryRef
    b: EntryRef
    similarity: float = Field(ge=0, le=1)
    reason: str


@event
class DuplicateFound(_DuplicateState):
    """Two published entries of different centres look like the same thing."""

    event_type = "clock.catalog.duplicate.found.v1"


@event
class DuplicateResolved(_DuplicateState):
    """The committee (through the Region) marked a pair as distinct or as to be shared."""

    event_type = "clock.catalog.duplicate.resolved.v1"
    resolution: Literal["distinct", "shared"]
    actor: Actor


# -- initiatives ----------------------------------------------------------------------------
#
# Programmes, projects, joint actions, training and dissemination events of the member
# centres (the initiatives register). Aggregates: `initiative` (subject: initiative id; the
# version is the initiative's, which also increments when a partner confirms) and
# `initiative_overlap` (subject: pair id). Drafts have no events: an initiative's first event is
# `initiative.created`, when it is created as planned or running, or leaves its draft.

InitiativeKind = Literal[
    "research_project", "innovation_project", "joint_action", "training", "dissemination_event"
]
InitiativeStatus = Literal["draft", "planned", "running", "closed"]
PartnerStatus = Literal["proposed", "confirmed"]


class InitiativePartner(_Part):
    """A member centre taking part besides the lead; `proposed` until it confirms."""

    centre_id: str
    status: PartnerStatus
    confirmed_at: datetime | None = None


class PartnerOrganisation(_Part):
    """A partner that is not a member centre: a university, firm or research body."""

    name: str
    kind: str = Field(description="university, firm, research_body, public_body or other")
    country: str = Field(description="ISO 3166-1 alpha-2.")


class _InitiativeState(EventData):
    initiative_id: str
    centre_id: str = Field(description="The lead centre (membership organisation id).")
    kind: InitiativeKind
    joint: bool = Field(description="Two or more member centres: a joint action.")
    title: Text
    description: Text
    partner_centres: list[InitiativePartner]
    partner_organisations: list[PartnerOrganisation]
    funding_programme: str | None = Field(description="Code, e.g. horizon_europe, pnrr.")
    funding_call: str | None
    budget_eur: str | None = Field(description="EUR, a decimal string.")
    public_funding_eur: str | None = Field(description="EUR, a decimal string.")
    start_date: date | None
    end_date: date | None
    start_time: str | None = Field(description="Events: local time (Europe/Rome), HH:MM.")
    end_time: str | None
    venue: str | None
    province: str | None = Field(description="Events: ISTAT two-letter code.")
    municipality: str | None
    registration_open: bool | None
    registered_participants: int | None
    attending_participants: int | None
    tags: Tags
    status: InitiativeStatus
    actor: Actor


@event
class InitiativeCreated(_InitiativeState):
    """An initiative entered the register (created as planned or running, or out of draft)."""

    event_type = "clock.catalog.initiative.created.v1"


@event
class InitiativeUpdated(_InitiativeState):
    """A registered initiative changed; carries the whole new state and the changed fields."""

    event_type = "clock.catalog.initiative.updated.v1"
    changed: list[str]


@event
class InitiativeClosed(_InitiativeState):
    """An initiative was closed (a project ended, an event is over)."""

    event_type = "clock.catalog.initiative.closed.v1"


@event
class InitiativeParticipationConfirmed(_InitiativeState):
    """A partner centre confirmed its participation in an initiative."""

    event_type = "clock.catalog.initiative.participation_confirmed.v1"
    partner_centre_id: str


@event
class InitiativeEventHeld(_InitiativeState):
    """A training or dissemination event took place: its attendance was recorded (again,
    when corrected)."""

    event_type = "clock.catalog.initiative.event_held.v1"
    registered: int | None = Field(description="Participants registered.")
    attending: int = Field(ge=0, description="Participants who attended.")


class InitiativeRef(_Part):
    initiative_id: str
    centre_id: str
    kind: InitiativeKind


class _OverlapState(EventData):
    overlap_id: str
    a: InitiativeRef
    b: InitiativeRef
    similarity: float = Field(ge=0, le=1)
    reason: str


@event
class InitiativeOverlapFound(_OverlapState):
    """Two initiatives of different centres look alike (topic, tags) in overlapping time."""

    event_type = "clock.catalog.initiative_overlap.found.v1"


@event
class InitiativeOverlapResolved(_OverlapState):
    """The committee (through the Region) marked an overlap as distinct or to coordinate."""

    event_type = "clock.catalog.initiative_overlap.resolved.v1"
    resolution: Literal["distinct", "to_coordinate"]
    actor: Actor
