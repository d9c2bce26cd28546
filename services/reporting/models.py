"""SQLAlchemy models of the reporting service.

`events` is the log of every event received from the three streams, unknown types included;
the KPIs are computed from it. `reports` holds issued reports: their whole content is stored,
never recomputed, so a late event cannot change an issued report.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kernel.db import UTCDateTime

SequenceId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class StoredEvent(Base):
    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(SequenceId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36))
    stream: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(100))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    aggregate_version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("id", name="uq_events_id"),
        Index("ix_events_time", "time", "id"),
        Index("ix_events_type", "type"),
    )


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer)
    supersedes: Mapped[str | None] = mapped_column(String(36), nullable=True)
    provisional: Mapped[bool] = mapped_column(Boolean)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    hash: Mapped[str] = mapped_column(String(64))
    last_event_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[str] = mapped_column(Text)
    """The canonical JSON that `hash` is the SHA-256 of."""

    __table_args__ = (
        UniqueConstraint("number", name="uq_reports_number"),
        UniqueConstraint("period", "version", name="uq_reports_period_version"),
    )
