"""What an export holds: the published catalogue (of one centre or all), read at once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.api import lab_out
from services.catalog.entries import KINDS
from services.catalog.models import Lab, Member
from services.catalog.schemas import CompetenceOut, EntryStatus, EquipmentOut, ServiceOut
from services.catalog.transfer import exporting
from services.catalog.transfer.cerif import EquipmentItem

OUT: dict[str, type[BaseModel]] = {
    "competence": CompetenceOut,
    "equipment": EquipmentOut,
    "service": ServiceOut,
}
JSON_KEYS = {"competence": "competences", "equipment": "equipment", "service": "services"}


@dataclass
class Catalogue:
    labs: list[Lab]
    entries: dict[str, list[Any]]
    """By entity: the published entries of `labs`."""
    members: dict[str, Member]

    def lab_of(self, entry: Any) -> Lab:
        return self._labs[entry.lab_id]

    def __post_init__(self) -> None:
        self._labs = {lab.id: lab for lab in self.labs}

    def records(self, entity: str) -> list[dict[str, Any]]:
        if entity == "lab":
            return [exporting.lab_record(lab) for lab in self.labs]
        return [
            exporting.entry_record(entity, entry, self.lab_of(entry))
            for entry in self.entries[entity]
        ]

    def equipment_items(self, *, base_url: str) -> list[EquipmentItem]:
        items = []
        for entry in self.entries["equipment"]:
            member = self.members.get(entry.centre_id)
            items.append(
                EquipmentItem(
                    equipment=entry,
                    lab=self.lab_of(entry),
                    centre_name=member.name if member else None,
                    centre_acronym=member.acronym if member else None,
                    base_url=base_url,
                )
            )
        return items


async def published(session: AsyncSession, *, centre_id: str | None) -> Catalogue:
    """The published labs of active member centres (one of them, or all) and their
    published entries, in creation order."""
    active = select(Member.organisation_id).where(Member.status == "active")
    query = (
        select(Lab)
        .where(
            Lab.status == EntryStatus.PUBLISHED.value,
            Lab.deleted_at.is_(None),
            Lab.centre_id.in_(active),
        )
        .order_by(Lab.created_at, Lab.id)
    )
    if centre_id is not None:
        query = query.where(Lab.centre_id == centre_id)
    labs = list((await session.scalars(query)).all())
    lab_ids = [lab.id for lab in labs]
    entries: dict[str, list[Any]] = {}
    for entity, kind in KINDS.items():
        model = kind.model
        rows: list[Any] = []
        for start in range(0, len(lab_ids), 500):  # bounded IN lists
            rows.extend(
                (
                    await session.scalars(
                        select(model)
                        .where(
                            model.lab_id.in_(lab_ids[start : start + 500]),
                            model.status == EntryStatus.PUBLISHED.value,
                            model.deleted_at.is_(None),
                        )
                        .order_by(model.created_at, model.id)
                    )
                ).all()
            )
        entries[entity] = rows
    centres = {lab.centre_id for lab in labs}
    members = {
        m.organisation_id: m
        for m in (
            await session.scalars(select(Member).where(Member.organisation_id.in_(centres)))
        ).all()
    }
    return Catalogue(labs, entries, members)


def as_json(catalogue: Catalogue, *, generated_at: datetime, centre_id: str | None) -> bytes:
    """Labs as `GET /labs/{id}` shows them, each with its competences, equipment and services
    as their own routes show them."""
    by_lab: dict[str, dict[str, list[dict[str, Any]]]] = {
        lab.id: {key: [] for key in JSON_KEYS.values()} for lab in catalogue.labs
    }
    for entity, rows in catalogue.entries.items():
        out = OUT[entity]
        for entry in rows:
            by_lab[entry.lab_id][JSON_KEYS[entity]].append(
                out.model_validate(entry).model_dump(mode="json")
            )
    labs: Sequence[dict[str, Any]] = [
        {**lab_out(lab).model_dump(mode="json"), **by_lab[lab.id]} for lab in catalogue.labs
    ]
    document = {
        "generated_at": generated_at.isoformat(),
        "centre_id": centre_id,
        "labs": labs,
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode()
