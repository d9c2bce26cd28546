"""Reporting: the event log and the issued reports.

Revision ID: reporting_0002
Revises: reporting_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reporting_0002"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
SEQUENCE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", SEQUENCE_ID, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("stream", sa.String(40), nullable=False),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("source", sa.String(60), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("time", TIMESTAMP, nullable=False),
        sa.Column("aggregate_version", sa.Integer, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("id", name="uq_events_id"),
    )
    op.create_index("ix_events_time", "events", ["time", "id"])
    op.create_index("ix_events_type", "events", ["type"])

    op.create_table(
        "reports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("supersedes", sa.String(36), nullable=True),
        sa.Column("provisional", sa.Boolean, nullable=False),
        sa.Column("generated_at", TIMESTAMP, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("last_event_id", sa.String(36), nullable=True),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.UniqueConstraint("number", name="uq_reports_number"),
        sa.UniqueConstraint("period", "version", name="uq_reports_period_version"),
    )


def downgrade() -> None:
    op.drop_table("reports")
    op.drop_index("ix_events_type", table_name="events")
    op.drop_index("ix_events_time", table_name="events")
    op.drop_table("events")
