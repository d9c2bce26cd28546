"""Supply-chain challenges: firms' capabilities (analysed for ranking), challenges, their
guests, expressions of interest and invitations; the demand backing a challenge, engagements
opened by an award (with a supplier firm, and labs that were never introduced).

Revision ID: matching_0005
Revises: matching_0004
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "matching_0005"
down_revision = "matching_0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    with op.batch_alter_table("firms") as batch:
        batch.add_column(sa.Column("capabilities", sa.Text, nullable=True))
        batch.add_column(sa.Column("capability_tags", sa.JSON, nullable=True))
        batch.add_column(sa.Column("capability_languages", sa.JSON, nullable=True))
        batch.add_column(sa.Column("capability_terms", sa.JSON, nullable=True))
        batch.add_column(sa.Column("capability_forms", sa.JSON, nullable=True))
        batch.add_column(sa.Column("capability_embedding", sa.LargeBinary, nullable=True))
        batch.add_column(sa.Column("capability_model", sa.String(50), nullable=True))
    with op.batch_alter_table("demands") as batch:
        batch.add_column(sa.Column("challenge_id", sa.String(36), nullable=True))
    op.create_index("ix_demands_challenge", "demands", ["challenge_id"])
    with op.batch_alter_table("engagements") as batch:
        batch.add_column(sa.Column("challenge_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("supplier_firm_id", sa.String(36), nullable=True))
    op.create_index("ix_engagements_supplier", "engagements", ["supplier_firm_id"])
    with op.batch_alter_table("engagement_participants") as batch:
        batch.alter_column("introduction_id", existing_type=sa.String(36), nullable=True)

    op.create_table(
        "challenges",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("publisher_firm_id", sa.String(36), sa.ForeignKey("firms.id"), nullable=False),
        sa.Column("demand_id", sa.String(36), sa.ForeignKey("demands.id"), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("needs", sa.JSON, nullable=False),
        sa.Column("sector", sa.String(10), nullable=False),
        sa.Column("trl_expected", sa.Integer, nullable=True),
        sa.Column("budget_eur", MONEY, nullable=True),
        sa.Column("prize_eur", MONEY, nullable=True),
        sa.Column("deadline", TIMESTAMP, nullable=False),
        sa.Column("visibility", sa.String(10), nullable=False),
        sa.Column("criteria", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by_role", sa.String(20), nullable=False),
        sa.Column("created_by_org_id", sa.String(36), nullable=True),
        sa.Column("created_by_key_id", sa.String(100), nullable=True),
        sa.Column("published_at", TIMESTAMP, nullable=True),
        sa.Column("published_by_role", sa.String(20), nullable=True),
        sa.Column("published_by_org_id", sa.String(36), nullable=True),
        sa.Column("published_by_key_id", sa.String(100), nullable=True),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column("close_reason", sa.Text, nullable=True),
        sa.Column("awarded_expression_id", sa.String(36), nullable=True),
        sa.Column("award_value_eur", MONEY, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_challenges_created", "challenges", ["created_at", "id"])
    op.create_index("ix_challenges_publisher", "challenges", ["publisher_firm_id"])
    op.create_index("ix_challenges_status", "challenges", ["status", "deadline"])

    op.create_table(
        "challenge_guests",
        sa.Column("challenge_id", sa.String(36), sa.ForeignKey("challenges.id"), primary_key=True),
        sa.Column("role", sa.String(20), primary_key=True),
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("team_id", sa.String(36), nullable=True),
        sa.Column("added_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_challenge_guests_org", "challenge_guests", ["role", "org_id"])

    op.create_table(
        "challenge_expressions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("challenge_id", sa.String(36), sa.ForeignKey("challenges.id"), nullable=False),
        sa.Column("respondent_kind", sa.String(10), nullable=False),
        sa.Column("respondent_org_id", sa.String(36), nullable=False),
        sa.Column("members", sa.JSON, nullable=False),
        sa.Column("responses", sa.JSON, nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("shortlisted", sa.Boolean, nullable=False),
        sa.Column("shortlisted_at", TIMESTAMP, nullable=True),
        sa.Column("submitted_at", TIMESTAMP, nullable=False),
        sa.Column("submitted_by_role", sa.String(20), nullable=False),
        sa.Column("submitted_by_org_id", sa.String(36), nullable=True),
        sa.Column("submitted_by_key_id", sa.String(100), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint(
            "challenge_id",
            "respondent_kind",
            "respondent_org_id",
            name="uq_challenge_expressions_respondent",
        ),
    )
    op.create_index(
        "ix_challenge_expressions_submitted",
        "challenge_expressions",
        ["challenge_id", "submitted_at", "id"],
    )

    op.create_table(
        "challenge_invitations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("challenge_id", sa.String(36), sa.ForeignKey("challenges.id"), nullable=False),
        sa.Column("team_id", sa.String(36), nullable=False),
        sa.Column("members", sa.JSON, nullable=False),
        sa.Column("introduction_ids", sa.JSON, nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("invited_at", TIMESTAMP, nullable=False),
        sa.Column("invited_by_role", sa.String(20), nullable=False),
        sa.Column("invited_by_org_id", sa.String(36), nullable=True),
        sa.Column("invited_by_key_id", sa.String(100), nullable=True),
        sa.UniqueConstraint("challenge_id", "team_id", name="uq_challenge_invitations_team"),
    )


def downgrade() -> None:
    op.drop_table("challenge_invitations")
    op.drop_index("ix_challenge_expressions_submitted", table_name="challenge_expressions")
    op.drop_table("challenge_expressions")
    op.drop_index("ix_challenge_guests_org", table_name="challenge_guests")
    op.drop_table("challenge_guests")
    op.drop_index("ix_challenges_status", table_name="challenges")
    op.drop_index("ix_challenges_publisher", table_name="challenges")
    op.drop_index("ix_challenges_created", table_name="challenges")
    op.drop_table("challenges")
    with op.batch_alter_table("engagement_participants") as batch:
        batch.alter_column("introduction_id", existing_type=sa.String(36), nullable=False)
    op.drop_index("ix_engagements_supplier", table_name="engagements")
    with op.batch_alter_table("engagements") as batch:
        batch.drop_column("supplier_firm_id")
        batch.drop_column("challenge_id")
    op.drop_index("ix_demands_challenge", table_name="demands")
    with op.batch_alter_table("demands") as batch:
        batch.drop_column("challenge_id")
    with op.batch_alter_table("firms") as batch:
        for column in (
            "capability_model",
            "capability_embedding",
            "capability_forms",
            "capability_terms",
            "capability_languages",
            "capability_tags",
            "capabilities",
        ):
            batch.drop_column(column)
