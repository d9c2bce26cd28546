"""Membership: organisations, memberships and their transitions, representatives,
applications, the protocol and its renewals.

Revision ID: membership_0002
Revises: membership_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "membership_0002"
down_revision = "membership_0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
SEQUENCE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("acronym", sa.String(30), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("legal_form", sa.String(100), nullable=True),
        sa.Column("vat_number", sa.String(11), nullable=True),
        sa.Column("province", sa.String(2), nullable=False),
        sa.Column("municipality", sa.String(100), nullable=False),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("website", sa.String(300), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("vat_number", name="uq_organisations_vat_number"),
    )
    op.create_index("ix_organisations_created", "organisations", ["created_at", "id"])

    op.create_table(
        "memberships",
        sa.Column(
            "organisation_id",
            sa.String(36),
            sa.ForeignKey("organisations.id"),
            primary_key=True,
        ),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("term_end", sa.Date, nullable=False),
        sa.Column("since", TIMESTAMP, nullable=False),
        sa.Column("application_id", sa.String(36), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_memberships_created", "memberships", ["created_at", "organisation_id"])
    op.create_index("ix_memberships_status_term", "memberships", ["status", "term_end"])

    op.create_table(
        "membership_transitions",
        sa.Column("seq", SEQUENCE_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "organisation_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("actor_org_id", sa.String(36), nullable=True),
        sa.Column("actor_key_id", sa.String(100), nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
    )
    op.create_index(
        "ix_membership_transitions_org", "membership_transitions", ["organisation_id", "seq"]
    )

    op.create_table(
        "representatives",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "organisation_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("position", sa.String(200), nullable=False),
        sa.Column("since", TIMESTAMP, nullable=False),
        sa.Column("until", TIMESTAMP, nullable=True),
        sa.Column("appointed_by_role", sa.String(20), nullable=False),
        sa.Column("appointed_by_org_id", sa.String(36), nullable=True),
        sa.Column("appointed_by_key_id", sa.String(100), nullable=True),
    )
    op.create_index("ix_representatives_org", "representatives", ["organisation_id", "since", "id"])
    op.create_index(
        "uq_representatives_current",
        "representatives",
        ["organisation_id"],
        unique=True,
        sqlite_where=sa.text("until IS NULL"),
        postgresql_where=sa.text("until IS NULL"),
    )

    op.create_table(
        "applications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("organisation", sa.JSON, nullable=False),
        sa.Column("vat_number", sa.String(11), nullable=True),
        sa.Column("operating_units", sa.JSON, nullable=False),
        sa.Column("operates_in_tuscany", sa.Boolean, nullable=False),
        sa.Column("operates_in_technology_transfer", sa.Boolean, nullable=False),
        sa.Column("offer", sa.Text, nullable=False),
        sa.Column("representative_full_name", sa.String(200), nullable=False),
        sa.Column("representative_email", sa.String(254), nullable=False),
        sa.Column("representative_position", sa.String(200), nullable=False),
        sa.Column("eligibility", sa.JSON, nullable=False),
        sa.Column(
            "organisation_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=True
        ),
        sa.Column("decision", sa.String(10), nullable=True),
        sa.Column("motivation", sa.Text, nullable=True),
        sa.Column("votes_for", sa.Integer, nullable=True),
        sa.Column("votes_against", sa.Integer, nullable=True),
        sa.Column("votes_abstained", sa.Integer, nullable=True),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
        sa.Column("decided_by_role", sa.String(20), nullable=True),
        sa.Column("decided_by_org_id", sa.String(36), nullable=True),
        sa.Column("decided_by_key_id", sa.String(100), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_applications_created", "applications", ["created_at", "id"])
    op.create_index("ix_applications_status", "applications", ["status", "created_at"])
    op.create_index(
        "uq_applications_pending_vat",
        "applications",
        ["vat_number"],
        unique=True,
        sqlite_where=sa.text("status = 'under_review'"),
        postgresql_where=sa.text("status = 'under_review'"),
    )

    op.create_table(
        "protocol",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("signed_on", sa.Date, nullable=False),
        sa.Column("term_end", sa.Date, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "protocol_renewals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("protocol_id", sa.String(36), sa.ForeignKey("protocol.id"), nullable=False),
        sa.Column("renewed_on", sa.Date, nullable=False),
        sa.Column("previous_term_end", sa.Date, nullable=False),
        sa.Column("term_end", sa.Date, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("actor_org_id", sa.String(36), nullable=True),
        sa.Column("actor_key_id", sa.String(100), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index(
        "ix_protocol_renewals_protocol", "protocol_renewals", ["protocol_id", "created_at"]
    )


def downgrade() -> None:
    for table in (
        "protocol_renewals",
        "protocol",
        "applications",
        "representatives",
        "membership_transitions",
        "memberships",
        "organisations",
    ):
        op.drop_table(table)
