"""Request and response bodies of the initiatives register.

Text is a language map, tags the catalogue's `Tags` (unknown codes are a 422 naming the
field), money a decimal string in EUR (numbers accepted). Rules that involve more than one field
(end before start, an event's date and place, attendance against registrations, public funding
within the budget) are checked by the service on the state after the change, so a PATCH is
checked like a POST.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AnyHttpUrl, Field, StringConstraints, WithJsonSchema, field_validator

from kernel.openapi import NOT_BLANK, decimal_json_schema
from services.catalog.schemas import (
    NAME_MAX,
    ActorOut,
    DescriptionText,
    In,
    Municipality,
    NameText,
    Out,
    ProvinceCode,
    Tags,
    TagsOut,
    _Patch,
)


class InitiativeKind(StrEnum):
    RESEARCH_PROJECT = "research_project"
    INNOVATION_PROJECT = "innovation_project"
    JOINT_ACTION = "joint_action"
    TRAINING = "training"
    DISSEMINATION_EVENT = "dissemination_event"


EVENT_KINDS = frozenset({InitiativeKind.TRAINING.value, InitiativeKind.DISSEMINATION_EVENT.value})
"""Kinds that are events: a date, a place, participants; they are in the public calendar."""


class InitiativeStatus(StrEnum):
    DRAFT = "draft"
    PLANNED = "planned"
    RUNNING = "running"
    CLOSED = "closed"


class PartnerStatus(StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"


class OrganisationKind(StrEnum):
    UNIVERSITY = "university"
    FIRM = "firm"
    RESEARCH_BODY = "research_body"
    PUBLIC_BODY = "public_body"
    OTHER = "other"


class FundingProgramme(StrEnum):
    HORIZON_EUROPE = "horizon_europe"
    DIGITAL_EUROPE = "digital_europe"
    LIFE = "life"
    INTERREG = "interreg"
    ERASMUS_PLUS = "erasmus_plus"
    PNRR = "pnrr"
    ERDF_TUSCANY = "erdf_tuscany"
    ESF_TUSCANY = "esf_tuscany"
    NATIONAL = "national"
    REGIONAL = "regional"
    PRIVATE = "private"
    SELF_FUNDED = "self_funded"
    OTHER = "other"


FUNDING_LABELS: dict[str, dict[str, str]] = {
    "horizon_europe": {"it": "Horizon Europe", "en": "Horizon Europe"},
    "digital_europe": {"it": "Europa digitale", "en": "Digital Europe Programme"},
    "life": {"it": "Programma LIFE", "en": "LIFE Programme"},
    "interreg": {"it": "Interreg", "en": "Interreg"},
    "erasmus_plus": {"it": "Erasmus+", "en": "Erasmus+"},
    "pnrr": {
        "it": "Piano nazionale di ripresa e resilienza (PNRR)",
        "en": "National Recovery and Resilience Plan (PNRR)",
    },
    "erdf_tuscany": {
        "it": "Programma regionale FESR Toscana 2021-2027",
        "en": "Tuscany regional ERDF programme 2021-2027",
    },
    "esf_tuscany": {
        "it": "Programma regionale FSE+ Toscana 2021-2027",
        "en": "Tuscany regional ESF+ programme 2021-2027",
    },
    "national": {"it": "Programma nazionale", "en": "National programme"},
    "regional": {"it": "Altro programma regionale", "en": "Other regional programme"},
    "private": {"it": "Finanziamento privato", "en": "Private funding"},
    "self_funded": {"it": "Autofinanziato", "en": "Self-funded"},
    "other": {"it": "Altro", "en": "Other"},
}

KIND_LABELS: dict[str, dict[str, str]] = {
    "research_project": {"it": "Progetto di ricerca", "en": "Research project"},
    "innovation_project": {"it": "Progetto di innovazione", "en": "Innovation project"},
    "joint_action": {"it": "Azione congiunta", "en": "Joint action"},
    "training": {"it": "Formazione", "en": "Training"},
    "dissemination_event": {"it": "Evento di divulgazione", "en": "Dissemination event"},
}


class OverlapStatus(StrEnum):
    OPEN = "open"
    DISTINCT = "distinct"
    TO_COORDINATE = "to_coordinate"


Money = Annotated[
    Decimal,
    Field(
        ge=0,
        le=Decimal("999999999999.99"),
        max_digits=14,
        decimal_places=2,
        description='EUR, a decimal string such as "250000.00" (numbers accepted).',
    ),
    WithJsonSchema(decimal_json_schema(integer_digits=12, places=2)),
]
LocalTime = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    Field(description="Local time in Italy (Europe/Rome), HH:MM."),
]
Text200 = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=NAME_MAX),
]
CountryCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$"),
    Field(description="ISO 3166-1 alpha-2, e.g. IT."),
]
CentreRef = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=36, pattern=NOT_BLANK)
]
Participants = Annotated[int, Field(ge=0, le=1_000_000)]


class PartnerOrganisationIn(In):
    name: Text200
    kind: OrganisationKind
    country: CountryCode = "IT"


class LinkIn(In):
    url: Annotated[AnyHttpUrl, Field(description="An http(s) address.")]
    title: Text200 | None = None


PartnerCentres = Annotated[
    list[CentreRef],
    Field(
        max_length=30,
        description="Other member centres taking part (organisation ids); each confirms.",
    ),
]
PartnerOrganisations = Annotated[list[PartnerOrganisationIn], Field(max_length=50)]
Links = Annotated[list[LinkIn], Field(max_length=20)]


class InitiativeIn(In):
    kind: InitiativeKind
    title: NameText
    description: DescriptionText | None = None
    status: InitiativeStatus = Field(
        default=InitiativeStatus.PLANNED,
        description="draft (private to the centres involved), planned or running.",
    )
    partner_centres: PartnerCentres = Field(default_factory=list)
    partner_organisations: PartnerOrganisations = Field(default_factory=list)
    funding_programme: FundingProgramme | None = None
    funding_call: Text200 | None = Field(default=None, description="E.g. HORIZON-CL4-2024-01.")
    budget_eur: Money | None = None
    public_funding_eur: Money | None = None
    start_date: date | None = Field(default=None, description="Events: the date (required).")
    end_date: date | None = Field(default=None, description="Not before start_date.")
    start_time: LocalTime | None = None
    end_time: LocalTime | None = None
    venue: Text200 | None = None
    province: ProvinceCode | None = Field(default=None, description="Events (required).")
    municipality: Municipality | None = None
    registration_open: bool | None = Field(
        default=None, description="Events: registration still open (default true)."
    )
    registered_participants: Participants | None = None
    attending_participants: Participants | None = Field(
        default=None,
        description="Events: recorded once held; above the registered ones only while "
        "registration is open (walk-ins).",
    )
    tags: Tags = Field(default_factory=lambda: Tags())
    links: Links = Field(default_factory=list)


class InitiativePatch(_Patch):
    required = (
        "kind",
        "title",
        "status",
        "partner_centres",
        "partner_organisations",
        "tags",
        "links",
    )

    kind: InitiativeKind | None = None
    title: NameText | None = None
    description: DescriptionText | None = None
    status: InitiativeStatus | None = None
    partner_centres: PartnerCentres | None = None
    partner_organisations: PartnerOrganisations | None = None
    funding_programme: FundingProgramme | None = None
    funding_call: Text200 | None = None
    budget_eur: Money | None = None
    public_funding_eur: Money | None = None
    start_date: date | None = None
    end_date: date | None = None
    start_time: LocalTime | None = None
    end_time: LocalTime | None = None
    venue: Text200 | None = None
    province: ProvinceCode | None = None
    municipality: Municipality | None = None
    registration_open: bool | None = None
    registered_participants: Participants | None = None
    attending_participants: Participants | None = None
    tags: Tags | None = None
    links: Links | None = None


class PartnerCentreOut(Out):
    centre_id: str
    status: PartnerStatus
    confirmed_at: datetime | None


class PartnerOrganisationOut(Out):
    name: str
    kind: OrganisationKind
    country: str


class LinkOut(Out):
    url: str
    title: str | None


class InitiativeOut(Out):
    id: str
    centre_id: str = Field(description="The lead centre.")
    kind: InitiativeKind
    joint: bool = Field(description="Two or more member centres take part: a joint action.")
    title: dict[str, str]
    description: dict[str, str]
    partner_centres: list[PartnerCentreOut]
    partner_organisations: list[PartnerOrganisationOut]
    funding_programme: FundingProgramme | None
    funding_call: str | None
    budget_eur: str | None = Field(description="EUR, a decimal string.")
    public_funding_eur: str | None = Field(description="EUR, a decimal string.")
    start_date: date | None
    end_date: date | None
    start_time: str | None
    end_time: str | None
    venue: str | None
    province: str | None
    municipality: str | None
    registration_open: bool | None
    registered_participants: int | None
    attending_participants: int | None
    tags: TagsOut
    links: list[LinkOut]
    status: InitiativeStatus
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int


class PossibleOverlap(Out):
    id: str = Field(description="The other initiative.")
    centre_id: str
    kind: InitiativeKind
    title: dict[str, str]
    similarity: float
    reason: str
    overlap_id: str | None = Field(
        description="The stored pair (`GET /initiatives/overlaps`); null while a draft."
    )


class InitiativeWritten(InitiativeOut):
    possible_overlaps: list[PossibleOverlap] = Field(
        description="Similar initiatives of other centres in an overlapping time window."
    )


class InitiativeRef(Out):
    id: str
    centre_id: str
    kind: InitiativeKind


class OverlapOut(Out):
    id: str
    a: InitiativeRef
    b: InitiativeRef
    similarity: float
    reason: str
    status: OverlapStatus
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolved_by: ActorOut | None


class OverlapResolutionIn(In):
    resolution: Annotated[
        OverlapStatus,
        Field(
            description="distinct (not the same thing) or to_coordinate (the centres should "
            "coordinate)",
            json_schema_extra={
                "enum": [OverlapStatus.DISTINCT.value, OverlapStatus.TO_COORDINATE.value]
            },
        ),
    ]

    @field_validator("resolution")
    @classmethod
    def _not_open(cls, value: OverlapStatus) -> OverlapStatus:
        if value is OverlapStatus.OPEN:
            raise ValueError("resolution must be distinct or to_coordinate")
        return value


class ExportFormat(StrEnum):
    JSONLD = "jsonld"
