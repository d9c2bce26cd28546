"""Reporting: the KPIs of the supply-chain challenges (issue #13), filled from the challenge and
expression events already logged; and the demand KPIs that now leave out the demands backing
challenges (and their introductions), recomputed, as is the count of enterprises cooperating
with research, which now leaves out the engagements without a lab.

Revision ID: reporting_0007
Revises: reporting_0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reporting_0007"
down_revision = "reporting_0006"
branch_labels = None
depends_on = None

KPIS = (
    "challenges_published",
    "challenges_awarded",
    "challenges_closed_without_award",
    "expressions_submitted",
    "expressions_per_challenge",
    "smes_in_awarded_teams",
    "challenge_value_awarded_eur",
    "teams_invited",
)
CHANGED = (
    "demands_received",
    "smes_served",
    "match_rate",
    "hours_to_first_introduction",
    "introductions_requested",
    "introduction_acceptance_rate",
    "consortia_proposed",
    "enterprises_cooperating_with_research",
)
AGGREGATES = ("kpi_daily", "kpi_monthly", "kpi_items", "kpi_values", "kpi_counts", "kpi_keys")


def upgrade() -> None:
    # Only their events are read again. The state they write comes out as it was, except the
    # mark of the demands backing challenges: `demand:<id>` is written by the demand and
    # introduction events, all read here; `engagement:<id>` by every engagement event, of
    # which `engagement.opened` (read here) writes the same value as it did.
    from services.reporting.projection import backfill

    backfill(op.get_bind(), kpis=(*KPIS, *CHANGED))


def downgrade() -> None:
    for name in AGGREGATES:
        table = sa.table(name, sa.column("kpi", sa.String))
        op.execute(table.delete().where(table.c.kpi.in_(KPIS)))
