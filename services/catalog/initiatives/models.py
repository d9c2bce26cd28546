"""SQLAlchemy models of the initiatives register (on the catalogue's `Base`, so the Alembic
environment and the migration test see them).

An initiative has a `version` that starts at 1 and is incremented on each change (a partner's
confirmation included): the ETag and the events' `aggregateversion`, checked on UPDATE. Dates
are calendar dates; an event's times are local times of Europe/Rome (`HH:MM`). Money is a
decimal string with two decimals. `signature` holds the terms and tags that overlap detection
compares (`overlaps.py`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import UTCDateTime
from services.catalog.models import Base


class Initiative(Base):
    __tablename__ = "initiatives"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    centre_id: Mapped[str] = mapped_column(String(36))
    """The lead centre: the member centre that registered it."""
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[dict[str, str]] = mapped_column(JSON)
    description: Mapped[dict[str, str]] = mapped_column(JSON)
    partner_organisations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    funding_programme: Mapped[str | None] = mapped_column(String(30))
    funding_call: Mapped[str | None] = mapped_column(String(200))
    budget_eur: Mapped[str | None] = mapped_column(String(20))
    public_funding_eur: Mapped[str | None] = mapped_column(String(20))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    start_time: Mapped[str | None] = mapped_column(String(5))
    end_time: Mapped[str | None] = mapped_column(String(5))
    venue: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(2))
    municipality: Mapped[str | None] = mapped_column(String(100))
    registration_open: Mapped[bool | None] = mapped_column(Boolean)
    registered_participants: Mapped[int | None] = mapped_column(Integer)
    attending_participants: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    """draft, planned, running, closed (forward only)."""
    signature: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_initiatives_created", "created_at", "id"),
        Index("ix_initiatives_centre", "centre_id", "created_at"),
        Index("ix_initiatives_start", "kind", "start_date"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class InitiativePartner(Base):
    """A member centre taking part in an initiative besides its lead."""

    __tablename__ = "initiative_partners"

    initiative_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("initiatives.id"), primary_key=True
    )
    centre_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    """proposed (until the centre confirms) or confirmed."""
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by_key_id: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (Index("ix_initiative_partners_centre", "centre_id"),)


class InitiativeOverlap(Base):
    """Two initiatives of different centres that look alike in overlapping time; a < b by id."""

    __tablename__ = "initiative_overlaps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    a_id: Mapped[str] = mapped_column(String(36))
    a_centre_id: Mapped[str] = mapped_column(String(36))
    a_kind: Mapped[str] = mapped_column(String(30))
    b_id: Mapped[str] = mapped_column(String(36))
    b_centre_id: Mapped[str] = mapped_column(String(36))
    b_kind: Mapped[str] = mapped_column(String(30))
    similarity: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    """open, distinct or to_coordinate."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_role: Mapped[str | None] = mapped_column(String(20))
    resolved_by_org_id: Mapped[str | None] = mapped_column(String(36))
    resolved_by_key_id: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("a_id", "b_id", name="uq_initiative_overlaps_pair"),
        Index("ix_initiative_overlaps_status", "status", "created_at", "id"),
        Index("ix_initiative_overlaps_b", "b_id"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
