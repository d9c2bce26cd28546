"""Kernel tables: outbox, inbox, projection versions, dead letters, leases.

Revision ID: reporting_0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from kernel.migrations import create_messaging_tables_v1

revision = "reporting_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables_v1(op)


def downgrade() -> None:
    for table in ("leases", "dead_letters", "projection_versions", "inbox", "outbox"):
        op.drop_table(table)
