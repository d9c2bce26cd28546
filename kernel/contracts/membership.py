"""Events of the membership service (stream CLOCK_MEMBERSHIP).

Consumers (catalog, matching, reporting) keep projections from these alone, so each event
carries the state they need, not only what changed. Personal data stays out: a representative
appears by name and position only (never e-mail), an applicant's representative not at all.

Aggregates and subjects:
- `organisation` (subject: organisation id; version: the organisation's),
- `application` (subject: application id),
- `member` and `representative` (subject: organisation id; version: the membership's, which
  also increments when a representative is appointed),
- `protocol` (subject: protocol id).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kernel.events import EventData, event

OrganisationKind = Literal[
    "technology_transfer_centre",
    "university",
    "research_organisation",
    "competence_centre",
    "incubator",
    "public_body",
    "other",
]
MemberRole = Literal["region", "founding", "adhering"]
MemberStatus = Literal["active", "suspended", "withdrawn", "expired"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(_Part):
    """Who caused the change: a principal's role and ids, or `system` (seeding, expiry)."""

    role: str = Field(description="region, centre, firm, partner, anonymous or system")
    org_id: str | None = None
    key_id: str | None = None


class EligibilityCheck(_Part):
    check: str
    passed: bool
    detail: str


class Votes(_Part):
    in_favour: int = Field(ge=0, description="Votes for the decision (`for` in the API).")
    against: int = Field(ge=0)
    abstained: int = Field(ge=0)


# -- organisation ---------------------------------------------------------------------------


class _OrganisationState(EventData):
    organisation_id: str
    name: str
    acronym: str | None
    kind: OrganisationKind
    legal_form: str | None
    vat_number: str | None
    province: str = Field(description="ISTAT two-letter code, e.g. FI.")
    province_name: str
    region: str = Field(description="Italian region of the province, e.g. Toscana.")
    municipality: str = Field(description="Comune, in the ISTAT spelling.")
    address: str | None
    website: str | None
    actor: Actor


@event
class OrganisationRegistered(_OrganisationState):
    """An organisation was registered (by the Region, on admission, or as a signatory)."""

    event_type = "clock.membership.organisation.registered.v1"


@event
class OrganisationUpdated(_OrganisationState):
    """An organisation's data changed; carries the whole new state and the changed fields."""

    event_type = "clock.membership.organisation.updated.v1"
    changed: list[str]


# -- application ----------------------------------------------------------------------------


@event
class ApplicationSubmitted(EventData):
    """An application to adhere was submitted and checked automatically."""

    event_type = "clock.membership.application.submitted.v1"
    application_id: str
    status: Literal["under_review", "ineligible"]
    eligible: bool
    eligibility: list[EligibilityCheck]
    name: str
    acronym: str | None
    kind: OrganisationKind
    vat_number: str | None
    province: str
    municipality: str
    operates_in_tuscany: bool
    operates_in_technology_transfer: bool
    organisation_id: str | None = Field(
        description="The registered organisation with the same VAT number, if any."
    )
    submitted_at: datetime


@event
class ApplicationDecided(EventData):
    """The committee admitted or rejected an application."""

    event_type = "clock.membership.application.decided.v1"
    application_id: str
    decision: Literal["admit", "reject"]
    status: Literal["admitted", "rejected"]
    motivation: str
    votes: Votes | None
    organisation_id: str | None = Field(description="Set when admitted.")
    name: str
    kind: OrganisationKind
    province: str
    submitted_at: datetime
    decided_at: datetime
    actor: Actor


# -- member ---------------------------------------------------------------------------------


class MemberChange(EventData):
    """Base of the member events: the membership's whole state after the change."""

    organisation_id: str
    name: str
    acronym: str | None
    kind: OrganisationKind
    province: str
    municipality: str
    role: MemberRole
    status: MemberStatus = Field(description="The status after the change.")
    previous_status: MemberStatus | None
    term_end: date = Field(description="Last day the membership is in force.")
    since: datetime = Field(description="When the organisation (last) became a member.")
    actor: Actor
    reason: str


@event
class MemberAdmitted(MemberChange):
    """An organisation became an active member (signatory at first start, or on admission)."""

    event_type = "clock.membership.member.admitted.v1"
    application_id: str | None


@event
class MemberSuspended(MemberChange):
    """A member was suspended: its catalogue entries must disappear from public reads."""

    event_type = "clock.membership.member.suspended.v1"


@event
class MemberReinstated(MemberChange):
    """A suspended member is active again."""

    event_type = "clock.membership.member.reinstated.v1"


@event
class MemberWithdrawn(MemberChange):
    """A member left the platform (for good)."""

    event_type = "clock.membership.member.withdrawn.v1"


@event
class MemberExpired(MemberChange):
    """A membership ended with the protocol's term, which was not renewed."""

    event_type = "clock.membership.member.expired.v1"


# -- representative -------------------------------------------------------------------------


@event
class RepresentativeAppointed(EventData):
    """A member appointed its representative on the committee, ending the previous one.

    Name and position only: the representative's e-mail is personal data and is not published.
    """

    event_type = "clock.membership.representative.appointed.v1"
    organisation_id: str
    organisation_name: str
    representative_id: str
    full_name: str
    position: str
    since: datetime
    previous_representative_id: str | None
    actor: Actor


# -- protocol -------------------------------------------------------------------------------


@event
class ProtocolRenewed(EventData):
    """The protocol was renewed for three more years; memberships in force end with it."""

    event_type = "clock.membership.protocol.renewed.v1"
    protocol_id: str
    signed_on: date
    renewed_on: date
    previous_term_end: date
    term_end: date
    renewals: int
    extended_members: list[str] = Field(
        description="Organisations whose membership (active or suspended) now ends on term_end."
    )
    note: str | None
    actor: Actor
