"""The KPI catalogue and its computation from the event log.

The log is turned into facts (one pass over the events in time order, keeping the little state
that stocks need: which catalogue entries are published, each member's status, ...); a fact is
a contribution of one KPI at one instant, with the dimension keys it counts under. A KPI then
aggregates the facts of a bucket: a count or a sum, a stock (level at the bucket's end), a number
of distinct keys, a median, a mean, or a ratio. Totals are aggregated over all facts, never summed
from the breakdown (a cross-centre engagement counts once in the total, once per centre).
"""

from __future__ import annotations

import statistics
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

from services.reporting.periods import Period

Aggregation = Literal["count", "sum", "stock", "distinct", "median", "mean", "ratio"]
DIMENSIONS: tuple[str, ...] = ("centre", "province", "sector", "size_class", "s3", "ket", "kind")

TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Kpi:
    kpi: str
    title: str
    definition: str
    unit: str
    aggregation: Aggregation

    def public(self) -> dict[str, str]:
        return {
            "kpi": self.kpi,
            "title": self.title,
            "definition": self.definition,
            "unit": self.unit,
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
        "Demands submitted by firms (or for them) during the period.",
    ),
    _k(
        "smes_served",
        "SMEs served",
        "count",
        "distinct",
        "Distinct micro, small and medium firms with at least one introduction requested during "
        "the period.",
    ),
    _k(
        "match_rate",
        "Match rate",
        "percent",
        "ratio",
        "Share of the demands submitted during the period for which a non-empty ranking of labs "
        "was proposed.",
    ),
    _k(
        "hours_to_first_introduction",
        "Median hours to first introduction",
        "hours",
        "median",
        "Median hours from a demand's submission to its first introduction request, of the first "
        "introductions of the period.",
    ),
    _k(
        "introductions_requested",
        "Introductions requested",
        "count",
        "count",
        "Introductions to a lab requested during the period.",
    ),
    _k(
        "introduction_acceptance_rate",
        "Introduction acceptance rate",
        "percent",
        "ratio",
        "Accepted introductions over introductions answered (accepted or declined) during the "
        "period.",
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
        "Teams of labs proposed for demands with several needs during the period.",
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
        "Distinct firms with a joint research engagement opened during the period (cf. ERDF "
        "RCO10).",
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
)
BY_NAME: dict[str, Kpi] = {k.kpi: k for k in CATALOGUE}
KPI_NAMES: tuple[str, ...] = tuple(BY_NAME)

Dims = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class LoggedEvent:
    id: str
    type: str
    time: datetime
    data: Mapping[str, Any]


@dataclass
class Fact:
    kpi: str
    time: datetime
    dims: Dims
    value: Decimal = Decimal(1)
    key: str | None = None
    """What `distinct` counts."""
    denominator: Decimal = Decimal(0)
    """What `ratio` divides by."""


# -- from events to facts ---------------------------------------------------------------------


def _d(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _short(event_type: str) -> str:
    """`clock.catalog.lab.published.v1` → `catalog.lab.published`."""
    parts = event_type.split(".")
    return ".".join(parts[1:4]) if len(parts) == 5 else event_type


def _tags(data: Mapping[str, Any]) -> dict[str, list[str]]:
    tags = data.get("tags") or {}
    return {name: list(tags.get(name) or []) for name in ("ateco", "s3", "ket")}


def _firm_dims(firm: Mapping[str, Any] | None) -> dict[str, list[str]]:
    if not firm:
        return {}
    return {
        "province": [firm["province"]] if firm.get("province") else [],
        "sector": [firm["ateco_section"]] if firm.get("ateco_section") else [],
        "size_class": [firm["size_class"]] if firm.get("size_class") else [],
    }


def _union(*lists: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for values in lists:
        for value in values:
            seen.setdefault(value, None)
    return list(seen)


def _hours(later: str, earlier: str) -> Decimal:
    delta = datetime.fromisoformat(later) - datetime.fromisoformat(earlier)
    return Decimal(str(delta.total_seconds())) / Decimal(3600)


ENTRY_KPIS = {
    "lab": "labs_published",
    "competence": "competences_published",
    "equipment": "equipment_published",
    "service": "services_published",
}


@dataclass
class _State:
    entries: dict[tuple[str, str], tuple[dict[str, list[str]], bool]] = field(default_factory=dict)
    lab_tags: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    member_status: dict[str, str] = field(default_factory=dict)
    member_dims: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    demands: dict[str, tuple[str, dict[str, list[str]]]] = field(default_factory=dict)
    introduced: set[str] = field(default_factory=set)
    cross_centre: set[str] = field(default_factory=set)
    matched: set[str] = field(default_factory=set)


def facts_of(events: Sequence[LoggedEvent]) -> list[Fact]:
    """The facts of a log (any order; it is sorted by time, then id). Unknown types and events
    that miss a field are ignored."""
    ordered = sorted(events, key=lambda e: (e.time, e.id))
    state = _State()
    for event in ordered:
        if _short(event.type) == "matching.demand.matches_proposed" and event.data.get("matches"):
            state.matched.add(str(event.data.get("demand_id")))
    found: list[Fact] = []
    for event in ordered:
        try:
            found.extend(_facts(event, state))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return found


def _entry_facts(event: LoggedEvent, state: _State, entity: str, action: str) -> list[Fact]:
    data, at = event.data, event.time
    entry_id = str(data[f"{entity}_id"])
    tags = _tags(data)
    if entity == "lab":
        state.lab_tags[entry_id] = tags
    dims: dict[str, list[str]] = {
        "centre": [data["centre_id"]],
        "province": [data["province"]],
        "sector": tags["ateco"],
        "s3": tags["s3"],
        "ket": tags["ket"],
    }
    if entity == "service":
        dims["kind"] = [data["kind"]]
    shareable = entity == "equipment" and bool(data.get("shareable"))
    facts: list[Fact] = []

    def level(entry_dims: Dims, is_shareable: bool, sign: int) -> None:
        value = Decimal(sign)
        for kpi in (ENTRY_KPIS[entity], "catalogue_size", "catalogue_growth"):
            facts.append(Fact(kpi, at, entry_dims, value))
        if is_shareable:
            facts.append(Fact("equipment_shareable", at, entry_dims, value))

    key = (entity, entry_id)
    previous = state.entries.pop(key, None)
    if previous is not None:
        level(previous[0], previous[1], -1)
    if action in ("published", "updated"):
        state.entries[key] = (dims, shareable)
        level(dims, shareable, 1)
    return facts


def _member_facts(event: LoggedEvent, state: _State, action: str) -> list[Fact]:
    data, at = event.data, event.time
    org = str(data["organisation_id"])
    dims = {"centre": [org], "province": [data["province"]]}
    facts: list[Fact] = []
    if action == "admitted":
        facts.append(Fact("members_admitted", at, dims))
    before = state.member_status.get(org)
    after = str(data["status"])
    for status, kpi in (("active", "members_active"), ("suspended", "members_suspended")):
        if before == status and after != status:
            facts.append(Fact(kpi, at, state.member_dims.get(org, dims), Decimal(-1)))
        if after == status and before != status:
            facts.append(Fact(kpi, at, dims, Decimal(1)))
    state.member_status[org] = after
    state.member_dims[org] = dims
    return facts


def _lab_dims(state: _State, lab_ids: Iterable[str]) -> dict[str, list[str]]:
    tags = [state.lab_tags.get(lab, {}) for lab in lab_ids]
    return {
        "s3": _union(*(t.get("s3", []) for t in tags)),
        "ket": _union(*(t.get("ket", []) for t in tags)),
    }


def _facts(event: LoggedEvent, state: _State) -> list[Fact]:
    name = _short(event.type)
    data, at = event.data, event.time
    service, _, rest = name.partition(".")
    aggregate, _, action = rest.partition(".")
    if service == "catalog" and aggregate in ENTRY_KPIS:
        return _entry_facts(event, state, aggregate, action)
    if name == "catalog.duplicate.found" or name == "catalog.duplicate.resolved":
        dims = {
            "centre": _union([data["a"]["centre_id"]], [data["b"]["centre_id"]]),
            "kind": [data["entity"]],
        }
        kpi = "duplicates_found" if action == "found" else "duplicates_resolved"
        return [Fact(kpi, at, dims)]
    if service == "membership" and aggregate == "member":
        return _member_facts(event, state, action)
    if name == "membership.application.submitted":
        return [Fact("applications_submitted", at, {"province": [data["province"]]})]
    if name == "membership.application.decided":
        dims = {"province": [data["province"]]}
        days = _hours(data["decided_at"], data["submitted_at"]) / Decimal(24)
        return [Fact("applications_decided", at, dims), Fact("days_to_decision", at, dims, days)]
    if name == "matching.demand.submitted":
        demand_id = str(data["demand_id"])
        needs = data.get("needs") or []
        dims = _firm_dims(data["firm"]) | {
            "centre": [data["assisting_centre_id"]] if data.get("assisting_centre_id") else [],
            "s3": _union(*((n.get("tags") or {}).get("s3", []) for n in needs)),
            "ket": _union(*((n.get("tags") or {}).get("ket", []) for n in needs)),
        }
        state.demands[demand_id] = (str(data["submitted_at"]), dims)
        matched = Decimal(1) if demand_id in state.matched else Decimal(0)
        return [
            Fact("demands_received", at, dims),
            Fact("match_rate", at, dims, matched, denominator=Decimal(1)),
        ]
    if name == "matching.demand.consortia_proposed":
        consortia = data.get("consortia") or []
        centres = _union(*([m["centre_id"] for m in c.get("members", [])] for c in consortia))
        dims = _firm_dims(data["firm"]) | {"centre": centres}
        return [Fact("consortia_proposed", at, dims, Decimal(len(consortia)))]
    if aggregate == "introduction" and service == "matching":
        firm = data["firm"]
        dims = (
            _firm_dims(firm) | {"centre": [data["centre_id"]]} | _lab_dims(state, [data["lab_id"]])
        )
        if action == "requested":
            facts = [Fact("introductions_requested", at, dims)]
            if firm.get("sme"):
                facts.append(Fact("smes_served", at, dims, key=str(firm["firm_id"])))
            demand_id = str(data["demand_id"])
            if demand_id not in state.introduced:
                state.introduced.add(demand_id)
                demand = state.demands.get(demand_id)
                if demand is not None:
                    hours = _hours(data["requested_at"], demand[0])
                    facts.append(Fact("hours_to_first_introduction", at, dims, hours))
            return facts
        if action in ("accepted", "declined"):
            accepted = Decimal(1) if action == "accepted" else Decimal(0)
            return [
                Fact("introduction_acceptance_rate", at, dims, accepted, denominator=Decimal(1))
            ]
        return []
    if aggregate == "engagement" and service == "matching":
        engagement_id = str(data["engagement_id"])
        firm = data["firm"]
        dims = (
            _firm_dims(firm)
            | {"centre": list(data.get("centre_ids") or []), "kind": [data["kind"]]}
            | _lab_dims(state, data.get("lab_ids") or [])
        )
        facts = []
        if data.get("cross_centre") and engagement_id not in state.cross_centre:
            state.cross_centre.add(engagement_id)
            facts.append(Fact("cross_centre_engagements", at, dims))
        if action == "opened":
            facts.append(Fact("engagements_opened", at, dims))
            if data.get("consortium_id") and (data.get("consortium_size") or 0) > 1:
                facts.append(Fact("consortia_formed", at, dims, key=str(data["consortium_id"])))
            if data["kind"] == "joint_research":
                facts.append(
                    Fact("enterprises_cooperating_with_research", at, dims, key=firm["firm_id"])
                )
        elif action == "closed":
            facts.append(Fact("engagements_closed", at, dims))
            facts.append(Fact("engagement_value_eur", at, dims, _d(data["value_eur"])))
            facts.append(Fact("average_satisfaction", at, dims, _d(data["satisfaction"])))
            if firm.get("sme") and data.get("innovation_introduced") in ("product", "process"):
                facts.append(Fact("smes_innovating", at, dims, key=str(firm["firm_id"])))
        return facts
    if name in ("matching.access_request.approved", "matching.access_request.cancelled"):
        dims = _firm_dims(data.get("firm")) | {"centre": [data["centre_id"]]}
        dims |= _lab_dims(state, [data["lab_id"]])
        hours = _d(data["hours"])
        if action == "approved":
            return [Fact("equipment_access_hours", at, dims, hours)]
        if data.get("previous_status") == "approved":
            return [Fact("equipment_access_hours", at, dims, -hours)]
    return []


def centre_names(events: Sequence[LoggedEvent]) -> dict[str, str]:
    """Names of the organisations (centres) by id, as of their latest membership event."""
    names: dict[str, str] = {}
    for event in sorted(events, key=lambda e: (e.time, e.id)):
        parts = _short(event.type).split(".")
        service, aggregate = parts[0], parts[1] if len(parts) > 1 else ""
        if service == "membership" and aggregate in ("organisation", "member"):
            org, name = event.data.get("organisation_id"), event.data.get("name")
            if isinstance(org, str) and isinstance(name, str):
                names[org] = name
    return names


# -- aggregation ------------------------------------------------------------------------------


class _Series:
    """The facts of one KPI (and key) sorted by time, with prefix sums for stocks."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        self.facts = sorted(facts, key=lambda f: f.time)
        self.times = [f.time for f in self.facts]
        self.prefix = [Decimal(0)]
        for fact in self.facts:
            self.prefix.append(self.prefix[-1] + fact.value)

    def between(self, start: datetime, end: datetime) -> list[Fact]:
        return self.facts[bisect_left(self.times, start) : bisect_left(self.times, end)]

    def level(self, end: datetime) -> Decimal:
        return self.prefix[bisect_left(self.times, end)]


def _aggregate(kpi: Kpi, series: _Series, bucket: Period) -> Decimal | None:
    start, end = bucket.start_at, bucket.end_at
    if kpi.aggregation == "stock":
        return series.level(end)
    inside = series.between(start, end)
    if kpi.aggregation in ("count", "sum"):
        return sum((f.value for f in inside), Decimal(0))
    if kpi.aggregation == "distinct":
        return Decimal(len({f.key for f in inside if f.key is not None}))
    if kpi.aggregation == "median":
        return statistics.median([f.value for f in inside]) if inside else None
    if kpi.aggregation == "mean":
        return sum((f.value for f in inside), Decimal(0)) / len(inside) if inside else None
    denominator = sum((f.denominator for f in inside), Decimal(0))
    if not denominator:
        return None
    return sum((f.value for f in inside), Decimal(0)) * 100 / denominator


def present(kpi: Kpi, value: Decimal | None) -> int | str | None:
    """A value as the API shows it: counts as integers, the rest as decimal strings with two
    places (money and rates are never floats); None when undefined (no data)."""
    if value is None:
        return None
    if kpi.unit == "count":
        return int(value)
    return str(value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP))


def compute(
    facts: Sequence[Fact],
    buckets: Sequence[Period],
    *,
    kpis: Sequence[str] = KPI_NAMES,
    by: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Items `{"kpi", "period", "dimension", "key", "value"}`: the total of every KPI in every
    bucket, then, for each dimension of `by`, every key seen for that KPI in every bucket
    (zero, or null for an undefined median/mean/ratio, when nothing happened)."""
    by_kpi: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        by_kpi[fact.kpi].append(fact)
    items: list[dict[str, Any]] = []
    for name in kpis:
        kpi = BY_NAME[name]
        own = by_kpi.get(name, [])
        series = _Series(own)
        for bucket in buckets:
            items.append(_item(kpi, bucket, None, None, _aggregate(kpi, series, bucket)))
        for dimension in by:
            keyed: dict[str, list[Fact]] = defaultdict(list)
            for fact in own:
                for key in fact.dims.get(dimension, ()):
                    keyed[key].append(fact)
            for key in sorted(keyed):
                keyed_series = _Series(keyed[key])
                for bucket in buckets:
                    value = _aggregate(kpi, keyed_series, bucket)
                    if value is None and kpi.aggregation in ("count", "sum", "stock"):
                        value = Decimal(0)
                    items.append(_item(kpi, bucket, dimension, key, value))
    return items


def _item(
    kpi: Kpi, bucket: Period, dimension: str | None, key: str | None, value: Decimal | None
) -> dict[str, Any]:
    return {
        "kpi": kpi.kpi,
        "period": bucket.label,
        "dimension": dimension,
        "key": key,
        "value": present(kpi, value),
    }
