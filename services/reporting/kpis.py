"""The KPI catalogue: what each KPI counts, from which events, in which unit, and how its
facts aggregate over a period (see `facts` for the facts, `aggregates` for the sums kept).

A KPI aggregates the facts of a bucket: a count or a sum, a stock (level at the bucket's end),
a number of distinct keys, a median, a mean, or a ratio. Totals are aggregated over all facts,
never summed from the breakdown (a cross-centre engagement counts once in the total, once per
centre).

A supply-chain challenge is published as a demand of its large publisher (its backing demand),
so that inviting a team makes introductions and an award opens engagements. The demand KPIs are
about firms' own demands: the backing demand, its rankings and its introductions (the
invitations of the teams) are left out of them and counted by the challenge KPIs instead. The
engagements an award opens are engagements like any other (one with a firm of the team has no
lab, hence no centre: it counts in the totals and under the publisher's keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Aggregation = Literal["count", "sum", "stock", "distinct", "median", "mean", "ratio"]
DIMENSIONS: tuple[str, ...] = (
    "centre",
    "province",
    "sector",
    "size_class",
    "s3",
    "ket",
    "kind",
    "programme",
)
"""`kind` is the kind of the service offering, engagement, duplicate entry or initiative;
`programme` the funding programme of an initiative."""

TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Kpi:
    kpi: str
    title: str
    definition: str
    unit: str
    aggregation: Aggregation
    events: tuple[str, ...] = field(default=())
    """The event types its facts come from or depend on (whether a demand backs a challenge is
    told by its submission)."""

    @property
    def stream(self) -> str:
        """The one stream all its events are on (`catalog`, `membership` or `matching`)."""
        return self.events[0].split(".")[1]

    def public(self) -> dict[str, object]:
        return {
            "kpi": self.kpi,
            "title": self.title,
            "definition": self.definition,
            "unit": self.unit,
            "aggregation": self.aggregation,
            "events": list(self.events),
        }


def _k(kpi: str, title: str, unit: str, aggregation: Aggregation, definition: str) -> Kpi:
    return Kpi(kpi, title, definition, unit, aggregation)


CATALOGUE: tuple[Kpi, ...] = (
    _k(
        "catalogue_size",
        "Catalogue size",
        "count",
        "stock",
        "Entries (labs, competences, equipment, services) published and not withdrawn at the "
        "end of the period.",
    ),
    _k(
        "catalogue_growth",
        "Catalogue growth",
        "count",
        "sum",
        "Net change of the catalogue size during the period (published minus withdrawn).",
    ),
    _k(
        "labs_published",
        "Labs",
        "count",
        "stock",
        "Labs published and not withdrawn at the end of the period.",
    ),
    _k(
        "competences_published",
        "Competences",
        "count",
        "stock",
        "Competences published and not withdrawn at the end of the period.",
    ),
    _k(
        "equipment_published",
        "Equipment",
        "count",
        "stock",
        "Pieces of equipment published and not withdrawn at the end of the period.",
    ),
    _k(
        "equipment_shareable",
        "Shareable equipment",
        "count",
        "stock",
        "Published pieces of equipment marked shareable at the end of the period.",
    ),
    _k(
        "services_published",
        "Service offerings",
        "count",
        "stock",
        "Service offerings published and not withdrawn at the end of the period.",
    ),
    _k(
        "duplicates_found",
        "Duplicates found",
        "count",
        "count",
        "Near-duplicate pairs across centres found during the period (per centre: either side).",
    ),
    _k(
        "duplicates_resolved",
        "Duplicates resolved",
        "count",
        "count",
        "Near-duplicate pairs resolved (distinct or shared) by the committee during the period.",
    ),
    _k(
        "members_active",
        "Active members",
        "count",
        "stock",
        "Members whose membership is active at the end of the period.",
    ),
    _k(
        "members_admitted",
        "Members admitted",
        "count",
        "count",
        "Organisations that became members during the period (signatories included).",
    ),
    _k(
        "members_suspended",
        "Suspended members",
        "count",
        "stock",
        "Members whose membership is suspended at the end of the period.",
    ),
    _k(
        "applications_submitted",
        "Applications",
        "count",
        "count",
        "Applications to adhere submitted during the period.",
    ),
    _k(
        "applications_decided",
        "Applications decided",
        "count",
        "count",
        "Applications admitted or rejected by the committee during the period.",
    ),
    _k(
        "days_to_decision",
        "Median days to decision",
        "days",
        "median",
        "Median days from submission to the committee's decision, of the decisions of the period.",
    ),
    _k(
        "demands_received",
        "Demands received",
        "count",
        "count",
        "Demands submitted by firms (or for them) during the period (not the demands that "
        "back challenges: see challenges_published).",
    ),
    _k(
        "smes_served",
        "SMEs served",
        "count",
        "distinct",
        "Distinct micro, small and medium firms with at least one introduction requested during "
        "the period (SMEs in the teams of challenges: see smes_in_awarded_teams).",
    ),
    _k(
        "match_rate",
        "Match rate",
        "percent",
        "ratio",
        "Share of the demands submitted during the period for which a non-empty ranking of labs "
        "was proposed (demands that back challenges left out).",
    ),
    _k(
        "demands_matched",
        "Demands matched",
        "count",
        "count",
        "Demands submitted during the period for which a non-empty ranking of labs was proposed "
        "(the numerator of match_rate; demands that back challenges left out).",
    ),
    _k(
        "hours_to_first_introduction",
        "Median hours to first introduction",
        "hours",
        "median",
        "Median hours from a demand's submission to its first introduction request, of the first "
        "introductions of the period (demands that back challenges left out).",
    ),
    _k(
        "introductions_requested",
        "Introductions requested",
        "count",
        "count",
        "Introductions to a lab requested during the period (the invitations of a challenge's "
        "teams count in teams_invited).",
    ),
    _k(
        "introduction_acceptance_rate",
        "Introduction acceptance rate",
        "percent",
        "ratio",
        "Accepted introductions over introductions answered (accepted or declined) during the "
        "period (answers to the invitations of a challenge's teams left out).",
    ),
    _k(
        "introductions_accepted",
        "Introductions accepted",
        "count",
        "count",
        "Introductions accepted by their lab's centre during the period (the numerator of "
        "introduction_acceptance_rate; answers to the invitations of a challenge's teams left "
        "out).",
    ),
    _k(
        "engagements_opened",
        "Engagements opened",
        "count",
        "count",
        "Engagements (service, joint research, equipment access) opened during the period; "
        "by=kind splits them by kind.",
    ),
    _k(
        "engagements_closed",
        "Engagements closed",
        "count",
        "count",
        "Engagements closed with an outcome during the period; by=kind splits them by kind.",
    ),
    _k(
        "engagement_value_eur",
        "Engagement value",
        "EUR",
        "sum",
        "Value in EUR of the engagements closed during the period.",
    ),
    _k(
        "cross_centre_engagements",
        "Cross-centre engagements",
        "count",
        "count",
        "Engagements that became cross-centre (more than one centre) during the period.",
    ),
    _k(
        "consortia_proposed",
        "Consortia proposed",
        "count",
        "sum",
        "Teams of labs proposed for demands with several needs during the period (demands that "
        "back challenges left out).",
    ),
    _k(
        "consortia_formed",
        "Consortia formed",
        "count",
        "distinct",
        "Distinct consortia (more than one lab) whose engagement opened during the period.",
    ),
    _k(
        "equipment_access_hours",
        "Equipment access hours",
        "hours",
        "sum",
        "Hours of shareable equipment access approved during the period, minus approved windows "
        "cancelled during the period.",
    ),
    _k(
        "enterprises_cooperating_with_research",
        "Enterprises cooperating with research organisations",
        "count",
        "distinct",
        "Distinct firms with a joint research engagement with a lab opened during the period "
        "(cf. ERDF RCO10; not one with a firm of a challenge's team alone).",
    ),
    _k(
        "smes_innovating",
        "SMEs introducing an innovation",
        "count",
        "distinct",
        "Distinct SMEs whose engagement closed during the period with a product or process "
        "innovation introduced (cf. ERDF RCR03).",
    ),
    _k(
        "average_satisfaction",
        "Average satisfaction",
        "score",
        "mean",
        "Mean satisfaction (1-5) of the engagements closed during the period.",
    ),
    # Initiatives. A joint action counts once in the total and once for each member centre:
    # the lead and each partner centre that confirmed (a proposed partner has not agreed yet).
    # Figures of the initiatives registered stay in the period of registration, restated with
    # the latest state; those of an event held stay where its attendance was first recorded.
    _k(
        "initiatives_registered",
        "Initiatives registered",
        "count",
        "count",
        "Initiatives (research and innovation projects, joint actions, training and "
        "dissemination events) registered during the period (drafts do not count), with their "
        "latest state: a later change of kind, programme, partners or tags moves them between "
        "keys there, never counts them twice. Per centre: the lead and each partner centre that "
        "confirmed; by=programme: the funding programme.",
    ),
    _k(
        "initiatives_active",
        "Active initiatives",
        "count",
        "stock",
        "Initiatives planned or running (registered and not closed) at the end of the period "
        "(per centre: the lead and the partner centres that confirmed).",
    ),
    _k(
        "joint_actions_registered",
        "Joint actions registered",
        "count",
        "count",
        "Initiatives with two or more member centres (the lead and at least one partner "
        "centre, proposed or confirmed) registered during the period (per centre: the lead and "
        "each partner centre that confirmed).",
    ),
    _k(
        "partnerships_confirmed",
        "Partnerships confirmed",
        "count",
        "count",
        "Confirmations by partner centres of their participation in an initiative during the "
        "period (per centre: the partner and the lead).",
    ),
    _k(
        "centres_in_joint_actions",
        "Centres connected by joint actions",
        "count",
        "distinct",
        "Distinct member centres connected by a partnership confirmed during the period (at "
        "each confirmation: the lead and every confirmed partner of the initiative); per "
        "centre: the other centres it is connected with.",
    ),
    _k(
        "initiative_public_funding_eur",
        "Public funding of initiatives",
        "EUR",
        "sum",
        "Public funding in EUR of the initiatives registered during the period, as last "
        "stated: a corrected amount adjusts that period by the difference. Per centre: the "
        "whole amount under the lead and each confirmed partner.",
    ),
    _k(
        "initiative_budget_eur",
        "Budget of initiatives",
        "EUR",
        "sum",
        "Total budget in EUR of the initiatives registered during the period, as last stated "
        "(as the public funding).",
    ),
    _k(
        "training_hours",
        "Training hours",
        "hours",
        "sum",
        "Hours of the training courses whose attendance was first recorded during the period: "
        "every day from the start date to the end date (or the start date alone), end time "
        "minus start time; a course without both times counts 0 hours.",
    ),
    _k(
        "training_participants",
        "Training participants",
        "count",
        "sum",
        "Participants who attended the training courses whose attendance was first recorded "
        "during the period (a corrected attendance replaces the earlier figure).",
    ),
    _k(
        "dissemination_events_held",
        "Dissemination events held",
        "count",
        "count",
        "Dissemination events whose attendance was first recorded during the period.",
    ),
    _k(
        "dissemination_attendance",
        "Dissemination attendance",
        "count",
        "sum",
        "Participants who attended the dissemination events whose attendance was first "
        "recorded during the period (a corrected attendance replaces the earlier figure).",
    ),
    _k(
        "initiative_overlaps_found",
        "Initiative overlaps found",
        "count",
        "count",
        "Pairs of initiatives of different centres with a similar topic and tags in "
        "overlapping time found during the period (per centre: either side; by=kind: the kind "
        "of either).",
    ),
    _k(
        "initiative_overlaps_resolved",
        "Initiative overlaps resolved",
        "count",
        "count",
        "Overlapping pairs resolved by the committee (distinct or to coordinate) during the "
        "period.",
    ),
    _k(
        "initiative_overlaps_to_coordinate",
        "Initiative overlaps to coordinate",
        "count",
        "count",
        "Overlapping pairs the committee resolved as to coordinate during the period (the "
        "others of initiative_overlaps_resolved were found distinct).",
    ),
    # Challenges. Each counts under its publisher's province, sector and size class (large), and
    # per centre under the centres taking part: the one that published it for the firm, if
    # any, and those of the labs of the team invited or awarded. What a team does counts where
    # the answer comes from.
    _k(
        "challenges_published",
        "Challenges published",
        "count",
        "count",
        "Supply-chain challenges opened to expressions of interest during the period by large "
        "firms (or by the Region or a centre for them); by the publisher's province, sector and "
        "size class, per centre: the centre that published it for the firm.",
    ),
    _k(
        "challenges_awarded",
        "Challenges awarded",
        "count",
        "count",
        "Challenges awarded to a team that answered during the period (per centre: the centres "
        "of the awarded team's labs, and the centre that published it for the firm).",
    ),
    _k(
        "challenges_closed_without_award",
        "Challenges closed without award",
        "count",
        "count",
        "Challenges closed without an award during the period.",
    ),
    _k(
        "expressions_submitted",
        "Expressions of interest",
        "count",
        "count",
        "Expressions of interest submitted to challenges during the period (an update does not "
        "count again), by who answers: by=kind the respondent (firm or centre); province, "
        "sector and size class of the firms of the answering team; per centre: the responding "
        "centre and the centres of the team's labs.",
    ),
    _k(
        "expressions_per_challenge",
        "Expressions per challenge",
        "expressions",
        "mean",
        "Expressions of interest received by the challenges awarded or closed without award "
        "during the period (whenever submitted), divided by the number of those challenges.",
    ),
    _k(
        "smes_in_awarded_teams",
        "SMEs in awarded teams",
        "count",
        "distinct",
        "Distinct micro, small and medium firms in the teams of the challenges awarded during "
        "the period: each once in the total and under its own province, sector and size class "
        "(per centre: the centres of the awarded team's labs).",
    ),
    _k(
        "challenge_value_awarded_eur",
        "Value of challenges awarded",
        "EUR",
        "sum",
        "What the awards of the challenges awarded during the period are worth, in EUR.",
    ),
    _k(
        "teams_invited",
        "Teams invited",
        "count",
        "count",
        "Teams (firms and labs) proposed by the platform that a challenge's publisher invited "
        "during the period (per centre: the centres of the team's labs).",
    ),
)


def _types(service: str, *names: str) -> tuple[str, ...]:
    return tuple(f"clock.{service}.{name}.v1" for name in names)


_ENTRY_EVENTS = ("published", "updated", "withdrawn")
_CATALOGUE_EVENTS = tuple(
    t
    for entity in ("lab", "competence", "equipment", "service")
    for t in _types("catalog", *(f"{entity}.{action}" for action in _ENTRY_EVENTS))
)
_MEMBER_EVENTS = _types(
    "membership",
    "member.admitted",
    "member.suspended",
    "member.reinstated",
    "member.expired",
    "member.withdrawn",
)
_INITIATIVE_EVENTS = _types(
    "catalog",
    *(
        f"initiative.{action}"
        for action in ("created", "updated", "closed", "participation_confirmed", "event_held")
    ),
)
_SUBMITTED = _types("matching", "demand.submitted")
"""Tells whether a demand backs a challenge: the facts of its later events depend on it."""
_ENGAGEMENT_EVENTS = _types(
    "matching", "engagement.opened", "engagement.joined", "engagement.closed"
)
SOURCES: dict[str, tuple[str, ...]] = {
    "catalogue_size": _CATALOGUE_EVENTS,
    "catalogue_growth": _CATALOGUE_EVENTS,
    "labs_published": _types("catalog", *(f"lab.{a}" for a in _ENTRY_EVENTS)),
    "competences_published": _types("catalog", *(f"competence.{a}" for a in _ENTRY_EVENTS)),
    "equipment_published": _types("catalog", *(f"equipment.{a}" for a in _ENTRY_EVENTS)),
    "equipment_shareable": _types("catalog", *(f"equipment.{a}" for a in _ENTRY_EVENTS)),
    "services_published": _types("catalog", *(f"service.{a}" for a in _ENTRY_EVENTS)),
    "duplicates_found": _types("catalog", "duplicate.found"),
    "duplicates_resolved": _types("catalog", "duplicate.resolved"),
    "members_active": _MEMBER_EVENTS,
    "members_admitted": _types("membership", "member.admitted"),
    "members_suspended": _MEMBER_EVENTS,
    "applications_submitted": _types("membership", "application.submitted"),
    "applications_decided": _types("membership", "application.decided"),
    "days_to_decision": _types("membership", "application.decided"),
    "demands_received": _types("matching", "demand.submitted"),
    "smes_served": (*_SUBMITTED, *_types("matching", "introduction.requested")),
    "match_rate": _types("matching", "demand.submitted", "demand.matches_proposed"),
    "demands_matched": _types("matching", "demand.submitted", "demand.matches_proposed"),
    "hours_to_first_introduction": _types("matching", "demand.submitted", "introduction.requested"),
    "introductions_requested": (*_SUBMITTED, *_types("matching", "introduction.requested")),
    "introduction_acceptance_rate": (
        *_SUBMITTED,
        *_types("matching", "introduction.accepted", "introduction.declined"),
    ),
    "introductions_accepted": (*_SUBMITTED, *_types("matching", "introduction.accepted")),
    "engagements_opened": _types("matching", "engagement.opened"),
    "engagements_closed": _types("matching", "engagement.closed"),
    "engagement_value_eur": _types("matching", "engagement.closed"),
    "cross_centre_engagements": _ENGAGEMENT_EVENTS,
    "consortia_proposed": (*_SUBMITTED, *_types("matching", "demand.consortia_proposed")),
    "consortia_formed": _types("matching", "engagement.opened"),
    "equipment_access_hours": _types(
        "matching", "access_request.approved", "access_request.cancelled"
    ),
    "enterprises_cooperating_with_research": _types("matching", "engagement.opened"),
    "smes_innovating": _types("matching", "engagement.closed"),
    "average_satisfaction": _types("matching", "engagement.closed"),
    "initiatives_registered": _INITIATIVE_EVENTS,
    "initiatives_active": _INITIATIVE_EVENTS,
    "joint_actions_registered": _INITIATIVE_EVENTS,
    "partnerships_confirmed": _INITIATIVE_EVENTS,
    "centres_in_joint_actions": _INITIATIVE_EVENTS,
    "initiative_public_funding_eur": _INITIATIVE_EVENTS,
    "initiative_budget_eur": _INITIATIVE_EVENTS,
    "training_hours": _INITIATIVE_EVENTS,
    "training_participants": _INITIATIVE_EVENTS,
    "dissemination_events_held": _INITIATIVE_EVENTS,
    "dissemination_attendance": _INITIATIVE_EVENTS,
    "initiative_overlaps_found": _types("catalog", "initiative_overlap.found"),
    "initiative_overlaps_resolved": _types("catalog", "initiative_overlap.resolved"),
    "initiative_overlaps_to_coordinate": _types("catalog", "initiative_overlap.resolved"),
    "challenges_published": _types("matching", "challenge.published"),
    "challenges_awarded": _types("matching", "challenge.awarded"),
    "challenges_closed_without_award": _types("matching", "challenge.closed"),
    "expressions_submitted": _types("matching", "expression.submitted"),
    "expressions_per_challenge": _types("matching", "challenge.awarded", "challenge.closed"),
    "smes_in_awarded_teams": _types("matching", "challenge.awarded"),
    "challenge_value_awarded_eur": _types("matching", "challenge.awarded"),
    "teams_invited": _types("matching", "challenge.team_invited"),
}
CATALOGUE = tuple(replace(k, events=SOURCES[k.kpi]) for k in CATALOGUE)
BY_NAME: dict[str, Kpi] = {k.kpi: k for k in CATALOGUE}
KPI_NAMES: tuple[str, ...] = tuple(BY_NAME)


def present(kpi: Kpi, value: Decimal | None) -> int | str | None:
    """A value as the API shows it: counts as integers, the rest as decimal strings with two
    places (money and rates are never floats); None when undefined (no data)."""
    if value is None:
        return None
    if kpi.unit == "count":
        return int(value)
    return str(value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP))
