"""Search finds initiatives: `search_documents.lab_id` nullable (an initiative belongs to no lab),
a `status` column (`published` for labs and entries, an initiative's own status), and the
documents of the initiatives registered before (those that are not drafts).

The backfill is frozen as written: its own table definitions, and the document of this revision
(`initiatives/documents.py` when it was written) with the funding programmes' names of the day.
Only the terms come from the service's analyzer (`search.weigh`) and the tags' ancestors from the
taxonomies: an index is only useful analysed as the running search analyses its queries.

Revision ID: catalog_0006
Revises: catalog_0005
Create Date: 2026-12-08
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from services.catalog import search, taxonomies

revision = "catalog_0006"
down_revision = "catalog_0005"
branch_labels = None
depends_on = None

TAG_DIMENSIONS = ("ateco", "s3", "ket", "erc", "ford")
FUNDING_NAMES = {
    "horizon_europe": {"it": "Horizon Europe", "en": "Horizon Europe"},
    "digital_europe": {"it": "Europa digitale", "en": "Digital Europe Programme"},
    "life": {"it": "Programma LIFE", "en": "LIFE Programme"},
    "interreg": {"it": "Interreg", "en": "Interreg"},
    "erasmus_plus": {"it": "Erasmus+", "en": "Erasmus+"},
    "pnrr": {
        "it": "Piano nazionale di ripresa e resilienza (PNRR)",
        "en": "National Recovery and Resilience Plan (PNRR)",
    },
    "erdf_tuscany": {
        "it": "Programma regionale FESR Toscana 2021-2027",
        "en": "Tuscany regional ERDF programme 2021-2027",
    },
    "esf_tuscany": {
        "it": "Programma regionale FSE+ Toscana 2021-2027",
        "en": "Tuscany regional ESF+ programme 2021-2027",
    },
    "national": {"it": "Programma nazionale", "en": "National programme"},
    "regional": {"it": "Altro programma regionale", "en": "Other regional programme"},
    "private": {"it": "Finanziamento privato", "en": "Private funding"},
    "self_funded": {"it": "Autofinanziato", "en": "Self-funded"},
    "other": {"it": "Altro", "en": "Other"},
}

initiatives = sa.table(
    "initiatives",
    sa.column("id", sa.String),
    sa.column("centre_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("title", sa.JSON),
    sa.column("description", sa.JSON),
    sa.column("partner_organisations", sa.JSON),
    sa.column("funding_programme", sa.String),
    sa.column("funding_call", sa.String),
    sa.column("venue", sa.String),
    sa.column("province", sa.String),
    sa.column("municipality", sa.String),
    sa.column("tags", sa.JSON),
    sa.column("status", sa.String),
)
members = sa.table(
    "members", sa.column("organisation_id", sa.String), sa.column("province", sa.String)
)
documents = sa.table(
    "search_documents",
    sa.column("entry_id", sa.String),
    sa.column("entity", sa.String),
    sa.column("lab_id", sa.String),
    sa.column("centre_id", sa.String),
    sa.column("province", sa.String),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("shareable", sa.Boolean),
    sa.column("trl_min", sa.Integer),
    sa.column("trl_max", sa.Integer),
    sa.column("title", sa.JSON),
    sa.column("text", sa.JSON),
    sa.column("tags", sa.JSON),
    sa.column("signature", sa.JSON),
    sa.column("length", sa.Float),
)
postings = sa.table(
    "search_postings",
    sa.column("entry_id", sa.String),
    sa.column("term", sa.String),
    sa.column("weight", sa.Float),
)
tags = sa.table(
    "search_tags",
    sa.column("entry_id", sa.String),
    sa.column("dimension", sa.String),
    sa.column("code", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("search_documents") as batch:
        batch.alter_column("lab_id", existing_type=sa.String(36), nullable=True)
        batch.add_column(sa.Column("status", sa.String(20), nullable=True))
    op.execute(documents.update().values(status="published"))
    _index_initiatives()
    with op.batch_alter_table("search_documents") as batch:
        batch.alter_column("status", existing_type=sa.String(20), nullable=False)


def _index_initiatives() -> None:
    rows = (
        op.get_bind()
        .execute(
            sa.select(initiatives, members.c.province.label("lead_province"))
            .select_from(
                initiatives.outerjoin(members, members.c.organisation_id == initiatives.c.centre_id)
            )
            .where(initiatives.c.status != "draft")
            .order_by(initiatives.c.id)
        )
        .all()
    )
    document_rows: list[dict[str, Any]] = []
    posting_rows: list[dict[str, Any]] = []
    tag_rows: list[dict[str, Any]] = []
    for row in rows:
        weights = search.weigh(
            [
                ("title", row.title),
                ("description", row.description),
                ("extra", [o["name"] for o in row.partner_organisations]),
                ("extra", FUNDING_NAMES.get(row.funding_programme or "")),
                ("extra", row.funding_call),
                ("extra", [p for p in (row.venue, row.municipality) if p]),
            ]
        )
        document_rows.append(
            {
                "entry_id": row.id,
                "entity": "initiative",
                "lab_id": None,
                "centre_id": row.centre_id,
                "province": row.province or row.lead_province or "",
                "kind": row.kind,
                "status": row.status,
                "shareable": None,
                "trl_min": None,
                "trl_max": None,
                "title": row.title,
                "text": row.description,
                "tags": {d: list(row.tags.get(d, ())) for d in TAG_DIMENSIONS},
                "signature": {},
                "length": sum(weights.values()),
            }
        )
        posting_rows.extend(
            {"entry_id": row.id, "term": term[:100], "weight": weight}
            for term, weight in weights.items()
        )
        tag_rows.extend(
            {"entry_id": row.id, "dimension": dimension, "code": code}
            for dimension in TAG_DIMENSIONS
            for code in sorted(taxonomies.closure(dimension, row.tags.get(dimension, ())))
        )
    for table, values in ((documents, document_rows), (postings, posting_rows), (tags, tag_rows)):
        if values:
            op.bulk_insert(table, values)


def downgrade() -> None:
    initiative_documents = sa.select(documents.c.entry_id).where(documents.c.entity == "initiative")
    op.execute(postings.delete().where(postings.c.entry_id.in_(initiative_documents)))
    op.execute(tags.delete().where(tags.c.entry_id.in_(initiative_documents)))
    op.execute(documents.delete().where(documents.c.entity == "initiative"))
    with op.batch_alter_table("search_documents") as batch:
        batch.drop_column("status")
        batch.alter_column("lab_id", existing_type=sa.String(36), nullable=False)
