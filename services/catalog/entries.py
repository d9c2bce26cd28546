"""What the catalogue's rows look like elsewhere: columns from request bodies, the state
events carry, search documents and duplicate signatures, for labs and for the three kinds of
entry (competences, equipment, service offerings), whose differences `Kind` holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from kernel.contracts import catalog as contracts
from kernel.events import EventData
from kernel.principal import Principal
from services.catalog import duplicates, search, taxonomies
from services.catalog.models import Competence, DuplicatePair, Equipment, Lab, ServiceOffering

EntryRow = Competence | Equipment | ServiceOffering


@dataclass(frozen=True)
class Actor:
    role: str
    org_id: str | None = None
    key_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.role.value, principal.org_id, principal.key_id)

    def contract(self) -> contracts.Actor:
        return contracts.Actor(role=self.role, org_id=self.org_id, key_id=self.key_id)


SYSTEM = Actor("system")


def language_map(value: Any) -> dict[str, str]:
    """A language map (schema object, dict or None) as stored."""
    if value is None:
        return {}
    if hasattr(value, "as_dict"):
        return cast("dict[str, str]", value.as_dict())
    return {k: v for k, v in dict(value).items() if v}


def tags_of(value: Any) -> dict[str, list[str]]:
    if value is None:
        return {d: [] for d in taxonomies.TAG_DIMENSIONS}
    if hasattr(value, "as_dict"):
        return cast("dict[str, list[str]]", value.as_dict())
    return {d: list(value.get(d, [])) for d in taxonomies.TAG_DIMENSIONS}


def tariff(value: Any) -> str | None:
    return None if value is None else f"{value:.2f}"


# -- entries: what differs between competences, equipment and services ----------------------


@dataclass(frozen=True)
class Kind:
    entity: str
    model: type[EntryRow]
    id_field: str
    published: Callable[..., EventData]
    updated: Callable[..., EventData]
    withdrawn: Callable[..., EventData]
    fields: tuple[str, ...]
    """Columns a create or a PATCH sets (besides tags)."""
    convert: Mapping[str, Callable[[Any], Any]]

    @property
    def noun(self) -> str:
        return {"service": "service offering"}.get(self.entity, self.entity)


MAPS = {
    "title": language_map,
    "name": language_map,
    "description": language_map,
    "booking_conditions": language_map,
}

COMPETENCE = Kind(
    "competence",
    Competence,
    "competence_id",
    contracts.CompetencePublished,
    contracts.CompetenceUpdated,
    contracts.CompetenceWithdrawn,
    ("title", "description", "trl_min", "trl_max", "keywords"),
    MAPS,
)
EQUIPMENT = Kind(
    "equipment",
    Equipment,
    "equipment_id",
    contracts.EquipmentPublished,
    contracts.EquipmentUpdated,
    contracts.EquipmentWithdrawn,
    (
        "name",
        "description",
        "category",
        "manufacturer",
        "model",
        "year",
        "shareable",
        "tariff_eur_per_hour",
        "booking_conditions",
    ),
    {**MAPS, "tariff_eur_per_hour": tariff},
)
SERVICE = Kind(
    "service",
    ServiceOffering,
    "service_id",
    contracts.ServicePublished,
    contracts.ServiceUpdated,
    contracts.ServiceWithdrawn,
    ("name", "kind", "description", "price_model"),
    {**MAPS, "kind": lambda v: None if v is None else str(v)},
)
KINDS = {kind.entity: kind for kind in (COMPETENCE, EQUIPMENT, SERVICE)}


def column_values(kind: Kind, data: Mapping[str, Any]) -> dict[str, Any]:
    values = {}
    for name in (*kind.fields, "tags"):
        if name in data:
            value = data[name]
            if name == "tags":
                value = tags_of(value)
            elif name in kind.convert:
                value = kind.convert[name](value)
            values[name] = value
    return values


def entry_state(kind: Kind, entry: EntryRow, lab: Lab, actor: Actor) -> dict[str, Any]:
    state: dict[str, Any] = {
        kind.id_field: entry.id,
        "lab_id": lab.id,
        "centre_id": lab.centre_id,
        "lab_name": contracts.Text(**lab.name),
        "province": lab.province,
        "municipality": lab.municipality,
        "status": entry.status,
        "tags": contracts.Tags(**entry.tags),
        "actor": actor.contract(),
    }
    for name in kind.fields:
        value = getattr(entry, name)
        if name in MAPS:
            value = contracts.Text(**value) if value is not None else None
        state[name] = value
    return state


def entry_signature(kind: Kind, entry: EntryRow) -> duplicates.Signature:
    if isinstance(entry, Competence):
        return duplicates.signature(
            name=entry.title, description=entry.description, keywords=entry.keywords
        )
    if isinstance(entry, Equipment):
        return duplicates.signature(
            name=entry.name,
            description=entry.description,
            keywords=[entry.category] if entry.category else [],
            manufacturer=entry.manufacturer,
            model=entry.model,
        )
    return duplicates.signature(name=entry.name, description=entry.description, kind=entry.kind)


def entry_document(kind: Kind, entry: EntryRow, lab: Lab) -> search.Document:
    common: dict[str, Any] = {
        "entry_id": entry.id,
        "entity": kind.entity,
        "lab_id": lab.id,
        "centre_id": lab.centre_id,
        "province": lab.province,
        "tags": entry.tags,
        "signature": entry_signature(kind, entry).as_json(),
        "text": entry.description or {},
    }
    lab_fields: list[tuple[str, search.FieldValue]] = [("lab", lab.name)]
    if isinstance(entry, Competence):
        return search.Document(
            **common,
            title=entry.title,
            fields=[
                ("title", entry.title),
                ("description", entry.description),
                ("keywords", entry.keywords),
                *lab_fields,
            ],
            trl_min=entry.trl_min,
            trl_max=entry.trl_max,
        )
    if isinstance(entry, Equipment):
        return search.Document(
            **common,
            title=entry.name,
            fields=[
                ("title", entry.name),
                ("description", entry.description),
                ("category", entry.category),
                ("make", " ".join(p for p in (entry.manufacturer, entry.model) if p)),
                ("extra", entry.booking_conditions),
                *lab_fields,
            ],
            shareable=entry.shareable,
        )
    return search.Document(
        **common,
        title=entry.name,
        fields=[
            ("title", entry.name),
            ("description", entry.description),
            ("extra", entry.price_model),
            *lab_fields,
        ],
        kind=entry.kind,
    )


def union_tags(entries: Sequence[tuple[Kind, EntryRow]]) -> dict[str, list[str]]:
    union: dict[str, list[str]] = {d: [] for d in taxonomies.TAG_DIMENSIONS}
    for _, entry in entries:
        for dimension, codes in entry.tags.items():
            union[dimension].extend(c for c in codes if c not in union[dimension])
    return union


def lab_state(lab: Lab, tags: Mapping[str, list[str]], actor: Actor) -> dict[str, Any]:
    return {
        "lab_id": lab.id,
        "centre_id": lab.centre_id,
        "name": contracts.Text(**lab.name),
        "description": contracts.Text(**lab.description),
        "province": lab.province,
        "municipality": lab.municipality,
        "accreditations": lab.accreditations,
        "access_modes": lab.access_modes,
        "contact_email": lab.contact_email,
        "status": lab.status,
        "tags": contracts.Tags(**tags),
        "actor": actor.contract(),
    }


def lab_document(lab: Lab, tags: Mapping[str, list[str]]) -> search.Document:
    return search.Document(
        entry_id=lab.id,
        entity="lab",
        lab_id=lab.id,
        centre_id=lab.centre_id,
        province=lab.province,
        title=lab.name,
        text=lab.description,
        fields=[
            ("title", lab.name),
            ("description", lab.description),
            ("keywords", [*lab.accreditations, *lab.access_modes]),
            ("extra", lab.municipality),
        ],
        tags=tags,
    )


def pair_state(pair: DuplicatePair) -> dict[str, Any]:
    entity = cast("contracts.Entity", pair.entity)
    return {
        "pair_id": pair.id,
        "entity": entity,
        "a": contracts.EntryRef(
            entity=entity, id=pair.a_id, centre_id=pair.a_centre_id, lab_id=pair.a_lab_id
        ),
        "b": contracts.EntryRef(
            entity=entity, id=pair.b_id, centre_id=pair.b_centre_id, lab_id=pair.b_lab_id
        ),
        "similarity": pair.similarity,
        "reason": pair.reason,
    }
