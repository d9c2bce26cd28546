"""The catalogue's initiatives (projects, joint actions, training and dissemination events) as
matching proposes them to demands.

Revision ID: matching_0004
Revises: matching_0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "matching_0004"
down_revision = "matching_0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "catalog_initiatives",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("centre_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("title", sa.JSON, nullable=False),
        sa.Column("description", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("partner_centres", sa.JSON, nullable=False),
        sa.Column("funding_programme", sa.String(30), nullable=True),
        sa.Column("start_date", sa.Date, nullable=True),
        sa.Column("end_date", sa.Date, nullable=True),
        sa.Column("registration_open", sa.Boolean, nullable=True),
        sa.Column("province", sa.String(2), nullable=True),
        sa.Column("municipality", sa.String(100), nullable=True),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("terms", sa.JSON, nullable=False),
        sa.Column("forms", sa.JSON, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("embedding_model", sa.String(50), nullable=False),
        sa.Column("catalog_version", sa.Integer, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_catalog_initiatives_centre", "catalog_initiatives", ["centre_id"])


def downgrade() -> None:
    op.drop_index("ix_catalog_initiatives_centre", table_name="catalog_initiatives")
    op.drop_table("catalog_initiatives")
