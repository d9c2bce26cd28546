"""Reporting: the KPIs of the initiatives register (issue #12), filled from the initiative
events already logged (every event is logged, these were kept without facts until now).

Revision ID: reporting_0006
Revises: reporting_0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reporting_0006"
down_revision = "reporting_0005"
branch_labels = None
depends_on = None

KPIS = (
    "initiatives_registered",
    "initiatives_active",
    "joint_actions_registered",
    "partnerships_confirmed",
    "centres_in_joint_actions",
    "initiative_public_funding_eur",
    "initiative_budget_eur",
    "training_hours",
    "training_participants",
    "dissemination_events_held",
    "dissemination_attendance",
    "initiative_overlaps_found",
    "initiative_overlaps_resolved",
    "initiative_overlaps_to_coordinate",
)
AGGREGATES = ("kpi_daily", "kpi_monthly", "kpi_items", "kpi_values", "kpi_counts", "kpi_keys")


def upgrade() -> None:
    # Their events keep a state of their own (`initiative:<id>`): only they are read again.
    from services.reporting.projection import backfill

    backfill(op.get_bind(), kpis=KPIS)


def downgrade() -> None:
    for name in AGGREGATES:
        table = sa.table(name, sa.column("kpi", sa.String))
        op.execute(table.delete().where(table.c.kpi.in_(KPIS)))
    state = sa.table("fold_state", sa.column("key", sa.String))
    op.execute(state.delete().where(state.c.key.like("initiative:%")))
