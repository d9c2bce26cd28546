"""SQLAlchemy models of the challenges (on matching's `Base`, so the Alembic environment and
the migration test see them).

`challenges` and `challenge_expressions` are aggregates: `version` starts at 1, is incremented
on each change, is checked on UPDATE, and is their ETag and events' `aggregateversion`.
A challenge's stored `status` may lag: an open challenge whose deadline has passed *is*
evaluating (`visibility.status_of`), and is stored so by its next write; no job has to move it
at the deadline.
`challenge_guests` are who may see an `invited` challenge besides its publisher side: the
firms it lists, and the firms and centres of the teams it invited.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import UTCDateTime
from services.matching.models import Base, Money


class Challenge(Base):
    __tablename__ = "challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    publisher_firm_id: Mapped[str] = mapped_column(String(36), ForeignKey("firms.id"))
    demand_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("demands.id"))
    """The backing demand, from publication on."""
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    needs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    sector: Mapped[str] = mapped_column(String(10))
    trl_expected: Mapped[int | None] = mapped_column(Integer)
    budget_eur: Mapped[Decimal | None] = mapped_column(Money)
    prize_eur: Mapped[Decimal | None] = mapped_column(Money)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    visibility: Mapped[str] = mapped_column(String(10))
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """`[{"name", "weight"}]`, weight null or 0..100."""
    status: Mapped[str] = mapped_column(String(20))
    created_by_role: Mapped[str] = mapped_column(String(20))
    created_by_org_id: Mapped[str | None] = mapped_column(String(36))
    created_by_key_id: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_by_role: Mapped[str | None] = mapped_column(String(20))
    published_by_org_id: Mapped[str | None] = mapped_column(String(36))
    published_by_key_id: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When it was closed without award, or awarded."""
    close_reason: Mapped[str | None] = mapped_column(Text)
    awarded_expression_id: Mapped[str | None] = mapped_column(String(36))
    award_value_eur: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_challenges_created", "created_at", "id"),
        Index("ix_challenges_publisher", "publisher_firm_id"),
        Index("ix_challenges_status", "status", "deadline"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class ChallengeGuest(Base):
    """A firm or a centre that may see an `invited` challenge (and answer it)."""

    __tablename__ = "challenge_guests"

    challenge_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("challenges.id"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    """`firm` or `centre`: the role of the principals it lets in."""
    org_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(36))
    """The invited team it belongs to; null for a firm the challenge lists."""
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_challenge_guests_org", "role", "org_id"),)


class Expression(Base):
    """An expression of interest: a firm or a centre answers with its team (`members`:
    `[{"kind": "firm", "firm_id"} | {"kind": "lab", "lab_id", "centre_id"}]`) and how it
    meets each need (`responses`: `[{"need_index", "text", "members": [int]}]`)."""

    __tablename__ = "challenge_expressions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    challenge_id: Mapped[str] = mapped_column(String(36), ForeignKey("challenges.id"))
    respondent_kind: Mapped[str] = mapped_column(String(10))
    respondent_org_id: Mapped[str] = mapped_column(String(36))
    members: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    responses: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)
    shortlisted: Mapped[bool] = mapped_column(Boolean)
    shortlisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_by_role: Mapped[str] = mapped_column(String(20))
    submitted_by_org_id: Mapped[str | None] = mapped_column(String(36))
    submitted_by_key_id: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        # One expression per respondent organisation, even with concurrent submissions.
        UniqueConstraint(
            "challenge_id",
            "respondent_kind",
            "respondent_org_id",
            name="uq_challenge_expressions_respondent",
        ),
        Index("ix_challenge_expressions_submitted", "challenge_id", "submitted_at", "id"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class Invitation(Base):
    """A proposed team the publisher invited: introductions to its labs, guests for all."""

    __tablename__ = "challenge_invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    challenge_id: Mapped[str] = mapped_column(String(36), ForeignKey("challenges.id"))
    team_id: Mapped[str] = mapped_column(String(36))
    members: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """As an expression's, with each member's `need_indexes`."""
    introduction_ids: Mapped[list[str]] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime())
    invited_by_role: Mapped[str] = mapped_column(String(20))
    invited_by_org_id: Mapped[str | None] = mapped_column(String(36))
    invited_by_key_id: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        UniqueConstraint("challenge_id", "team_id", name="uq_challenge_invitations_team"),
    )
