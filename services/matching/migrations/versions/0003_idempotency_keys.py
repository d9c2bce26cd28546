"""Idempotency keys of writes, committed with their effect (kernel/idempotency.py).

Revision ID: matching_0003
Revises: matching_0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from kernel.migrations import create_idempotency_keys_v1

revision = "matching_0003"
down_revision = "matching_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_keys_v1(op)


def downgrade() -> None:
    op.drop_table("idempotency_keys")
