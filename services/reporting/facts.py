"""From events to facts: a fact is a contribution of one KPI at one instant (the event's time),
with the dimension keys it counts under.

Most events give their facts alone; a few need a little state kept from earlier events of the
same stream (which catalogue entries are published and how they were tagged, each member's
status, when a demand was submitted and whether it was matched, ...). That state lives in a
key-value mapping: `state_keys` names the keys an event reads and writes, so the projection
loads just those rows; unit tests pass a plain dict. Every event reads only the state of its
own stream, so a stream can be rebuilt alone, and the facts do not depend on the order in
which the streams are consumed: a matching event carries the tags of its labs itself.

Unknown types and events that miss a field give no facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kernel.italy import ateco_section

Dims = Mapping[str, Sequence[str]]
State = MutableMapping[str, Any]
"""JSON-serialisable values by key (`entry:lab:<id>`, `member:<org>`, `demand:<id>`, ...)."""


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


def _demand_facts(event: LoggedEvent, state: State, action: str) -> list[Fact]:
    """`match_rate` counts a demand at its submission, as matched if a non-empty ranking was
    ever proposed for it, whichever of the two events comes first."""
    data, at = event.data, event.time
    key = f"demand:{data['demand_id']}"
    demand = dict(state.get(key) or {})
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
        ]
    if action == "matches_proposed":
        if not data.get("matches") or demand.get("matched"):
            return []
        state[key] = demand | {"matched": True}
        if "time" not in demand:
            return []
        submitted = datetime.fromisoformat(demand["time"])
        return [Fact("match_rate", submitted, demand["dims"], Decimal(1))]
    if action == "consortia_proposed":
        consortia = data.get("consortia") or []
        centres = _union(*([m["centre_id"] for m in c.get("members", [])] for c in consortia))
        dims = _firm_dims(data["firm"]) | {"centre": centres}
        return [Fact("consortia_proposed", at, dims, Decimal(len(consortia)))]
    return []


def _introduction_facts(event: LoggedEvent, state: State, action: str) -> list[Fact]:
    data, at = event.data, event.time
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
        return [Fact("introduction_acceptance_rate", at, dims, accepted, denominator=Decimal(1))]
    return []


def _engagement_facts(event: LoggedEvent, state: State, action: str) -> list[Fact]:
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
        if data["kind"] == "joint_research":
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
    return []
