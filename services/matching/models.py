"""SQLAlchemy models of the matching service.

Two parts: the *index*, a projection of the catalogue and of the centres' membership kept from
their events (`catalog_entries`, `catalog_initiatives`, `centres`, `index_state`), and
matching's own aggregates
(firms, demands, introductions, engagements, access requests, and the challenges of
`challenges/models.py`). Aggregate rows carry a `version`
that starts at 1 and is incremented on each change; SQLAlchemy checks it on UPDATE, so two
concurrent writers of one row cannot both succeed. It is the events' `aggregateversion`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kernel.db import UTCDateTime

Money = Numeric(14, 2)


class Base(DeclarativeBase):
    pass


# -- the index (projection of the catalogue and membership) ---------------------------------


class IndexState(Base):
    """One row: `generation` grows with every change of the index, `epoch` changes when the
    index is rebuilt; each process compares them with what its in-memory matrix holds."""

    __tablename__ = "index_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[str] = mapped_column(String(36))
    generation: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Centre(Base):
    """A member organisation's membership status, from the membership events."""

    __tablename__ = "centres"

    centre_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CatalogEntry(Base):
    """A lab, competence, equipment or service of the public catalogue, as matching indexes it.

    `visible` = the entry is published, its lab is published and its centre is active."""

    __tablename__ = "catalog_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    lab_id: Mapped[str] = mapped_column(String(36))
    centre_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20))
    lab_published: Mapped[bool] = mapped_column(Boolean)
    centre_active: Mapped[bool] = mapped_column(Boolean)
    visible: Mapped[bool] = mapped_column(Boolean)
    title: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[dict[str, Any]] = mapped_column(JSON)
    lab_name: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    trl_min: Mapped[int | None] = mapped_column(Integer)
    trl_max: Mapped[int | None] = mapped_column(Integer)
    province: Mapped[str] = mapped_column(String(2))
    municipality: Mapped[str] = mapped_column(String(100))
    shareable: Mapped[bool | None] = mapped_column(Boolean)
    languages: Mapped[list[str]] = mapped_column(JSON)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    forms: Mapped[dict[str, Any]] = mapped_column(JSON)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    embedding_model: Mapped[str] = mapped_column(String(50))
    change_seq: Mapped[int] = mapped_column(BigInteger)
    catalog_version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_catalog_entries_change", "change_seq"),
        Index("ix_catalog_entries_lab", "lab_id"),
        Index("ix_catalog_entries_centre", "centre_id"),
    )


class CatalogInitiative(Base):
    """An initiative of the catalogue's register (project, joint action, training or
    dissemination event), as matching proposes it to demands; drafts never arrive.

    Whether it is open (proposable) depends on the day, so it is decided when ranking
    (`initiatives.is_open`), not stored; so is its lead centre's membership (`centres`)."""

    __tablename__ = "catalog_initiatives"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    centre_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))
    title: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON)
    partner_centres: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """`[{"centre_id", "status"}]`, status `proposed` or `confirmed`."""
    funding_programme: Mapped[str | None] = mapped_column(String(30))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    registration_open: Mapped[bool | None] = mapped_column(Boolean)
    province: Mapped[str | None] = mapped_column(String(2))
    municipality: Mapped[str | None] = mapped_column(String(100))
    languages: Mapped[list[str]] = mapped_column(JSON)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    forms: Mapped[dict[str, Any]] = mapped_column(JSON)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    embedding_model: Mapped[str] = mapped_column(String(50))
    catalog_version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_catalog_initiatives_centre", "centre_id"),)


# -- matching's own aggregates --------------------------------------------------------------


class Firm(Base):
    __tablename__ = "firms"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    vat_number: Mapped[str] = mapped_column(String(11))
    ateco_code: Mapped[str] = mapped_column(String(10))
    ateco_section: Mapped[str] = mapped_column(String(1))
    ateco_division: Mapped[str] = mapped_column(String(2))
    size_class: Mapped[str] = mapped_column(String(10))
    employees: Mapped[int | None] = mapped_column(Integer)
    turnover_eur: Mapped[Decimal | None] = mapped_column(Money)
    balance_sheet_eur: Mapped[Decimal | None] = mapped_column(Money)
    province: Mapped[str] = mapped_column(String(2))
    municipality: Mapped[str] = mapped_column(String(100))
    registered_by_role: Mapped[str] = mapped_column(String(20))
    registered_by_org_id: Mapped[str | None] = mapped_column(String(36))
    registered_by_key_id: Mapped[str | None] = mapped_column(String(100))
    capabilities: Mapped[str | None] = mapped_column(Text)
    """What the firm can do for others (a supplier's description), ranked for challenges."""
    capability_tags: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    # The capabilities analysed as a catalogue entry's text is (`capabilities.py`): null
    # without a description.
    capability_languages: Mapped[list[str] | None] = mapped_column(JSON)
    capability_terms: Mapped[dict[str, int] | None] = mapped_column(JSON)
    capability_forms: Mapped[dict[str, str] | None] = mapped_column(JSON)
    capability_embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    capability_model: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("vat_number", name="uq_firms_vat_number"),
        Index("ix_firms_created", "created_at", "id"),
        Index("ix_firms_registered_by", "registered_by_org_id"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class Demand(Base):
    __tablename__ = "demands"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    firm_id: Mapped[str] = mapped_column(String(36), ForeignKey("firms.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    needs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    sector: Mapped[str | None] = mapped_column(String(10))
    trl_current: Mapped[int | None] = mapped_column(Integer)
    trl_target: Mapped[int | None] = mapped_column(Integer)
    budget_eur: Mapped[Decimal | None] = mapped_column(Money)
    deadline: Mapped[date | None] = mapped_column(Date)
    preferred_provinces: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    submitted_by_role: Mapped[str] = mapped_column(String(20))
    submitted_by_org_id: Mapped[str | None] = mapped_column(String(36))
    submitted_by_key_id: Mapped[str | None] = mapped_column(String(100))
    partner_org_id: Mapped[str | None] = mapped_column(String(36))
    assisting_centre_id: Mapped[str | None] = mapped_column(String(36))
    matches_digest: Mapped[str | None] = mapped_column(String(64))
    consortia_digest: Mapped[str | None] = mapped_column(String(64))
    challenge_id: Mapped[str | None] = mapped_column(String(36))
    """Set on the demand that backs a challenge of its firm (`challenges/`)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_demands_created", "created_at", "id"),
        Index("ix_demands_firm", "firm_id", "created_at"),
        Index("ix_demands_partner", "partner_org_id"),
        Index("ix_demands_centre", "assisting_centre_id"),
        Index("ix_demands_challenge", "challenge_id"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class Introduction(Base):
    __tablename__ = "introductions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    demand_id: Mapped[str] = mapped_column(String(36), ForeignKey("demands.id"))
    lab_id: Mapped[str] = mapped_column(String(36))
    centre_id: Mapped[str] = mapped_column(String(36))
    entry_id: Mapped[str | None] = mapped_column(String(36))
    consortium_id: Mapped[str | None] = mapped_column(String(36))
    consortium_size: Mapped[int | None] = mapped_column(Integer)
    consortium_centres: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by_role: Mapped[str] = mapped_column(String(20))
    requested_by_org_id: Mapped[str | None] = mapped_column(String(36))
    requested_by_key_id: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_role: Mapped[str | None] = mapped_column(String(20))
    answered_by_org_id: Mapped[str | None] = mapped_column(String(36))
    answered_by_key_id: Mapped[str | None] = mapped_column(String(100))
    engagement_id: Mapped[str | None] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_introductions_requested", "requested_at", "id"),
        Index("ix_introductions_centre", "centre_id", "status"),
        Index("ix_introductions_demand", "demand_id"),
        Index("ix_introductions_consortium", "consortium_id"),
        # One pending introduction per demand and lab, even with concurrent requests.
        Index(
            "uq_introductions_pending",
            "demand_id",
            "lab_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class Engagement(Base):
    __tablename__ = "engagements"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    demand_id: Mapped[str] = mapped_column(String(36), ForeignKey("demands.id"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    consortium_id: Mapped[str | None] = mapped_column(String(36))
    consortium_size: Mapped[int | None] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    value_eur: Mapped[Decimal | None] = mapped_column(Money)
    delivered: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    innovation_introduced: Mapped[str | None] = mapped_column(String(20))
    closed_by_role: Mapped[str | None] = mapped_column(String(20))
    closed_by_org_id: Mapped[str | None] = mapped_column(String(36))
    closed_by_key_id: Mapped[str | None] = mapped_column(String(100))
    challenge_id: Mapped[str | None] = mapped_column(String(36))
    """The challenge whose award opened it."""
    supplier_firm_id: Mapped[str | None] = mapped_column(String(36))
    """A firm of an awarded challenge team: the engagement is with it (no lab takes part)."""
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_engagements_opened", "opened_at", "id"),
        Index("ix_engagements_demand", "demand_id"),
        Index("ix_engagements_consortium", "consortium_id"),
        Index("ix_engagements_supplier", "supplier_firm_id"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class EngagementParticipant(Base):
    __tablename__ = "engagement_participants"

    engagement_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("engagements.id"), primary_key=True
    )
    lab_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    centre_id: Mapped[str] = mapped_column(String(36))
    introduction_id: Mapped[str | None] = mapped_column(String(36))
    """Null for a lab of an awarded challenge team that was never invited."""
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_engagement_participants_centre", "centre_id"),)


class AccessRequest(Base):
    __tablename__ = "access_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    equipment_id: Mapped[str] = mapped_column(String(36))
    lab_id: Mapped[str] = mapped_column(String(36))
    centre_id: Mapped[str] = mapped_column(String(36))
    firm_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("firms.id"))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requester_role: Mapped[str] = mapped_column(String(20))
    requester_org_id: Mapped[str | None] = mapped_column(String(36))
    requester_key_id: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_role: Mapped[str | None] = mapped_column(String(20))
    answered_by_org_id: Mapped[str | None] = mapped_column(String(36))
    answered_by_key_id: Mapped[str | None] = mapped_column(String(100))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_access_requests_requested", "requested_at", "id"),
        Index("ix_access_requests_equipment", "equipment_id", "status", "start"),
        Index("ix_access_requests_centre", "centre_id", "status"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


# The challenges' tables live on this Base too (Alembic and the migration test read it).
from services.matching.challenges import models as _challenges  # noqa: E402, F401
