"""SQLAlchemy models of the membership service.

Every aggregate row has a `version` that starts at 1 and is incremented by the service on each
change; SQLAlchemy checks it on UPDATE (`version_id_col`), so two concurrent writers of one row
cannot both succeed. The version is the events' `aggregateversion` and the source of ETags.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kernel.db import UTCDateTime

SequenceId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    acronym: Mapped[str | None] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(40))
    legal_form: Mapped[str | None] = mapped_column(String(100))
    vat_number: Mapped[str | None] = mapped_column(String(11))
    province: Mapped[str] = mapped_column(String(2))
    municipality: Mapped[str] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(300))
    website: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("vat_number", name="uq_organisations_vat_number"),
        Index("ix_organisations_created", "created_at", "id"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class Membership(Base):
    """The membership of one organisation (at most one; re-admission reuses it)."""

    __tablename__ = "memberships"

    organisation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("organisations.id"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    term_end: Mapped[date] = mapped_column(Date)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    application_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_memberships_created", "created_at", "organisation_id"),
        Index("ix_memberships_status_term", "status", "term_end"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class MembershipTransition(Base):
    """One step of a membership's lifecycle: who, when, why."""

    __tablename__ = "membership_transitions"

    seq: Mapped[int] = mapped_column(SequenceId, primary_key=True, autoincrement=True)
    organisation_id: Mapped[str] = mapped_column(String(36), ForeignKey("organisations.id"))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    actor_role: Mapped[str] = mapped_column(String(20))
    actor_org_id: Mapped[str | None] = mapped_column(String(36))
    actor_key_id: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_membership_transitions_org", "organisation_id", "seq"),)


class Representative(Base):
    """A representative of an organisation on the committee; `until` is set when replaced."""

    __tablename__ = "representatives"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(36), ForeignKey("organisations.id"))
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    position: Mapped[str] = mapped_column(String(200))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    appointed_by_role: Mapped[str] = mapped_column(String(20))
    appointed_by_org_id: Mapped[str | None] = mapped_column(String(36))
    appointed_by_key_id: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_representatives_org", "organisation_id", "since", "id"),
        # Exactly one current representative per organisation, even with concurrent writers.
        Index(
            "uq_representatives_current",
            "organisation_id",
            unique=True,
            sqlite_where=text("until IS NULL"),
            postgresql_where=text("until IS NULL"),
        ),
    )


class Application(Base):
    """An application to adhere: the candidate's data as submitted, checks and decision."""

    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[dict[str, Any]] = mapped_column(JSON)
    vat_number: Mapped[str | None] = mapped_column(String(11))
    operating_units: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    operates_in_tuscany: Mapped[bool] = mapped_column(Boolean)
    operates_in_technology_transfer: Mapped[bool] = mapped_column(Boolean)
    offer: Mapped[str] = mapped_column(Text)
    representative_full_name: Mapped[str] = mapped_column(String(200))
    representative_email: Mapped[str] = mapped_column(String(254))
    representative_position: Mapped[str] = mapped_column(String(200))
    eligibility: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    organisation_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("organisations.id"))
    decision: Mapped[str | None] = mapped_column(String(10))
    motivation: Mapped[str | None] = mapped_column(Text)
    votes_for: Mapped[int | None] = mapped_column(Integer)
    votes_against: Mapped[int | None] = mapped_column(Integer)
    votes_abstained: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_role: Mapped[str | None] = mapped_column(String(20))
    decided_by_org_id: Mapped[str | None] = mapped_column(String(36))
    decided_by_key_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_applications_created", "created_at", "id"),
        Index("ix_applications_status", "status", "created_at"),
        # At most one application under review per VAT number.
        Index(
            "uq_applications_pending_vat",
            "vat_number",
            unique=True,
            sqlite_where=text("status = 'under_review'"),
            postgresql_where=text("status = 'under_review'"),
        ),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class Protocol(Base):
    """The protocol between the Region and the signatories (one row)."""

    __tablename__ = "protocol"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    signed_on: Mapped[date] = mapped_column(Date)
    term_end: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class ProtocolRenewal(Base):
    __tablename__ = "protocol_renewals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    protocol_id: Mapped[str] = mapped_column(String(36), ForeignKey("protocol.id"))
    renewed_on: Mapped[date] = mapped_column(Date)
    previous_term_end: Mapped[date] = mapped_column(Date)
    term_end: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    actor_role: Mapped[str] = mapped_column(String(20))
    actor_org_id: Mapped[str | None] = mapped_column(String(36))
    actor_key_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_protocol_renewals_protocol", "protocol_id", "created_at"),)
