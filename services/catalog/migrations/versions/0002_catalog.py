"""Catalogue: members projection, labs and their entries, search index, duplicate pairs,
demo-data marker.

Revision ID: catalog_0002
Revises: catalog_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "catalog_0002"
down_revision = "catalog_0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def _entry_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    """Columns every entry of a lab has."""
    return [
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("lab_id", sa.String(36), sa.ForeignKey("labs.id"), nullable=False),
        sa.Column("centre_id", sa.String(36), nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("deleted_at", TIMESTAMP, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("organisation_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("acronym", sa.String(30), nullable=True),
        sa.Column("province", sa.String(2), nullable=True),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )

    op.create_table(
        "labs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("centre_id", sa.String(36), nullable=False),
        sa.Column("name", sa.JSON, nullable=False),
        sa.Column("description", sa.JSON, nullable=False),
        sa.Column("province", sa.String(2), nullable=False),
        sa.Column("municipality", sa.String(100), nullable=False),
        sa.Column("accreditations", sa.JSON, nullable=False),
        sa.Column("access_modes", sa.JSON, nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("published_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("deleted_at", TIMESTAMP, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_labs_created", "labs", ["created_at", "id"])
    op.create_index("ix_labs_centre", "labs", ["centre_id", "created_at"])

    op.create_table(
        "competences",
        *_entry_columns(),
        sa.Column("title", sa.JSON, nullable=False),
        sa.Column("description", sa.JSON, nullable=False),
        sa.Column("trl_min", sa.Integer, nullable=False),
        sa.Column("trl_max", sa.Integer, nullable=False),
        sa.Column("keywords", sa.JSON, nullable=False),
    )
    op.create_index("ix_competences_created", "competences", ["created_at", "id"])
    op.create_index("ix_competences_lab", "competences", ["lab_id", "created_at"])

    op.create_table(
        "equipment",
        *_entry_columns(),
        sa.Column("name", sa.JSON, nullable=False),
        sa.Column("description", sa.JSON, nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("manufacturer", sa.String(100), nullable=True),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("year", sa.Integer, nullable=True),
        sa.Column("shareable", sa.Boolean, nullable=False),
        sa.Column("tariff_eur_per_hour", sa.String(20), nullable=True),
        sa.Column("booking_conditions", sa.JSON, nullable=True),
    )
    op.create_index("ix_equipment_created", "equipment", ["created_at", "id"])
    op.create_index("ix_equipment_lab", "equipment", ["lab_id", "created_at"])

    op.create_table(
        "service_offerings",
        *_entry_columns(),
        sa.Column("name", sa.JSON, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("description", sa.JSON, nullable=False),
        sa.Column("price_model", sa.String(200), nullable=True),
    )
    op.create_index("ix_service_offerings_created", "service_offerings", ["created_at", "id"])
    op.create_index("ix_service_offerings_lab", "service_offerings", ["lab_id", "created_at"])

    op.create_table(
        "search_documents",
        sa.Column("entry_id", sa.String(36), primary_key=True),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("lab_id", sa.String(36), nullable=False),
        sa.Column("centre_id", sa.String(36), nullable=False),
        sa.Column("province", sa.String(2), nullable=False),
        sa.Column("kind", sa.String(30), nullable=True),
        sa.Column("shareable", sa.Boolean, nullable=True),
        sa.Column("trl_min", sa.Integer, nullable=True),
        sa.Column("trl_max", sa.Integer, nullable=True),
        sa.Column("title", sa.JSON, nullable=False),
        sa.Column("text", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("signature", sa.JSON, nullable=False),
        sa.Column("length", sa.Float, nullable=False),
    )
    op.create_index("ix_search_documents_entity", "search_documents", ["entity", "centre_id"])
    op.create_index("ix_search_documents_lab", "search_documents", ["lab_id"])

    op.create_table(
        "search_postings",
        sa.Column(
            "entry_id",
            sa.String(36),
            sa.ForeignKey("search_documents.entry_id"),
            primary_key=True,
        ),
        sa.Column("term", sa.String(100), primary_key=True),
        sa.Column("weight", sa.Float, nullable=False),
    )
    op.create_index("ix_search_postings_term", "search_postings", ["term", "entry_id"])

    op.create_table(
        "search_tags",
        sa.Column(
            "entry_id",
            sa.String(36),
            sa.ForeignKey("search_documents.entry_id"),
            primary_key=True,
        ),
        sa.Column("dimension", sa.String(10), primary_key=True),
        sa.Column("code", sa.String(30), primary_key=True),
    )
    op.create_index("ix_search_tags_code", "search_tags", ["dimension", "code", "entry_id"])

    op.create_table(
        "duplicate_pairs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("a_id", sa.String(36), nullable=False),
        sa.Column("a_centre_id", sa.String(36), nullable=False),
        sa.Column("a_lab_id", sa.String(36), nullable=False),
        sa.Column("b_id", sa.String(36), nullable=False),
        sa.Column("b_centre_id", sa.String(36), nullable=False),
        sa.Column("b_lab_id", sa.String(36), nullable=False),
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
        sa.UniqueConstraint("entity", "a_id", "b_id", name="uq_duplicate_pairs_entries"),
    )
    op.create_index("ix_duplicate_pairs_status", "duplicate_pairs", ["status", "created_at", "id"])
    op.create_index("ix_duplicate_pairs_b", "duplicate_pairs", ["b_id"])

    op.create_table(
        "demo_data",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("loaded_at", TIMESTAMP, nullable=False),
        sa.Column("labs", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "demo_data",
        "duplicate_pairs",
        "search_tags",
        "search_postings",
        "search_documents",
        "service_offerings",
        "equipment",
        "competences",
        "labs",
        "members",
    ):
        op.drop_table(table)
