"""Request and response bodies of the membership API (field names follow DESIGN.md)."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from kernel.italy import normalise_vat
from kernel.openapi import NOT_BLANK, patch_body_schema


class OrganisationKind(StrEnum):
    TECHNOLOGY_TRANSFER_CENTRE = "technology_transfer_centre"
    UNIVERSITY = "university"
    RESEARCH_ORGANISATION = "research_organisation"
    COMPETENCE_CENTRE = "competence_centre"
    INCUBATOR = "incubator"
    PUBLIC_BODY = "public_body"
    OTHER = "other"


class MemberRole(StrEnum):
    REGION = "region"
    """The Region, signatory of the protocol."""
    FOUNDING = "founding"
    """A founding centre, signatory of the protocol."""
    ADHERING = "adhering"
    """An organisation admitted later, on application."""


class MemberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class ApplicationStatus(StrEnum):
    UNDER_REVIEW = "under_review"
    INELIGIBLE = "ineligible"
    ADMITTED = "admitted"
    REJECTED = "rejected"


class Action(StrEnum):
    """What can happen to a membership; the first three are endpoints, expiry is automatic."""

    SUSPENSION = "suspension"
    REINSTATEMENT = "reinstatement"
    WITHDRAWAL = "withdrawal"
    EXPIRY = "expiry"


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
WEBSITE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def _email(value: str) -> str:
    if not EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value.lower()


def _website(value: str) -> str:
    if not WEBSITE.match(value):
        raise ValueError("not a web address (http:// or https://)")
    return value


def _vat(value: str) -> str:
    return normalise_vat(value)  # InvalidVatNumber is a ValueError: 422 naming the field


def _province(value: str) -> str:
    return value.upper()


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=200)
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=30)
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=5000)
]
# The schema states what the validators check (surrounding blanks are stripped first).
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254),
    AfterValidator(_email),
    Field(json_schema_extra={"pattern": r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$"}),
]
Website = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=300),
    AfterValidator(_website),
    Field(json_schema_extra={"pattern": r"^\s*[hH][tT][tT][pP][sS]?://[^\s/$.?#][^\s]*\s*$"}),
]
VatNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=20),
    AfterValidator(_vat),
    Field(description="Partita IVA: 11 digits with a valid check digit (`IT` prefix accepted)."),
]
ProvinceCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}$"),
    AfterValidator(_province),
    Field(description="ISTAT two-letter code (sigla), e.g. FI."),
]
Municipality = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=100),
    Field(description="Comune; must belong to the province."),
]
Address = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=300)
]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: end.")


# -- organisations --------------------------------------------------------------------------


class OrganisationIn(In):
    name: Text
    acronym: ShortText | None = None
    kind: OrganisationKind
    legal_form: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = (
        None
    )
    vat_number: VatNumber | None = None
    province: ProvinceCode
    municipality: Municipality
    address: Address | None = None
    website: Website | None = None
    email: Email | None = None


REQUIRED_ORGANISATION_FIELDS = ("name", "kind", "province", "municipality")


class OrganisationPatch(In):
    """Any subset of the organisation's fields; required ones cannot be set to null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=patch_body_schema)

    required: ClassVar[tuple[str, ...]] = REQUIRED_ORGANISATION_FIELDS

    name: Text | None = None
    acronym: ShortText | None = None
    kind: OrganisationKind | None = None
    legal_form: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = (
        None
    )
    vat_number: VatNumber | None = None
    province: ProvinceCode | None = None
    municipality: Municipality | None = None
    address: Address | None = None
    website: Website | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> OrganisationPatch:
        for name in REQUIRED_ORGANISATION_FIELDS:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class MembershipSummary(Out):
    role: MemberRole
    status: MemberStatus
    term_end: date


class OrganisationOut(Out):
    id: str
    name: str
    acronym: str | None
    kind: OrganisationKind
    legal_form: str | None
    vat_number: str | None
    province: str
    municipality: str
    address: str | None
    website: str | None
    email: str | None
    membership: MembershipSummary | None
    created_at: datetime
    updated_at: datetime
    version: int


# -- applications ---------------------------------------------------------------------------


class Declarations(In):
    operates_in_tuscany: bool
    operates_in_technology_transfer: bool
    offer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = Field(
        description="What the candidate offers to the platform (labs, services, skills)."
    )


class RepresentativeIn(In):
    full_name: Text
    email: Email
    position: Text


class OperatingUnit(In):
    """A seat other than the registered one (e.g. a Tuscan lab of a company based elsewhere)."""

    province: ProvinceCode
    municipality: Municipality
    address: Address | None = None


class ApplicationIn(In):
    organisation: OrganisationIn
    declarations: Declarations
    representative: RepresentativeIn
    operating_units: list[OperatingUnit] = Field(default_factory=list, max_length=20)


class EligibilityCheck(Out):
    check: str
    passed: bool
    detail: str


class Votes(In):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    for_: int = Field(alias="for", ge=0)
    against: int = Field(ge=0)
    abstained: int = Field(ge=0)


class DecisionIn(In):
    decision: Literal["admit", "reject"]
    motivation: LongText
    votes: Votes | None = None

    @field_validator("votes")
    @classmethod
    def _carried(cls, votes: Votes | None) -> Votes | None:
        if votes is not None and votes.for_ <= votes.against:
            raise ValueError(
                "the committee did not carry this decision: votes for must exceed votes against"
            )
        return votes


class ActorOut(Out):
    role: str
    org_id: str | None
    key_id: str | None


class DecisionOut(Out):
    decision: Literal["admit", "reject"]
    motivation: str
    votes: Votes | None
    decided_at: datetime
    decided_by: ActorOut


class RepresentativeProposal(Out):
    full_name: str
    email: str
    position: str


class ApplicationOut(Out):
    id: str
    status: ApplicationStatus
    organisation: dict[str, Any]
    declarations: Declarations
    representative: RepresentativeProposal
    operating_units: list[dict[str, Any]]
    eligibility: list[EligibilityCheck]
    organisation_id: str | None
    decision: DecisionOut | None
    created_at: datetime
    updated_at: datetime


class ApplicationCreated(ApplicationOut):
    token: str = Field(
        description="Secret to follow this application (header X-Application-Token or query "
        "`token`); shown once, only its hash is stored."
    )


# -- members --------------------------------------------------------------------------------


class ReasonIn(In):
    reason: LongText


class MemberOut(Out):
    organisation_id: str
    name: str
    acronym: str | None
    kind: OrganisationKind
    province: str
    municipality: str
    role: MemberRole
    status: MemberStatus
    term_end: date
    since: datetime
    updated_at: datetime
    allowed_actions: list[Action] = Field(
        description="Transitions an authorised caller may request now."
    )


class TransitionOut(Out):
    seq: int
    action: str
    from_status: MemberStatus | None
    to_status: MemberStatus
    actor: ActorOut
    at: datetime
    reason: str


class RepresentativeOut(Out):
    id: str
    organisation_id: str
    full_name: str
    email: str
    position: str
    since: datetime
    until: datetime | None
    appointed_by: ActorOut


class SeatRepresentative(Out):
    full_name: str
    email: str
    position: str
    since: datetime


class CommitteeSeat(Out):
    organisation_id: str
    name: str
    acronym: str | None
    role: MemberRole
    representative: SeatRepresentative | None = Field(description="null while the seat is vacant")


# -- protocol -------------------------------------------------------------------------------


class RenewalIn(In):
    renewed_on: date | None = Field(
        default=None, description="Date the renewal was signed; default today."
    )
    note: LongText | None = None


class RenewalOut(Out):
    id: str
    renewed_on: date
    previous_term_end: date
    term_end: date
    note: str | None
    actor: ActorOut
    created_at: datetime


class ProtocolOut(Out):
    id: str
    signed_on: date
    term_years: int
    term_end: date = Field(description="Last day the protocol is in force.")
    status: Literal["in_force", "expired"]
    renewals: list[RenewalOut]
    version: int
