"""Kernel tables and the widgets projection of the kernel tests.

Revision ID: testing_0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kernel.migrations import create_messaging_tables_v1

revision = "testing_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables_v1(op)
    op.create_table(
        "applied_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("widget_id", sa.String(36), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("applied_events")
