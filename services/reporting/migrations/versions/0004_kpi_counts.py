"""Reporting: the number of distinct items and of median values per calendar period, kept as
counters (`kpi_counts`), filled from the items and values already aggregated.

Revision ID: reporting_0004
Revises: reporting_0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reporting_0004"
down_revision = "reporting_0003"
branch_labels = None
depends_on = None

BUCKET = ("kpi", "dimension", "grain", "period", "key")


def upgrade() -> None:
    counts = op.create_table(
        "kpi_counts",
        sa.Column("kpi", sa.String(60), nullable=False),
        sa.Column("dimension", sa.String(20), nullable=False),
        sa.Column("grain", sa.String(8), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(*BUCKET),
        sqlite_with_rowid=False,
    )
    # Self-contained (not the models): the tables as this revision knows them.
    for name in ("kpi_items", "kpi_values"):
        rows = sa.table(name, *(sa.column(c, sa.String) for c in BUCKET))
        columns = [rows.c[c] for c in BUCKET]
        op.execute(
            counts.insert().from_select(
                [*BUCKET, "size"],
                sa.select(*columns, sa.func.count())
                .where(rows.c.grain != "day")  # custom ranges count distinct items by day
                .group_by(*columns),
            )
        )


def downgrade() -> None:
    op.drop_table("kpi_counts")
