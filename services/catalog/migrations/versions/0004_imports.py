"""Imports: the centres' own identifiers on labs and entries, import jobs, saved mappings.

Revision ID: catalog_0004
Revises: catalog_0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "catalog_0004"
down_revision = "catalog_0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
TABLES = ("labs", "competences", "equipment", "service_offerings")
LIVE = "external_id IS NOT NULL AND deleted_at IS NULL"


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("external_id", sa.String(100), nullable=True))
        op.create_index(
            f"ux_{table}_external_id",
            table,
            ["centre_id", "external_id"],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("centre_id", sa.String(36), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("content", sa.LargeBinary, nullable=True),
        sa.Column("mapping", sa.JSON, nullable=False),
        sa.Column("publish", sa.Boolean, nullable=False),
        sa.Column("rows_total", sa.Integer, nullable=False),
        sa.Column("next_row", sa.Integer, nullable=False),
        sa.Column("rows_ok", sa.Integer, nullable=False),
        sa.Column("rows_failed", sa.Integer, nullable=False),
        sa.Column("created", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("unchanged", sa.Integer, nullable=False),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("requested_by_role", sa.String(20), nullable=False),
        sa.Column("requested_by_org_id", sa.String(36), nullable=True),
        sa.Column("requested_by_key_id", sa.String(100), nullable=True),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
    )
    op.create_index("ix_import_jobs_status", "import_jobs", ["status", "created_at"])
    op.create_index("ix_import_jobs_centre", "import_jobs", ["centre_id", "created_at", "id"])
    op.create_table(
        "import_mappings",
        sa.Column("centre_id", sa.String(36), primary_key=True),
        sa.Column("entity", sa.String(20), primary_key=True),
        sa.Column("mapping", sa.JSON, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("import_mappings")
    op.drop_index("ix_import_jobs_centre", table_name="import_jobs")
    op.drop_index("ix_import_jobs_status", table_name="import_jobs")
    op.drop_table("import_jobs")
    for table in TABLES:
        op.drop_index(f"ux_{table}_external_id", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("external_id")
