"""SQLAlchemy models of the reporting service.

`events` is the log of every event received from the three streams, unknown types included.
The KPIs are read from aggregates kept up to date with it, in the same transaction as each
event is logged: daily sums per KPI and dimension key (`kpi_daily`), the keys counted by
distinct-count KPIs (`kpi_items`), the values of median KPIs (`kpi_values`), how many of either
each calendar period holds (`kpi_counts`), the keys seen per dimension (`kpi_keys`), and the
little state the facts need (`fold_state`). Sums are integers in millionths, exact on
PostgreSQL and SQLite alike. `reports` holds issued reports: their whole content is stored,
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


TOTAL = ""
"""The `dimension` and `key` of a KPI's total rows."""


WITHOUT_ROWID = {"sqlite_with_rowid": False}
"""On SQLite the aggregates are clustered on their primary key: a range of days or periods of
one KPI and dimension is one contiguous read."""


class KpiDaily(Base):
    """Per KPI, dimension key and day: the sum of the facts' values and denominators (in
    millionths) and their number. Totals have dimension and key ``""``. For custom ranges."""

    __tablename__ = "kpi_daily"

    kpi: Mapped[str] = mapped_column(String(60), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Proleptic Gregorian ordinal of the UTC date (`date.toordinal()`)."""
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    denominator: Mapped[int] = mapped_column(BigInteger)
    facts: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (WITHOUT_ROWID,)


class KpiMonthly(Base):
    """The same sums per calendar month: months, quarters, years and stock levels read these."""

    __tablename__ = "kpi_monthly"

    kpi: Mapped[str] = mapped_column(String(60), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    """`year * 12 + month - 1`."""
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    denominator: Mapped[int] = mapped_column(BigInteger)
    facts: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (WITHOUT_ROWID,)


class KpiItem(Base):
    """An item (firm, consortium) counted by a distinct-count KPI, once per period of each
    grain (`day` for custom ranges, `month`, `quarter`, `year`) and dimension key: the distinct
    count of a calendar period is a count of rows."""

    __tablename__ = "kpi_items"

    kpi: Mapped[str] = mapped_column(String(60), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    """`2026-09-14`, `2026-09`, `2026-Q3` or `2026`."""
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    item: Mapped[str] = mapped_column(String(100), primary_key=True)

    __table_args__ = (WITHOUT_ROWID,)


class KpiValue(Base):
    """One value (millionths) of a median KPI, per period of each grain and dimension key."""

    __tablename__ = "kpi_values"

    id: Mapped[int] = mapped_column(SequenceId, primary_key=True, autoincrement=True)
    kpi: Mapped[str] = mapped_column(String(60))
    dimension: Mapped[str] = mapped_column(String(20))
    grain: Mapped[str] = mapped_column(String(8))
    period: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(100))
    value: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        # Covering, in the order a median reads: no sort, no table lookup.
        Index("ix_kpi_values_period", "kpi", "dimension", "grain", "period", "key", "value"),
    )


class KpiCount(Base):
    """Per calendar period (`month`, `quarter`, `year`) and dimension key: how many distinct
    items a distinct-count KPI has there, or how many values a median KPI has. Kept as the
    items and values are added, so a query reads one row per bucket instead of counting."""

    __tablename__ = "kpi_counts"

    kpi: Mapped[str] = mapped_column(String(60), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (WITHOUT_ROWID,)


class KpiKey(Base):
    """A key seen for a KPI and dimension, with the first day it was seen: the rows of a
    breakdown (a key shows with zero in the periods it has no facts)."""

    __tablename__ = "kpi_keys"

    kpi: Mapped[str] = mapped_column(String(60), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    first_day: Mapped[int] = mapped_column(Integer)


class FoldState(Base):
    """State the facts of later events depend on (see `facts.state_keys`), by stream."""

    __tablename__ = "fold_state"

    key: Mapped[str] = mapped_column(String(150), primary_key=True)
    stream: Mapped[str] = mapped_column(String(40))
    value: Mapped[Any] = mapped_column(JSON)

    __table_args__ = (Index("ix_fold_state_stream", "stream"),)
