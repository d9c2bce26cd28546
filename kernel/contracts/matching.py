"""Events of the matching service (stream CLOCK_MATCHING).

Reporting counts demands, SMEs served, matches, introductions, engagements, consortia and
equipment access from these alone, so each event carries the dimensions it reports by (the
firm's size class, province and ATECO sector; centre and lab ids; kinds, values, timestamps),
not only what changed. No personal data: firms are enterprises, named by name and VAT number.

Aggregates and subjects (the version is the row's, incremented on every change):
- `firm` (subject: firm id),
- `demand` (subject: demand id): submitted, updated (status and other changes),
  matches_proposed and consortia_proposed (a new ranking was shown for the demand),
- `introduction` (subject: introduction id),
- `engagement` (subject: engagement id),
- `access_request` (subject: access request id),
- `challenge` (subject: challenge id): published, closed (without award), awarded, and
  team_invited (the publisher invited a proposed team);
- `expression` (subject: expression id): submitted (the first time; updates are not events).

A challenge is backed by a demand of its publisher (`challenge_id` on the demand's events), so
that its invitations are introductions and its award opens engagements like any demand's.

Money is a decimal string in EUR.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kernel.events import EventData, event

SizeClass = Literal["micro", "small", "medium", "large"]
DemandStatus = Literal["open", "matched", "in_progress", "closed", "cancelled"]
EngagementKind = Literal["service", "joint_research", "equipment_access"]
Innovation = Literal["product", "process", "none"]
ChallengeStatus = Literal["draft", "open", "evaluating", "awarded", "closed"]
ChallengeVisibility = Literal["public", "members", "invited"]
RespondentKind = Literal["firm", "centre"]
Entity = Literal["lab", "competence", "equipment", "service"]
InitiativeKind = Literal[
    "research_project", "innovation_project", "joint_action", "training", "dissemination_event"
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(_Part):
    """Who caused the change: a principal's role and ids, or `system`."""

    role: str = Field(description="region, centre, firm, partner or system")
    org_id: str | None = None
    key_id: str | None = None


class FirmProfile(_Part):
    """The firm's reporting dimensions, as of the event."""

    firm_id: str
    size_class: SizeClass
    sme: bool = Field(description="micro, small or medium (EU Recommendation 2003/361/EC).")
    province: str = Field(description="ISTAT two-letter code.")
    ateco_code: str = Field(description="ATECO 2025 code.")
    ateco_section: str = Field(description="ATECO section letter, e.g. C.")
    ateco_division: str = Field(description="Two-digit ATECO division, e.g. 13; may be empty.")


class Need(_Part):
    text: str
    tags: dict[str, list[str]]


class LabTags(_Part):
    """Smart-specialisation priorities and key enabling technologies of the labs involved,
    as the catalogue tagged them at the time of the event (so that reports need no other
    stream to break the event down)."""

    s3: list[str] = Field(default_factory=list)
    ket: list[str] = Field(default_factory=list)


class ProposedMatch(_Part):
    rank: int = Field(ge=1)
    lab_id: str
    centre_id: str
    entity: Entity
    entry_id: str
    score: float = Field(ge=0, le=1)
    cross_language: bool
    distance_km: float | None


class ProposedInitiative(_Part):
    """An open initiative of a member centre (training course or event to come, running
    project) proposed with a demand's matches."""

    rank: int = Field(ge=1)
    initiative_id: str
    centre_id: str = Field(description="The lead centre.")
    kind: InitiativeKind
    score: float = Field(ge=0, le=1)


class ConsortiumMember(_Part):
    need_index: int = Field(ge=0)
    lab_id: str
    centre_id: str


class ProposedConsortium(_Part):
    consortium_id: str
    size: int = Field(ge=1, description="Number of labs (partners).")
    centres: int = Field(ge=1)
    members: list[ConsortiumMember]
    uncovered_needs: list[int]


# -- firm -----------------------------------------------------------------------------------


@event
class FirmRegistered(EventData):
    """A firm was registered in matching (by the Region, a partner or a centre)."""

    event_type = "clock.matching.firm.registered.v1"
    firm_id: str
    name: str
    vat_number: str
    profile: FirmProfile
    municipality: str
    employees: int | None
    turnover_eur: str | None
    balance_sheet_eur: str | None
    registered_by: Actor
    registered_at: datetime


# -- demand ---------------------------------------------------------------------------------


class _DemandState(EventData):
    demand_id: str
    firm: FirmProfile
    status: DemandStatus
    title: str
    needs: list[Need]
    needs_count: int = Field(ge=1)
    sector: str | None = Field(description="ATECO 2025 code of the demand's sector.")
    trl_current: int | None
    trl_target: int | None
    budget_eur: str | None
    deadline: date | None
    preferred_provinces: list[str]
    submitted_by: Actor
    partner_org_id: str | None = Field(description="The partner that submitted it for the firm.")
    assisting_centre_id: str | None = Field(
        description="The centre that submitted it for the firm."
    )
    submitted_at: datetime
    challenge_id: str | None = Field(
        default=None,
        description="The challenge this demand backs (a large firm's challenge is published as "
        "a demand of its own, so that its invitations and award reuse introductions and "
        "engagements); null for a firm's own demand.",
    )


@event
class DemandSubmitted(_DemandState):
    """A demand was submitted (by the firm, a partner, a centre or the Region)."""

    event_type = "clock.matching.demand.submitted.v1"


@event
class DemandUpdated(_DemandState):
    """A demand changed, e.g. its status (open → matched → in_progress → closed | cancelled)."""

    event_type = "clock.matching.demand.updated.v1"
    previous_status: DemandStatus
    changed: list[str]
    reason: str | None
    actor: Actor
    updated_at: datetime


@event
class MatchesProposed(EventData):
    """Labs, and open initiatives that fit, were proposed for a demand (when they changed)."""

    event_type = "clock.matching.demand.matches_proposed.v1"
    demand_id: str
    firm: FirmProfile
    matches: list[ProposedMatch]
    centre_ids: list[str]
    lab_ids: list[str]
    cross_language: bool = Field(description="At least one proposed match crossed languages.")
    index_generation: int
    proposed_at: datetime
    initiatives: list[ProposedInitiative] = Field(
        default_factory=list,
        description="Open initiatives of the member centres proposed besides the labs (none in "
        "events recorded before they were).",
    )


@event
class ConsortiaProposed(EventData):
    """Teams of labs were proposed for a demand with several needs."""

    event_type = "clock.matching.demand.consortia_proposed.v1"
    demand_id: str
    firm: FirmProfile
    needs_count: int
    consortia: list[ProposedConsortium]
    proposed_at: datetime


# -- introduction ---------------------------------------------------------------------------


class _Introduction(EventData):
    introduction_id: str
    demand_id: str
    firm: FirmProfile
    lab_id: str
    centre_id: str
    entry_id: str | None = Field(description="The catalogue entry that fitted, if chosen.")
    consortium_id: str | None
    consortium_size: int | None
    consortium_centres: int | None
    requested_at: datetime
    requested_by: Actor
    lab_tags: LabTags = Field(default_factory=LabTags)


@event
class IntroductionRequested(_Introduction):
    """A firm (or someone for it) asked to be introduced to a lab."""

    event_type = "clock.matching.introduction.requested.v1"


@event
class IntroductionAccepted(_Introduction):
    """The lab's centre accepted; an engagement is open (for an invitation to a challenge's
    team: once the challenge is awarded to it)."""

    event_type = "clock.matching.introduction.accepted.v1"
    answered_at: datetime
    answered_by: Actor
    reason: str | None
    engagement_id: str | None = Field(
        default=None,
        description="The engagement opened or joined; null when the introduction is an "
        "invitation to a challenge's team (the challenge's award opens the engagements).",
    )
    hours_to_answer: float


@event
class IntroductionDeclined(_Introduction):
    """The lab's centre declined, with a reason."""

    event_type = "clock.matching.introduction.declined.v1"
    answered_at: datetime
    answered_by: Actor
    reason: str
    hours_to_answer: float


# -- engagement -----------------------------------------------------------------------------


class _Engagement(EventData):
    engagement_id: str
    demand_id: str
    firm: FirmProfile
    kind: EngagementKind
    centre_ids: list[str]
    lab_ids: list[str]
    cross_centre: bool = Field(description="More than one centre takes part.")
    consortium_id: str | None
    consortium_size: int | None
    introduction_ids: list[str]
    opened_at: datetime
    lab_tags: LabTags = Field(default_factory=LabTags)
    challenge_id: str | None = Field(
        default=None, description="The challenge whose award opened it, if any."
    )
    supplier_firm: FirmProfile | None = Field(
        default=None,
        description="A firm of an awarded challenge team: the engagement is between the "
        "publisher and this firm (no lab: `lab_ids` and `centre_ids` are empty).",
    )


@event
class EngagementOpened(_Engagement):
    """Work started between a firm and one or more labs (from an accepted introduction)."""

    event_type = "clock.matching.engagement.opened.v1"


@event
class EngagementJoined(_Engagement):
    """Another lab of the consortium accepted and joined an open engagement."""

    event_type = "clock.matching.engagement.joined.v1"
    joined_lab_id: str
    joined_centre_id: str


@event
class EngagementClosed(_Engagement):
    """The engagement ended with its outcome."""

    event_type = "clock.matching.engagement.closed.v1"
    closed_at: datetime
    value_eur: str
    delivered: bool
    satisfaction: int = Field(ge=1, le=5)
    innovation_introduced: Innovation
    duration_days: float
    closed_by: Actor


# -- equipment access -----------------------------------------------------------------------


class _Access(EventData):
    request_id: str
    equipment_id: str
    lab_id: str
    centre_id: str
    firm: FirmProfile | None
    requester: Actor
    start: datetime
    end: datetime
    hours: float
    requested_at: datetime
    lab_tags: LabTags = Field(default_factory=LabTags)


@event
class AccessRequested(_Access):
    """Someone asked to use a piece of shareable equipment for a time window."""

    event_type = "clock.matching.access_request.requested.v1"


@event
class AccessApproved(_Access):
    """The owning centre approved the window (now booked)."""

    event_type = "clock.matching.access_request.approved.v1"
    answered_at: datetime
    answered_by: Actor
    reason: str | None


@event
class AccessDeclined(_Access):
    """The owning centre declined the request."""

    event_type = "clock.matching.access_request.declined.v1"
    answered_at: datetime
    answered_by: Actor
    reason: str


@event
class AccessCancelled(_Access):
    """The request (pending or approved) was cancelled; an approved window is free again."""

    event_type = "clock.matching.access_request.cancelled.v1"
    previous_status: Literal["pending", "approved"]
    cancelled_at: datetime
    cancelled_by: Actor
    reason: str | None


# -- challenges -----------------------------------------------------------------------------


class ChallengeTeamMember(_Part):
    """A member of a team answering a challenge: a firm, or a lab of a member centre."""

    kind: Literal["firm", "lab"]
    firm: FirmProfile | None = Field(default=None, description="kind firm: its profile.")
    lab_id: str | None = Field(default=None, description="kind lab.")
    centre_id: str | None = Field(default=None, description="kind lab: the lab's centre.")
    need_indexes: list[int] = Field(
        default_factory=list, description="The challenge's needs this member covers (from 0)."
    )


class _ChallengeState(EventData):
    challenge_id: str
    demand_id: str = Field(description="The demand of the publisher that backs the challenge.")
    publisher: FirmProfile = Field(description="The large enterprise that publishes it.")
    published_by: Actor = Field(description="The firm itself, or the Region or a centre for it.")
    title: str
    needs: list[Need]
    needs_count: int = Field(ge=1)
    sector: str | None = Field(description="ATECO 2025 code.")
    trl_expected: int | None = Field(ge=1, le=9)
    budget_eur: str | None
    prize_eur: str | None
    deadline: datetime = Field(description="Expressions of interest are taken until then.")
    visibility: ChallengeVisibility
    status: ChallengeStatus
    published_at: datetime


@event
class ChallengePublished(_ChallengeState):
    """A challenge was opened to expressions of interest."""

    event_type = "clock.matching.challenge.published.v1"


@event
class ChallengeClosed(_ChallengeState):
    """A challenge was closed without an award."""

    event_type = "clock.matching.challenge.closed.v1"
    expressions_count: int = Field(ge=0)
    reason: str | None
    closed_at: datetime
    closed_by: Actor


@event
class ChallengeAwarded(_ChallengeState):
    """The publisher awarded a team that answered; an engagement opened for every member."""

    event_type = "clock.matching.challenge.awarded.v1"
    expression_id: str
    team: list[ChallengeTeamMember]
    value_eur: str = Field(description="What the award is worth (EUR).")
    engagement_ids: list[str]
    expressions_count: int = Field(ge=0)
    awarded_at: datetime
    awarded_by: Actor


@event
class ChallengeTeamInvited(_ChallengeState):
    """The publisher invited a team the platform proposed: introductions to its labs, an
    invitation to its firms."""

    event_type = "clock.matching.challenge.team_invited.v1"
    team_id: str
    team: list[ChallengeTeamMember]
    introduction_ids: list[str]
    invited_at: datetime
    invited_by: Actor


@event
class ExpressionSubmitted(EventData):
    """A firm, a centre, or a team of both expressed interest in a challenge."""

    event_type = "clock.matching.expression.submitted.v1"
    expression_id: str
    challenge_id: str
    publisher: FirmProfile
    respondent_kind: RespondentKind
    respondent_org_id: str = Field(description="The firm's id or the centre's id.")
    team: list[ChallengeTeamMember]
    sme_count: int = Field(ge=0, description="SMEs in the team.")
    lab_count: int = Field(ge=0)
    submitted_at: datetime
    submitted_by: Actor
