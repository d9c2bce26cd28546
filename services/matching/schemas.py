"""Request and response bodies of the matching API (field names follow DESIGN.md)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from kernel.italy import normalise_vat
from kernel.openapi import NOT_BLANK, decimal_json_schema, patch_body_schema
from services.matching.sizes import SizeClass


class DemandStatus(StrEnum):
    OPEN = "open"
    MATCHED = "matched"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class IntroductionStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class EngagementKind(StrEnum):
    SERVICE = "service"
    JOINT_RESEARCH = "joint_research"
    EQUIPMENT_ACCESS = "equipment_access"


class EngagementStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Innovation(StrEnum):
    PRODUCT = "product"
    PROCESS = "process"
    NONE = "none"


class AccessStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED = "cancelled"


def _vat(value: str) -> str:
    return normalise_vat(value)  # InvalidVatNumber is a ValueError: 422 naming the field


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=200)
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=5000)
]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=2000)
]
VatNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=20),
    AfterValidator(_vat),
    Field(description="Partita IVA: 11 digits with a valid check digit (`IT` prefix accepted)."),
]
ProvinceCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$"),
    Field(description="ISTAT two-letter code (sigla), e.g. FI."),
]
Municipality = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=100),
    Field(description="Comune; must belong to the province."),
]
AtecoCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=10),
    Field(
        description="ATECO 2025 code, e.g. 13.20 (a 2007 code that maps to one 2025 code is "
        "accepted and converted)."
    ),
]
Euros = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, description="EUR, a decimal string."),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(decimal_json_schema(integer_digits=12, places=2), mode="validation"),
]
Trl = Annotated[int, Field(ge=1, le=9, description="Technology readiness level (1-9).")]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=50)
]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: end.")


# -- firms ----------------------------------------------------------------------------------


class Tags(In):
    ateco: list[Code] = Field(default_factory=list, max_length=50)
    s3: list[Code] = Field(default_factory=list, max_length=50)
    ket: list[Code] = Field(default_factory=list, max_length=50)
    erc: list[Code] = Field(default_factory=list, max_length=50)
    ford: list[Code] = Field(default_factory=list, max_length=50)


Capabilities = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=2000),
    Field(
        description="What the firm can do for others, as a supplier (products, processes, "
        "skills): the platform proposes it for challenges' needs it fits."
    ),
]


class FirmIn(In):
    name: Text
    vat_number: VatNumber
    ateco_code: AtecoCode
    size_class: SizeClass | None = Field(
        default=None,
        description="EU size class; derived from employees (and turnover or balance sheet) "
        "when they are given, required otherwise.",
    )
    employees: int | None = Field(default=None, ge=0, le=10_000_000)
    turnover_eur: Euros | None = None
    balance_sheet_eur: Euros | None = None
    province: ProvinceCode
    municipality: Municipality
    capabilities: Capabilities | None = None
    capability_tags: Tags = Field(
        default_factory=Tags, description="Codes of the capabilities, as a demand's needs have."
    )


class FirmPatch(In):
    """The capabilities (the rest of a firm is its registration). A field left out is kept;
    `capabilities: null` clears the description."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=patch_body_schema)

    required: ClassVar[tuple[str, ...]] = ("capability_tags",)

    capabilities: Capabilities | None = None
    capability_tags: Tags | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> FirmPatch:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        if "capability_tags" in self.model_fields_set and self.capability_tags is None:
            raise ValueError("capability_tags cannot be null (give {} to clear them)")
        return self


class FirmOut(Out):
    id: str
    name: str
    vat_number: str
    ateco_code: str
    ateco_title: str | None = None
    size_class: SizeClass
    employees: int | None
    turnover_eur: Euros | None
    balance_sheet_eur: Euros | None
    province: str
    municipality: str
    capabilities: str | None
    capability_tags: dict[str, list[str]]
    created_at: datetime
    version: int


# -- demands --------------------------------------------------------------------------------


class Need(In):
    text: LongText
    tags: Tags = Field(default_factory=Tags)


class DemandIn(In):
    firm_id: str = Field(max_length=36)
    title: Text
    description: LongText
    needs: list[Need] = Field(min_length=1, max_length=8, description="One or more; at most eight.")
    sector: AtecoCode | None = Field(default=None, description="Default: the firm's ATECO code.")
    trl_current: Trl | None = None
    trl_target: Trl | None = None
    budget_eur: Euros | None = None
    deadline: date | None = None
    preferred_provinces: list[ProvinceCode] = Field(default_factory=list, max_length=20)

    @field_validator("needs")
    @classmethod
    def _some_need(cls, needs: list[Need]) -> list[Need]:
        if not needs:
            raise ValueError("a demand needs at least one need")
        return needs

    @model_validator(mode="after")
    def _trl_path(self) -> DemandIn:
        if (
            self.trl_current is not None
            and self.trl_target is not None
            and self.trl_target < self.trl_current
        ):
            raise ValueError("trl_target cannot be below trl_current")
        return self


class NeedOut(Out):
    text: str
    tags: dict[str, list[str]]


class DemandOut(Out):
    id: str
    firm_id: str
    title: str
    description: str
    needs: list[NeedOut]
    sector: str | None
    trl_current: int | None
    trl_target: int | None
    budget_eur: Euros | None
    deadline: date | None
    preferred_provinces: list[str]
    status: DemandStatus
    partner_org_id: str | None
    assisting_centre_id: str | None
    challenge_id: str | None = Field(
        description="The challenge this demand backs (its publisher's demand), if any."
    )
    created_at: datetime
    updated_at: datetime
    version: int


class ReasonIn(In):
    reason: Reason


class OptionalReasonIn(In):
    reason: Reason | None = None


# -- matches and consortia ------------------------------------------------------------------


class Fit(Out):
    entity: Literal["lab", "competence", "equipment", "service"]
    id: str
    title: str


class ExplanationOut(Out):
    terms: list[str]
    tags: list[str]
    trl_fit: float | None = Field(description="Share of the demand's TRL path the entry covers.")
    distance_km: float | None
    cross_language: bool
    text: str


class MatchOut(Out):
    lab_id: str
    centre_id: str
    lab_name: str | None = None
    score: float = Field(ge=0, le=1)
    fit: Fit
    explanation: ExplanationOut
    evidence: dict[str, float] = Field(description="Each kind of evidence, in [0, 1].")


class InitiativeMatchOut(Out):
    """An open initiative of a member centre that fits the demand: a training course or a
    dissemination event still to come whose registration is not closed, or a running project
    or joint action."""

    initiative_id: str
    centre_id: str = Field(description="The lead centre.")
    kind: Literal[
        "research_project", "innovation_project", "joint_action", "training", "dissemination_event"
    ]
    title: str
    status: Literal["planned", "running"]
    start_date: date | None
    end_date: date | None
    province: str | None = Field(description="Events: where it takes place.")
    municipality: str | None
    funding_programme: str | None
    partner_centre_ids: list[str] = Field(
        description="Member centres besides the lead that confirmed their participation."
    )
    score: float = Field(ge=0, le=1)
    explanation: ExplanationOut
    evidence: dict[str, float] = Field(description="Each kind of evidence, in [0, 1].")


class MatchPage(BaseModel):
    items: list[MatchOut]
    next_cursor: str | None = None
    initiatives: list[InitiativeMatchOut] = Field(
        default_factory=list,
        description="Open initiatives that fit the demand (at most three), besides the labs.",
    )


class MemberOut(Out):
    need_index: int
    lab_id: str
    centre_id: str


class CoverageOut(Out):
    need_index: int
    score: float


class ConsortiumOut(Out):
    consortium_id: str
    members: list[MemberOut]
    coverage: list[CoverageOut]
    uncovered_needs: list[int]
    centres: int
    partners: int


class ConsortiumPage(BaseModel):
    items: list[ConsortiumOut]
    next_cursor: str | None = None


class GapOut(Out):
    demand_id: str
    firm_id: str
    firm_name: str
    firm_province: str = Field(description="ISTAT two-letter code of the firm's province.")
    sector: str = Field(description="The firm's ATECO 2025 code.")
    need_index: int = Field(ge=0, description="Position of the need in the demand's `needs`.")
    text: str
    tags: dict[str, list[str]] = Field(description="The need's tags.")
    best_score: float = Field(
        ge=0, le=1, description="Score of the best lab for the need; 0 when the index is empty."
    )
    best_lab_id: str | None = Field(description="The best lab for the need, if any.")
    best_centre_id: str | None
    submitted_at: datetime = Field(description="When the demand was submitted.")


class GapPage(BaseModel):
    items: list[GapOut] = Field(
        description="The needs no member lab covers, of the demands of this page, newest first."
    )
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: end.")
    demands_examined: int = Field(
        ge=0, description="Active demands of this page (a page may examine some and list none)."
    )
    min_score: float = Field(
        description="A need is a gap when no lab scores at least this for it (as for consortia)."
    )


# -- introductions and engagements ----------------------------------------------------------


class ConsortiumMemberIn(In):
    need_index: int = Field(ge=0)
    lab_id: str = Field(max_length=36)


class ConsortiumIn(In):
    members: list[ConsortiumMemberIn] = Field(min_length=1, max_length=16)


class IntroductionIn(In):
    lab_id: str | None = Field(default=None, max_length=36)
    entry_id: str | None = Field(
        default=None, max_length=36, description="The competence, equipment or service that fits."
    )
    consortium: ConsortiumIn | None = None
    kind: EngagementKind | None = Field(
        default=None,
        description="What the firm asks for; default from the fitting entry (equipment: "
        "equipment_access, service: service, otherwise joint_research).",
    )
    message: LongText | None = None

    @model_validator(mode="after")
    def _one_target(self) -> IntroductionIn:
        if (self.lab_id is None) == (self.consortium is None):
            raise ValueError("give either lab_id or consortium")
        return self


class IntroductionOut(Out):
    id: str
    demand_id: str
    firm_id: str
    lab_id: str
    centre_id: str
    entry_id: str | None
    consortium_id: str | None
    kind: EngagementKind
    status: IntroductionStatus
    message: str | None
    reason: str | None
    requested_at: datetime
    answered_at: datetime | None
    engagement_id: str | None
    version: int


class ConsortiumIntroductionOut(Out):
    consortium_id: str
    status: IntroductionStatus
    introductions: list[IntroductionOut]


class ParticipantOut(Out):
    lab_id: str
    centre_id: str
    introduction_id: str | None = Field(
        description="Null for a lab of an awarded challenge team that was never invited."
    )
    joined_at: datetime


class ClosureIn(In):
    value_eur: Euros
    delivered: bool
    satisfaction: int = Field(ge=1, le=5)
    innovation_introduced: Innovation


class EngagementOut(Out):
    id: str
    demand_id: str
    firm_id: str
    kind: EngagementKind
    status: EngagementStatus
    consortium_id: str | None
    challenge_id: str | None = Field(description="The challenge whose award opened it.")
    supplier_firm_id: str | None = Field(
        description="A firm of an awarded challenge team: the engagement is with it, and no "
        "lab takes part."
    )
    participants: list[ParticipantOut]
    centres: int
    opened_at: datetime
    closed_at: datetime | None
    value_eur: Euros | None
    delivered: bool | None
    satisfaction: int | None
    innovation_introduced: Innovation | None
    version: int


# -- equipment access -----------------------------------------------------------------------


class AccessIn(In):
    start: datetime
    end: datetime
    purpose: LongText
    firm_id: str | None = Field(
        default=None, max_length=36, description="The firm it is for (a firm: itself)."
    )

    @model_validator(mode="after")
    def _window(self) -> AccessIn:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a time zone (ISO 8601, e.g. Z)")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class AccessOut(Out):
    id: str
    equipment_id: str
    lab_id: str
    centre_id: str
    firm_id: str | None
    start: datetime
    end: datetime
    hours: float
    purpose: str
    status: AccessStatus
    reason: str | None
    requested_at: datetime
    answered_at: datetime | None
    cancelled_at: datetime | None
    version: int
