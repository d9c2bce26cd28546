"""Initiatives register: initiatives, their partner centres, overlaps between centres.

Revision ID: catalog_0005
Revises: catalog_0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "catalog_0005"
down_revision = "catalog_0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "initiatives",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("centre_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("title", sa.JSON, nullable=False),
        sa.Column("description", sa.JSON, nullable=False),
        sa.Column("partner_organisations", sa.JSON, nullable=False),
        sa.Column("funding_programme", sa.String(30), nullable=True),
        sa.Column("funding_call", sa.String(200), nullable=True),
        sa.Column("budget_eur", sa.String(20), nullable=True),
        sa.Column("public_funding_eur", sa.String(20), nullable=True),
        sa.Column("start_date", sa.Date, nullable=True),
        sa.Column("end_date", sa.Date, nullable=True),
        sa.Column("start_time", sa.String(5), nullable=True),
        sa.Column("end_time", sa.String(5), nullable=True),
        sa.Column("venue", sa.String(200), nullable=True),
        sa.Column("province", sa.String(2), nullable=True),
        sa.Column("municipality", sa.String(100), nullable=True),
        sa.Column("registration_open", sa.Boolean, nullable=True),
        sa.Column("registered_participants", sa.Integer, nullable=True),
        sa.Column("attending_participants", sa.Integer, nullable=True),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("links", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("signature", sa.JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_initiatives_created", "initiatives", ["created_at", "id"])
    op.create_index("ix_initiatives_centre", "initiatives", ["centre_id", "created_at"])
    op.create_index("ix_initiatives_start", "initiatives", ["kind", "start_date"])

    op.create_table(
        "initiative_partners",
        sa.Column(
            "initiative_id", sa.String(36), sa.ForeignKey("initiatives.id"), primary_key=True
        ),
        sa.Column("centre_id", sa.String(36), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("confirmed_at", TIMESTAMP, nullable=True),
        sa.Column("confirmed_by_key_id", sa.String(100), nullable=True),
    )
    op.create_index("ix_initiative_partners_centre", "initiative_partners", ["centre_id"])

    op.create_table(
        "initiative_overlaps",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("a_id", sa.String(36), nullable=False),
        sa.Column("a_centre_id", sa.String(36), nullable=False),
        sa.Column("a_kind", sa.String(30), nullable=False),
        sa.Column("b_id", sa.String(36), nullable=False),
        sa.Column("b_centre_id", sa.String(36), nullable=False),
        sa.Column("b_kind", sa.String(30), nullable=False),
        sa.Column("similarity", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_by_role", sa.String(20), nullable=True),
        sa.Column("resolved_by_org_id", sa.String(36), nullable=True),
        sa.Column("resolved_by_key_id", sa.String(100), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("a_id", "b_id", name="uq_initiative_overlaps_pair"),
    )
    op.create_index(
        "ix_initiative_overlaps_status", "initiative_overlaps", ["status", "created_at", "id"]
    )
    op.create_index("ix_initiative_overlaps_b", "initiative_overlaps", ["b_id"])


def downgrade() -> None:
    op.drop_table("initiative_overlaps")
    op.drop_table("initiative_partners")
    op.drop_table("initiatives")
