"""From events to facts: a fact is a contribution of one KPI at one instant (the event's time),
with the dimension keys it counts under.

Most events give their facts alone; a few need a little state kept from earlier events of the
same stream (which catalogue entries are published and how they were tagged, each member's
status, when a demand was submitted, whether it was matched and whether it backs a challenge,
what an initiative counted, ...). That state lives in a key-value mapping: `state_keys` names
the keys an event reads and writes, so the projection loads just those rows; unit tests pass a
plain dict. Every event reads only the state of its own stream, so a stream can be rebuilt
alone, and the facts do not depend on the order in which the streams are consumed: a matching
event carries the tags of its labs itself.

Unknown types and events that miss a field give no facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kernel.italy import ateco_section
from services.reporting.kpis import TWO_PLACES

Dims = Mapping[str, Sequence[str]]
State = MutableMapping[str, Any]
"""JSON-serialisable values by key (`entry:lab:<id>`, `member:<org>`, `demand:<id>`,
`initiative:<id>`, ...)."""


@dataclass(frozen=True)
class LoggedEvent:
    id: str
    type: str
    time: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Fact:
    kpi: str
    time: datetime
    dims: Dims
    value: Decimal = Decimal(1)
    key: str | None = None
    """What `distinct` counts."""
    denominator: Decimal = Decimal(0)
    """What `ratio` divides by."""


ENTRY_KPIS = {
    "lab": "labs_published",
    "competence": "competences_published",
    "equipment": "equipment_published",
    "service": "services_published",
}


def short(event_type: str) -> str:
    """`clock.catalog.lab.published.v1` → `catalog.lab.published`."""
    parts = event_type.split(".")
    return ".".join(parts[1:4]) if len(parts) == 5 else event_type


def _parts(event_type: str) -> tuple[str, str, str]:
    service, _, rest = short(event_type).partition(".")
    aggregate, _, action = rest.partition(".")
    return service, aggregate, action


def state_keys(event: LoggedEvent) -> list[str]:
    """The state keys `facts_of_event` may read or write for this event."""
    service, aggregate, _ = _parts(event.type)
    data = event.data
    try:
        if service == "catalog" and aggregate in ENTRY_KPIS:
            return [f"entry:{aggregate}:{data[f'{aggregate}_id']}"]
        if service == "membership" and aggregate in ("member", "organisation"):
            return [f"member:{data['organisation_id']}", f"name:{data['organisation_id']}"]
        if service == "matching" and aggregate in ("demand", "introduction"):
            return [f"demand:{data['demand_id']}"]
        if service == "matching" and aggregate == "engagement":
            return [f"engagement:{data['engagement_id']}"]
        if service == "catalog" and aggregate == "initiative":
            return [f"initiative:{data['initiative_id']}"]
    except (KeyError, TypeError):
        pass
    return []


def facts_of_event(event: LoggedEvent, state: State) -> list[Fact]:
    """The facts of one event, updating `state` (which must hold its `state_keys`)."""
    try:
        return _facts(event, state)
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation):
        return []


def facts_of(events: Iterable[LoggedEvent], state: State | None = None) -> list[Fact]:
    """The facts of events taken in the order given (what the projection does, in memory)."""
    state = {} if state is None else state
    found: list[Fact] = []
    for event in events:
        found.extend(facts_of_event(event, state))
    return found


# -- helpers ----------------------------------------------------------------------------------


def _d(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _tags(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """The entry's tags; `sector` holds the ATECO sections of its ATECO codes, the key firms
    count under too."""
    tags = data.get("tags") or {}
    found = {name: list(tags.get(name) or []) for name in ("s3", "ket")}
    found["sector"] = _union(s for s in map(ateco_section, tags.get("ateco") or []) if s)
    return found


def _lab_dims(data: Mapping[str, Any]) -> dict[str, list[str]]:
    tags = data.get("lab_tags") or {}
    return {"s3": list(tags.get("s3") or []), "ket": list(tags.get("ket") or [])}


def _firm_dims(firm: Mapping[str, Any] | None) -> dict[str, list[str]]:
    if not firm:
        return {}
    return {
        "province": [firm["province"]] if firm.get("province") else [],
        "sector": [firm["ateco_section"]] if firm.get("ateco_section") else [],
        "size_class": [firm["size_class"]] if firm.get("size_class") else [],
    }


def _union(*lists: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(value for values in lists for value in values))


def _hours(later: str, earlier: str) -> Decimal:
    delta = datetime.fromisoformat(later) - datetime.fromisoformat(earlier)
    return Decimal(str(delta.total_seconds())) / Decimal(3600)


# -- by kind of event -------------------------------------------------------------------------


def _entry_facts(event: LoggedEvent, state: State, entity: str, action: str) -> list[Fact]:
    data, at = event.data, event.time
    tags = _tags(data)
    dims: dict[str, list[str]] = {
        "centre": [data["centre_id"]],
        "province": [data["province"]],
        "sector": tags["sector"],
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

    key = f"entry:{entity}:{data[f'{entity}_id']}"
    previous = state.pop(key, None)
    if previous is not None:
        level(previous["dims"], previous["shareable"], -1)
    if action in ("published", "updated"):
        state[key] = {"dims": dims, "shareable": shareable}
        level(dims, shareable, 1)
    return facts


def _member_facts(event: LoggedEvent, state: State, aggregate: str, action: str) -> list[Fact]:
    data, at = event.data, event.time
    org = str(data["organisation_id"])
    if isinstance(data.get("name"), str):
        state[f"name:{org}"] = data["name"]
    if aggregate != "member":
        return []
    dims = {"centre": [org], "province": [data["province"]]}
    facts: list[Fact] = []
    if action == "admitted":
        facts.append(Fact("members_admitted", at, dims))
    before = state.get(f"member:{org}") or {}
    before_status, before_dims = before.get("status"), before.get("dims", dims)
    after = str(data["status"])
    for status, kpi in (("active", "members_active"), ("suspended", "members_suspended")):
        if before_status == status and after != status:
            facts.append(Fact(kpi, at, before_dims, Decimal(-1)))
        if after == status and before_status != status:
            facts.append(Fact(kpi, at, dims, Decimal(1)))
    state[f"member:{org}"] = {"status": after, "dims": dims}
    return facts


def _backs_challenge(state: State, demand_id: Any) -> bool:
    return "challenge_id" in (state.get(f"demand:{demand_id}") or {})


def _demand_facts(event: LoggedEvent, state: State, action: str) -> list[Fact]:
    """`match_rate` (and `demands_matched`, its numerator) counts a demand at its submission, as
    matched if a non-empty ranking was ever proposed for it, whichever of the two events comes
    first.

    A demand that backs a challenge is its large publisher's, not a firm's own demand: its
    submission (recorded before its introductions, the invitations of the challenge's teams)
    marks it, so that neither it nor what follows it counts in the demand KPIs."""
    data, at = event.data, event.time
    key = f"demand:{data['demand_id']}"
    demand = dict(state.get(key) or {})
    if action == "submitted" and data.get("challenge_id"):
        state[key] = demand | {"challenge_id": str(data["challenge_id"])}
        return []
    if "challenge_id" in demand:
        return []
    if action == "submitted":
        needs = data.get("needs") or []
        dims = _firm_dims(data["firm"]) | {
            "centre": [data["assisting_centre_id"]] if data.get("assisting_centre_id") else [],
            "s3": _union(*((n.get("tags") or {}).get("s3", []) for n in needs)),
            "ket": _union(*((n.get("tags") or {}).get("ket", []) for n in needs)),
        }
        if "time" in demand:  # submitted twice: the first one counts
            return []
        matched = Decimal(1) if demand.get("matched") else Decimal(0)
        state[key] = demand | {
            "submitted_at": str(data["submitted_at"]),
            "time": at.isoformat(),
            "dims": dims,
        }
        return [
            Fact("demands_received", at, dims),
            Fact("match_rate", at, dims, matched, denominator=Decimal(1)),
            Fact("demands_matched", at, dims, matched),
        ]
    if action == "matches_proposed":
        if not data.get("matches") or demand.get("matched"):
            return []
        state[key] = demand | {"matched": True}
        if "time" not in demand:
            return []
        submitted = datetime.fromisoformat(demand["time"])
        return [
            Fact("match_rate", submitted, demand["dims"], Decimal(1)),
            Fact("demands_matched", submitted, demand["dims"], Decimal(1)),
        ]
    if action == "consortia_proposed":
        consortia = data.get("consortia") or []
        centres = _union(*([m["centre_id"] for m in c.get("members", [])] for c in consortia))
        dims = _firm_dims(data["firm"]) | {"centre": centres}
        return [Fact("consortia_proposed", at, dims, Decimal(len(consortia)))]
    return []


def _introduction_facts(event: LoggedEvent, state: State, action: str) -> list[Fact]:
    """An introduction to a demand that backs a challenge is the invitation of a team
    (`teams_invited`): it is not counted here."""
    data, at = event.data, event.time
    if _backs_challenge(state, data["demand_id"]):
        return []
    firm = data["firm"]
    dims = _firm_dims(firm) | {"centre": [data["centre_id"]]} | _lab_dims(data)
    if action == "requested":
        facts = [Fact("introductions_requested", at, dims)]
        if firm.get("sme"):
            facts.append(Fact("smes_served", at, dims, key=str(firm["firm_id"])))
        key = f"demand:{data['demand_id']}"
        demand = dict(state.get(key) or {})
        if not demand.get("introduced"):
            state[key] = demand | {"introduced": True}
            if "submitted_at" in demand:
                hours = _hours(data["requested_at"], demand["submitted_at"])
                facts.append(Fact("hours_to_first_introduction", at, dims, hours))
        return facts
    if action in ("accepted", "declined"):
        accepted = Decimal(1) if action == "accepted" else Decimal(0)
        facts = [Fact("introduction_acceptance_rate", at, dims, accepted, denominator=Decimal(1))]
        if accepted:
            facts.append(Fact("introductions_accepted", at, dims))
        return facts
    return []


def _engagement_facts(event: LoggedEvent, state: State, action: str) -> list[Fact]:
    """An engagement opened by a challenge's award counts as any other, under the publisher
    (its `firm`). One with a firm of the team (`supplier_firm`) has no lab: it counts under no
    centre, is never cross-centre, and is no cooperation with a research organisation."""
    data, at = event.data, event.time
    engagement_id = str(data["engagement_id"])
    firm = data["firm"]
    dims = (
        _firm_dims(firm)
        | {"centre": list(data.get("centre_ids") or []), "kind": [data["kind"]]}
        | _lab_dims(data)
    )
    facts = []
    key = f"engagement:{engagement_id}"
    if data.get("cross_centre") and not (state.get(key) or {}).get("cross_centre"):
        state[key] = {"cross_centre": True}
        facts.append(Fact("cross_centre_engagements", at, dims))
    if action == "opened":
        facts.append(Fact("engagements_opened", at, dims))
        if data.get("consortium_id") and (data.get("consortium_size") or 0) > 1:
            facts.append(Fact("consortia_formed", at, dims, key=str(data["consortium_id"])))
        if data["kind"] == "joint_research" and data.get("lab_ids"):
            facts.append(
                Fact("enterprises_cooperating_with_research", at, dims, key=str(firm["firm_id"]))
            )
    elif action == "closed":
        facts.append(Fact("engagements_closed", at, dims))
        facts.append(Fact("engagement_value_eur", at, dims, _d(data["value_eur"])))
        facts.append(Fact("average_satisfaction", at, dims, _d(data["satisfaction"])))
        if firm.get("sme") and data.get("innovation_introduced") in ("product", "process"):
            facts.append(Fact("smes_innovating", at, dims, key=str(firm["firm_id"])))
    return facts


def _access_facts(event: LoggedEvent, action: str) -> list[Fact]:
    data, at = event.data, event.time
    dims = _firm_dims(data.get("firm")) | {"centre": [data["centre_id"]]} | _lab_dims(data)
    hours = _d(data["hours"])
    if action == "approved":
        return [Fact("equipment_access_hours", at, dims, hours)]
    if action == "cancelled" and data.get("previous_status") == "approved":
        return [Fact("equipment_access_hours", at, dims, -hours)]
    return []


def _team_centres(team: Iterable[Mapping[str, Any]]) -> list[str]:
    return _union(
        str(m["centre_id"]) for m in team if m.get("kind") == "lab" and m.get("centre_id")
    )


def _team_firms(team: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [m["firm"] for m in team if m.get("kind") == "firm" and m.get("firm")]


def _challenge_dims(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """The publisher's province, sector and size class; the centres taking part: the one that
    published it for the firm, and those of the labs of the team invited or awarded."""
    by = data.get("published_by") or {}
    publishing = [str(by["org_id"])] if by.get("role") == "centre" and by.get("org_id") else []
    return _firm_dims(data["publisher"]) | {
        "centre": _union(publishing, _team_centres(data.get("team") or []))
    }


def _challenge_facts(event: LoggedEvent, action: str) -> list[Fact]:
    """Every challenge event carries the challenge's state and its publisher: no state is kept.
    The events that end a challenge carry how many expressions it received."""
    data, at = event.data, event.time
    dims = _challenge_dims(data)
    if action == "published":
        return [Fact("challenges_published", at, dims)]
    if action == "team_invited":
        return [Fact("teams_invited", at, dims)]
    if action not in ("closed", "awarded"):
        return []
    received = Fact("expressions_per_challenge", at, dims, Decimal(int(data["expressions_count"])))
    if action == "closed":
        return [Fact("challenges_closed_without_award", at, dims), received]
    smes = [firm for firm in _team_firms(data["team"]) if firm.get("sme")]
    return [
        Fact("challenges_awarded", at, dims),
        received,
        Fact("challenge_value_awarded_eur", at, dims, _d(data["value_eur"])),
        *(
            Fact(
                "smes_in_awarded_teams",
                at,
                _firm_dims(firm) | {"centre": dims["centre"]},
                key=str(firm["firm_id"]),
            )
            for firm in smes
        ),
    ]


def _expression_facts(event: LoggedEvent) -> list[Fact]:
    """An expression counts where the answer comes from: the respondent's kind, the firms of
    the team, the responding centre and the centres of the team's labs."""
    data, at = event.data, event.time
    team = data["team"]
    firms = [_firm_dims(firm) for firm in _team_firms(team)]
    responding = [str(data["respondent_org_id"])] if data["respondent_kind"] == "centre" else []
    dims = {
        name: _union(*(f[name] for f in firms)) for name in ("province", "sector", "size_class")
    } | {
        "kind": [data["respondent_kind"]],
        "centre": _union(responding, _team_centres(team)),
    }
    return [Fact("expressions_submitted", at, dims)]


ACTIVE = ("planned", "running")
"""Statuses of an initiative in `initiatives_active`."""

Counted = list[Any]
"""What an initiative contributes at one instant, as kept in its state: `[kpi, dims, value]`
items (JSON: the value is a decimal string)."""


def _minutes(clock: str) -> int:
    hours, _, minutes = clock.partition(":")
    return int(hours) * 60 + int(minutes)


def training_hours(data: Mapping[str, Any]) -> Decimal:
    """Hours of a training course: every day from its start date to its end date (the start
    date alone when it has none), end time minus start time; 0 without both times (or when
    the end is not after the start)."""
    start, begins, ends = data.get("start_date"), data.get("start_time"), data.get("end_time")
    if not (start and begins and ends):
        return Decimal(0)
    first = date.fromisoformat(start)
    days = (date.fromisoformat(data.get("end_date") or start) - first).days + 1
    minutes = _minutes(ends) - _minutes(begins)
    if days < 1 or minutes <= 0:
        return Decimal(0)
    return (Decimal(days * minutes) / 60).quantize(TWO_PLACES)


def _initiative_dims(data: Mapping[str, Any], confirmed: Sequence[str]) -> dict[str, list[str]]:
    """An initiative counts under its lead centre and the partner centres that confirmed; its
    province is the event's place (projects have none)."""
    tags = _tags(data)
    return {
        "centre": _union([data["centre_id"]], confirmed),
        "province": [data["province"]] if data.get("province") else [],
        "kind": [data["kind"]],
        "programme": [data["funding_programme"]] if data.get("funding_programme") else [],
        "sector": tags["sector"],
        "s3": tags["s3"],
        "ket": tags["ket"],
    }


def _registered(data: Mapping[str, Any], dims: Dims) -> Counted:
    counted: Counted = [["initiatives_registered", dims, "1"]]
    if data.get("joint"):
        counted.append(["joint_actions_registered", dims, "1"])
    for kpi, field in (
        ("initiative_public_funding_eur", "public_funding_eur"),
        ("initiative_budget_eur", "budget_eur"),
    ):
        if _d(data.get(field) or 0):
            counted.append([kpi, dims, str(_d(data[field]))])
    return counted


def _held(data: Mapping[str, Any], dims: Dims, attending: int) -> Counted:
    if data["kind"] == "training":
        return [
            ["training_hours", dims, str(training_hours(data))],
            ["training_participants", dims, str(attending)],
        ]
    if data["kind"] == "dissemination_event":
        return [
            ["dissemination_events_held", dims, "1"],
            ["dissemination_attendance", dims, str(attending)],
        ]
    return []


def _restated(before: Counted, after: Counted, at: datetime) -> list[Fact]:
    """The facts that turn what was counted at `at` into what is now: what changed is taken
    back and counted anew (a new amount adjusts by the difference), the rest is left alone."""
    taken_back = [Fact(k, at, d, -Decimal(v)) for k, d, v in before if [k, d, v] not in after]
    added = [Fact(k, at, d, Decimal(v)) for k, d, v in after if [k, d, v] not in before]
    return [fact for fact in (*taken_back, *added) if fact.value]


def _initiative_facts(event: LoggedEvent, state: State, action: str) -> list[Fact]:
    """Every initiative event carries the whole state: its figures are recomputed from it and
    only the differences with what it counted before are new facts, so an event seen twice,
    or one that changes nothing counted, adds nothing. What counts at registration (the first
    event) and at the first `event_held` stays at that instant; the stock of active
    initiatives moves when the event happens."""
    data, at = event.data, event.time
    lead = str(data["centre_id"])
    key = f"initiative:{data['initiative_id']}"
    before = dict(state.get(key) or {"registered_at": at.isoformat(), "registered": []})
    confirmed = [str(p["centre_id"]) for p in data["partner_centres"] if p["status"] == "confirmed"]
    dims = _initiative_dims(data, confirmed)
    after = before | {"registered": _registered(data, dims), "confirmed": confirmed}
    registered_at = datetime.fromisoformat(before["registered_at"])
    facts = _restated(before["registered"], after["registered"], registered_at)

    after["active"] = dims if data["status"] in ACTIVE else None
    if before.get("active") != after["active"]:
        if before.get("active") is not None:
            facts.append(Fact("initiatives_active", at, before["active"], Decimal(-1)))
        if after["active"] is not None:
            facts.append(Fact("initiatives_active", at, after["active"]))

    if action == "event_held" and "held_at" not in before:
        after |= {"held_at": at.isoformat(), "held": []}
    if "held_at" in after:
        attending = data["attending"] if action == "event_held" else data["attending_participants"]
        after["held"] = _held(data, dims, int(attending or 0))
        held_at = datetime.fromisoformat(after["held_at"])
        facts += _restated(before.get("held", []), after["held"], held_at)

    joined = [c for c in confirmed if c not in before.get("confirmed", [])]
    for partner in joined:
        facts.append(Fact("partnerships_confirmed", at, dims | {"centre": [lead, partner]}))
    if joined:
        facts += _connected(_union([lead], confirmed), dims, at)
    state[key] = after
    return facts


def _connected(centres: Sequence[str], dims: Dims, at: datetime) -> list[Fact]:
    """Each centre of a confirmed partnership is an item of `centres_in_joint_actions`, under
    the other centres: per centre, the distinct centres it is connected with."""
    return [
        Fact(
            "centres_in_joint_actions",
            at,
            {**dims, "centre": [c for c in centres if c != centre]},
            key=centre,
        )
        for centre in centres
    ]


def _overlap_facts(event: LoggedEvent, action: str) -> list[Fact]:
    data, at = event.data, event.time
    a, b = data["a"], data["b"]
    dims = {
        "centre": _union([a["centre_id"]], [b["centre_id"]]),
        "kind": _union([a["kind"]], [b["kind"]]),
    }
    if action == "found":
        return [Fact("initiative_overlaps_found", at, dims)]
    if action != "resolved":
        return []
    facts = [Fact("initiative_overlaps_resolved", at, dims)]
    if data["resolution"] == "to_coordinate":
        facts.append(Fact("initiative_overlaps_to_coordinate", at, dims))
    return facts


def _facts(event: LoggedEvent, state: State) -> list[Fact]:
    service, aggregate, action = _parts(event.type)
    data, at = event.data, event.time
    if service == "catalog":
        if aggregate in ENTRY_KPIS:
            return _entry_facts(event, state, aggregate, action)
        if aggregate == "duplicate" and action in ("found", "resolved"):
            dims = {
                "centre": _union([data["a"]["centre_id"]], [data["b"]["centre_id"]]),
                "kind": [data["entity"]],
            }
            kpi = "duplicates_found" if action == "found" else "duplicates_resolved"
            return [Fact(kpi, at, dims)]
        if aggregate == "initiative":
            return _initiative_facts(event, state, action)
        if aggregate == "initiative_overlap":
            return _overlap_facts(event, action)
        return []
    if service == "membership":
        if aggregate in ("member", "organisation"):
            return _member_facts(event, state, aggregate, action)
        if aggregate == "application" and action == "submitted":
            return [Fact("applications_submitted", at, {"province": [data["province"]]})]
        if aggregate == "application" and action == "decided":
            dims = {"province": [data["province"]]}
            days = _hours(data["decided_at"], data["submitted_at"]) / Decimal(24)
            return [
                Fact("applications_decided", at, dims),
                Fact("days_to_decision", at, dims, days),
            ]
        return []
    if service != "matching":
        return []
    if aggregate == "demand":
        return _demand_facts(event, state, action)
    if aggregate == "introduction":
        return _introduction_facts(event, state, action)
    if aggregate == "engagement":
        return _engagement_facts(event, state, action)
    if aggregate == "access_request":
        return _access_facts(event, action)
    if aggregate == "challenge":
        return _challenge_facts(event, action)
    if aggregate == "expression" and action == "submitted":
        return _expression_facts(event)
    return []
