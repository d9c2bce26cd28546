"""Matching: the catalogue index (entries, centres, index state), firms, demands,
introductions, engagements and their participants, equipment access requests.

Revision ID: matching_0002
Revises: matching_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "matching_0002"
down_revision = "matching_0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    op.create_table(
        "index_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("epoch", sa.String(36), nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "centres",
        sa.Column("centre_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "catalog_entries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("lab_id", sa.String(36), nullable=False),
        sa.Column("centre_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("lab_published", sa.Boolean, nullable=False),
        sa.Column("centre_active", sa.Boolean, nullable=False),
        sa.Column("visible", sa.Boolean, nullable=False),
        sa.Column("title", sa.JSON, nullable=False),
        sa.Column("description", sa.JSON, nullable=False),
        sa.Column("lab_name", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("trl_min", sa.Integer, nullable=True),
        sa.Column("trl_max", sa.Integer, nullable=True),
        sa.Column("province", sa.String(2), nullable=False),
        sa.Column("municipality", sa.String(100), nullable=False),
        sa.Column("shareable", sa.Boolean, nullable=True),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("terms", sa.JSON, nullable=False),
        sa.Column("forms", sa.JSON, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("embedding_model", sa.String(50), nullable=False),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.Column("catalog_version", sa.Integer, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_catalog_entries_change", "catalog_entries", ["change_seq"])
    op.create_index("ix_catalog_entries_lab", "catalog_entries", ["lab_id"])
    op.create_index("ix_catalog_entries_centre", "catalog_entries", ["centre_id"])

    op.create_table(
        "firms",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("vat_number", sa.String(11), nullable=False),
        sa.Column("ateco_code", sa.String(10), nullable=False),
        sa.Column("ateco_section", sa.String(1), nullable=False),
        sa.Column("ateco_division", sa.String(2), nullable=False),
        sa.Column("size_class", sa.String(10), nullable=False),
        sa.Column("employees", sa.Integer, nullable=True),
        sa.Column("turnover_eur", MONEY, nullable=True),
        sa.Column("balance_sheet_eur", MONEY, nullable=True),
        sa.Column("province", sa.String(2), nullable=False),
        sa.Column("municipality", sa.String(100), nullable=False),
        sa.Column("registered_by_role", sa.String(20), nullable=False),
        sa.Column("registered_by_org_id", sa.String(36), nullable=True),
        sa.Column("registered_by_key_id", sa.String(100), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("vat_number", name="uq_firms_vat_number"),
    )
    op.create_index("ix_firms_created", "firms", ["created_at", "id"])
    op.create_index("ix_firms_registered_by", "firms", ["registered_by_org_id"])

    op.create_table(
        "demands",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("firm_id", sa.String(36), sa.ForeignKey("firms.id"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("needs", sa.JSON, nullable=False),
        sa.Column("sector", sa.String(10), nullable=True),
        sa.Column("trl_current", sa.Integer, nullable=True),
        sa.Column("trl_target", sa.Integer, nullable=True),
        sa.Column("budget_eur", MONEY, nullable=True),
        sa.Column("deadline", sa.Date, nullable=True),
        sa.Column("preferred_provinces", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("submitted_by_role", sa.String(20), nullable=False),
        sa.Column("submitted_by_org_id", sa.String(36), nullable=True),
        sa.Column("submitted_by_key_id", sa.String(100), nullable=True),
        sa.Column("partner_org_id", sa.String(36), nullable=True),
        sa.Column("assisting_centre_id", sa.String(36), nullable=True),
        sa.Column("matches_digest", sa.String(64), nullable=True),
        sa.Column("consortia_digest", sa.String(64), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_demands_created", "demands", ["created_at", "id"])
    op.create_index("ix_demands_firm", "demands", ["firm_id", "created_at"])
    op.create_index("ix_demands_partner", "demands", ["partner_org_id"])
    op.create_index("ix_demands_centre", "demands", ["assisting_centre_id"])

    op.create_table(
        "introductions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("demand_id", sa.String(36), sa.ForeignKey("demands.id"), nullable=False),
        sa.Column("lab_id", sa.String(36), nullable=False),
        sa.Column("centre_id", sa.String(36), nullable=False),
        sa.Column("entry_id", sa.String(36), nullable=True),
        sa.Column("consortium_id", sa.String(36), nullable=True),
        sa.Column("consortium_size", sa.Integer, nullable=True),
        sa.Column("consortium_centres", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("requested_by_role", sa.String(20), nullable=False),
        sa.Column("requested_by_org_id", sa.String(36), nullable=True),
        sa.Column("requested_by_key_id", sa.String(100), nullable=True),
        sa.Column("answered_at", TIMESTAMP, nullable=True),
        sa.Column("answered_by_role", sa.String(20), nullable=True),
        sa.Column("answered_by_org_id", sa.String(36), nullable=True),
        sa.Column("answered_by_key_id", sa.String(100), nullable=True),
        sa.Column("engagement_id", sa.String(36), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_introductions_requested", "introductions", ["requested_at", "id"])
    op.create_index("ix_introductions_centre", "introductions", ["centre_id", "status"])
    op.create_index("ix_introductions_demand", "introductions", ["demand_id"])
    op.create_index("ix_introductions_consortium", "introductions", ["consortium_id"])
    op.create_index(
        "uq_introductions_pending",
        "introductions",
        ["demand_id", "lab_id"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )

    op.create_table(
        "engagements",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("demand_id", sa.String(36), sa.ForeignKey("demands.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("consortium_id", sa.String(36), nullable=True),
        sa.Column("consortium_size", sa.Integer, nullable=True),
        sa.Column("opened_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column("value_eur", MONEY, nullable=True),
        sa.Column("delivered", sa.Boolean, nullable=True),
        sa.Column("satisfaction", sa.Integer, nullable=True),
        sa.Column("innovation_introduced", sa.String(20), nullable=True),
        sa.Column("closed_by_role", sa.String(20), nullable=True),
        sa.Column("closed_by_org_id", sa.String(36), nullable=True),
        sa.Column("closed_by_key_id", sa.String(100), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_engagements_opened", "engagements", ["opened_at", "id"])
    op.create_index("ix_engagements_demand", "engagements", ["demand_id"])
    op.create_index("ix_engagements_consortium", "engagements", ["consortium_id"])

    op.create_table(
        "engagement_participants",
        sa.Column(
            "engagement_id", sa.String(36), sa.ForeignKey("engagements.id"), primary_key=True
        ),
        sa.Column("lab_id", sa.String(36), primary_key=True),
        sa.Column("centre_id", sa.String(36), nullable=False),
        sa.Column("introduction_id", sa.String(36), nullable=False),
        sa.Column("joined_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_engagement_participants_centre", "engagement_participants", ["centre_id"])

    op.create_table(
        "access_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("equipment_id", sa.String(36), nullable=False),
        sa.Column("lab_id", sa.String(36), nullable=False),
        sa.Column("centre_id", sa.String(36), nullable=False),
        sa.Column("firm_id", sa.String(36), sa.ForeignKey("firms.id"), nullable=True),
        sa.Column("start", TIMESTAMP, nullable=False),
        sa.Column("end", TIMESTAMP, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("requester_role", sa.String(20), nullable=False),
        sa.Column("requester_org_id", sa.String(36), nullable=True),
        sa.Column("requester_key_id", sa.String(100), nullable=True),
        sa.Column("answered_at", TIMESTAMP, nullable=True),
        sa.Column("answered_by_role", sa.String(20), nullable=True),
        sa.Column("answered_by_org_id", sa.String(36), nullable=True),
        sa.Column("answered_by_key_id", sa.String(100), nullable=True),
        sa.Column("cancelled_at", TIMESTAMP, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_access_requests_requested", "access_requests", ["requested_at", "id"])
    op.create_index(
        "ix_access_requests_equipment", "access_requests", ["equipment_id", "status", "start"]
    )
    op.create_index("ix_access_requests_centre", "access_requests", ["centre_id", "status"])


def downgrade() -> None:
    for table in (
        "access_requests",
        "engagement_participants",
        "engagements",
        "introductions",
        "demands",
        "firms",
        "catalog_entries",
        "centres",
        "index_state",
    ):
        op.drop_table(table)
