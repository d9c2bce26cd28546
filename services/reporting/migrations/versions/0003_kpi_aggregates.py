"""Reporting: KPI aggregates kept with the event log, filled from the events already logged.

Revision ID: reporting_0003
Revises: reporting_0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reporting_0003"
down_revision = "reporting_0002"
branch_labels = None
depends_on = None

SEQUENCE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    for name, period in (("kpi_daily", "day"), ("kpi_monthly", "month")):
        op.create_table(
            name,
            sa.Column("kpi", sa.String(60), nullable=False),
            sa.Column("dimension", sa.String(20), nullable=False),
            sa.Column(period, sa.Integer, nullable=False),
            sa.Column("key", sa.String(100), nullable=False),
            sa.Column("value", sa.BigInteger, nullable=False),
            sa.Column("denominator", sa.BigInteger, nullable=False),
            sa.Column("facts", sa.BigInteger, nullable=False),
            sa.PrimaryKeyConstraint("kpi", "dimension", period, "key"),
            sqlite_with_rowid=False,
        )
    op.create_table(
        "kpi_items",
        sa.Column("kpi", sa.String(60), nullable=False),
        sa.Column("dimension", sa.String(20), nullable=False),
        sa.Column("grain", sa.String(8), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("item", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("kpi", "dimension", "grain", "period", "key", "item"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "kpi_values",
        sa.Column("id", SEQUENCE_ID, primary_key=True, autoincrement=True),
        sa.Column("kpi", sa.String(60), nullable=False),
        sa.Column("dimension", sa.String(20), nullable=False),
        sa.Column("grain", sa.String(8), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_kpi_values_period",
        "kpi_values",
        ["kpi", "dimension", "grain", "period", "key", "value"],
    )
    op.create_table(
        "kpi_keys",
        sa.Column("kpi", sa.String(60), primary_key=True),
        sa.Column("dimension", sa.String(20), primary_key=True),
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("first_day", sa.Integer, nullable=False),
    )
    op.create_table(
        "fold_state",
        sa.Column("key", sa.String(150), primary_key=True),
        sa.Column("stream", sa.String(40), nullable=False),
        sa.Column("value", sa.JSON, nullable=False),
    )
    op.create_index("ix_fold_state_stream", "fold_state", ["stream"])

    # Events logged before this revision: their facts, so that the aggregates match the log.
    from services.reporting.projection import backfill

    backfill(op.get_bind(), counts=False)  # `kpi_counts` comes with reporting_0004


def downgrade() -> None:
    op.drop_index("ix_fold_state_stream", table_name="fold_state")
    op.drop_table("fold_state")
    op.drop_table("kpi_keys")
    op.drop_index("ix_kpi_values_period", table_name="kpi_values")
    op.drop_table("kpi_values")
    op.drop_table("kpi_items")
    op.drop_table("kpi_monthly")
    op.drop_table("kpi_daily")
