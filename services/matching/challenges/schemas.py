"""Request and response bodies of the challenges API."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from kernel.openapi import patch_body_schema
from services.matching.schemas import (
    AtecoCode,
    CoverageOut,
    EngagementOut,
    Euros,
    ExplanationOut,
    In,
    LongText,
    Need,
    NeedOut,
    Out,
    Text,
    Trl,
)
from services.matching.sizes import SizeClass


class ChallengeStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    EVALUATING = "evaluating"
    AWARDED = "awarded"
    CLOSED = "closed"


class Visibility(StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"
    INVITED = "invited"


MemberKind = Literal["firm", "lab"]
Id = Annotated[str, Field(min_length=1, max_length=36)]


def _utc(value: datetime) -> datetime:
    """In UTC, and far enough from the end of the calendar to be shown in any time zone."""
    try:
        moment = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the date is out of range") from exc
    if moment.year > 9998:
        raise ValueError("the date is out of range")
    return moment


Deadline = Annotated[
    AwareDatetime,
    AfterValidator(_utc),
    Field(
        description="Expressions of interest are taken until then (ISO 8601 with a time zone); "
        "in the future when the challenge is published."
    ),
]


class CriterionIn(In):
    name: Text
    weight: int | None = Field(
        default=None, ge=0, le=100, description="Its weight, 0-100; null: not weighted."
    )


Needs = Annotated[list[Need], Field(min_length=1, max_length=10, description="One to ten.")]
Criteria = Annotated[
    list[CriterionIn],
    Field(min_length=1, max_length=10, description="What the publisher will judge by (1-10)."),
]
InvitedFirms = Annotated[
    list[Id],
    Field(
        max_length=50,
        description="Registered firms that may see and answer an `invited` challenge (only "
        "for that visibility); the firms of the teams it invites may too.",
    ),
]


class ChallengeIn(In):
    publisher_firm_id: Id | None = Field(
        default=None,
        description="The publishing firm: a large firm's own key publishes for itself (the "
        "default); the Region or a centre, for any registered firm.",
    )
    title: Text
    description: LongText
    needs: Needs
    sector: AtecoCode | None = Field(default=None, description="Default: the publisher's.")
    trl_expected: Trl | None = None
    budget_eur: Euros | None = None
    prize_eur: Euros | None = None
    deadline: Deadline
    visibility: Visibility = Visibility.PUBLIC
    invited_firm_ids: InvitedFirms = Field(default_factory=list)
    criteria: Criteria
    status: Literal["draft", "open"] = Field(
        default="draft", description="`open` publishes it at once."
    )


class ChallengePatch(In):
    """Any subset of a draft's fields; those listed in `required` cannot be null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=patch_body_schema)

    required: ClassVar[tuple[str, ...]] = (
        "title",
        "description",
        "needs",
        "deadline",
        "visibility",
        "invited_firm_ids",
        "criteria",
    )

    title: Text | None = None
    description: LongText | None = None
    needs: Needs | None = None
    sector: AtecoCode | None = None
    trl_expected: Trl | None = None
    budget_eur: Euros | None = None
    prize_eur: Euros | None = None
    deadline: Deadline | None = None
    visibility: Visibility | None = None
    invited_firm_ids: InvitedFirms | None = None
    criteria: Criteria | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ChallengePatch:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in self.required:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class CriterionOut(Out):
    name: str
    weight: int | None


class ChallengeOut(Out):
    id: str
    publisher_firm_id: str
    publisher_name: str
    demand_id: str | None = Field(description="The publisher's demand backing it, once published.")
    title: str
    description: str
    needs: list[NeedOut]
    sector: str
    trl_expected: int | None
    budget_eur: Euros | None
    prize_eur: Euros | None
    deadline: datetime
    visibility: Visibility
    invited_firm_ids: list[str] | None = Field(
        description="The firms it lists (publisher side and Region only; null to others)."
    )
    criteria: list[CriterionOut]
    status: ChallengeStatus = Field(
        description="An open challenge whose deadline has passed is `evaluating`."
    )
    expressions_count: int
    published_at: datetime | None
    closed_at: datetime | None = Field(description="When it was awarded or closed.")
    close_reason: str | None
    awarded_expression_id: str | None
    award_value_eur: Euros | None
    created_at: datetime
    updated_at: datetime
    version: int


class AwardIn(In):
    expression_id: Id = Field(description="The shortlisted expression of interest awarded.")
    value_eur: Euros = Field(description="What the award is worth.")


class AwardOut(BaseModel):
    challenge: ChallengeOut
    engagements: list[EngagementOut] = Field(description="One per member of the team.")


# -- expressions of interest ----------------------------------------------------------------


class MemberIn(In):
    """A firm (`firm_id`) or a lab of a member centre (`lab_id`)."""

    firm_id: Id | None = None
    lab_id: Id | None = None

    @model_validator(mode="after")
    def _one(self) -> MemberIn:
        if (self.firm_id is None) == (self.lab_id is None):
            raise ValueError("give either firm_id or lab_id")
        return self


class ResponseIn(In):
    need_index: int = Field(ge=0, description="The need answered (from 0).")
    text: LongText = Field(description="How the team meets it.")
    members: list[Annotated[int, Field(ge=0)]] = Field(
        min_length=1, max_length=10, description="Who meets it: indexes into `members`."
    )


Members = Annotated[
    list[MemberIn],
    Field(
        min_length=1,
        max_length=10,
        description="The team: the respondent (its firm, or a lab of its centre) among them.",
    ),
]
Responses = Annotated[list[ResponseIn], Field(min_length=1, max_length=10)]


class ExpressionIn(In):
    members: Members
    responses: Responses
    message: LongText | None = None


class ExpressionPatch(In):
    """Any subset of the fields (before the deadline)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=patch_body_schema)

    required: ClassVar[tuple[str, ...]] = ("members", "responses")

    members: Members | None = None
    responses: Responses | None = None
    message: LongText | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ExpressionPatch:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in self.required:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ExpressionMemberOut(Out):
    """A member of a team. Until the expression is shortlisted, the publisher sees no identity:
    a firm's size class, province and sector, a lab's province."""

    kind: MemberKind
    firm_id: str | None
    lab_id: str | None
    name: str | None
    centre_id: str | None
    size_class: SizeClass | None
    sme: bool | None
    province: str | None
    sector: str | None = Field(description="A firm's ATECO code.")


class ResponseOut(Out):
    need_index: int
    text: str
    members: list[int]


class ExpressionOut(Out):
    id: str
    challenge_id: str
    alias: str = Field(description="`Respondent N`, by order of submission.")
    anonymous: bool = Field(description="Identities withheld (the publisher, until shortlisted).")
    respondent_kind: Literal["firm", "centre"]
    respondent_org_id: str | None
    members: list[ExpressionMemberOut]
    responses: list[ResponseOut]
    message: str | None
    shortlisted: bool
    shortlisted_at: datetime | None
    submitted_at: datetime
    updated_at: datetime
    version: int


# -- proposed teams -------------------------------------------------------------------------


class FitOut(BaseModel):
    need_index: int
    score: float = Field(ge=0, le=1)
    explanation: ExplanationOut


class TeamMemberOut(BaseModel):
    kind: MemberKind
    firm_id: str | None
    lab_id: str | None
    name: str
    centre_id: str | None = Field(description="A lab's centre.")
    size_class: SizeClass | None = Field(description="A firm's.")
    province: str | None
    need_indexes: list[int]
    fits: list[FitOut] = Field(description="Why it fits each need it covers.")


class TeamOut(BaseModel):
    team_id: str = Field(description="Stable for the same members and needs.")
    members: list[TeamMemberOut]
    coverage: list[CoverageOut]
    uncovered_needs: list[int]
    smes: int
    labs: int
    centres: int = Field(description="Member centres of its labs.")
    answered: bool | None = Field(
        description="It answered (an expression with the same members). The publisher is told "
        "only of shortlisted expressions (null otherwise: answers are anonymous until then)."
    )
    expression_id: str | None
    invited: bool


class TeamPage(BaseModel):
    items: list[TeamOut]
    next_cursor: str | None = None


class InvitationIn(In):
    message: LongText | None = None


class InvitedMemberOut(BaseModel):
    kind: MemberKind
    firm_id: str | None
    lab_id: str | None
    centre_id: str | None
    need_indexes: list[int]


class InvitationOut(BaseModel):
    id: str
    challenge_id: str
    team_id: str
    members: list[InvitedMemberOut]
    introduction_ids: list[str] = Field(description="One per lab, to its centre.")
    message: str | None
    invited_at: datetime
