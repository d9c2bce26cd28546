"""Idempotency keys of writes, committed with their effect (kernel/idempotency.py).

Revision ID: reporting_0005
Revises: reporting_0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from kernel.migrations import create_idempotency_keys_v1

revision = "reporting_0005"
down_revision = "reporting_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_keys_v1(op)


def downgrade() -> None:
    op.drop_table("idempotency_keys")
