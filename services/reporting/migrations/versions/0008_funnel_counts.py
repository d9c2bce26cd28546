"""Reporting: the counts of the matching funnel's two middle steps, demands matched and
introductions accepted (until now only their rates), filled from the events already logged.

Revision ID: reporting_0008
Revises: reporting_0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reporting_0008"
down_revision = "reporting_0007"
branch_labels = None
depends_on = None

KPIS = ("demands_matched", "introductions_accepted")
# Rebuilt alongside, to the same figures, for the events it reads: a rebuild writes back the
# state of every demand it read (`demand:<id>`), and the first introduction of a demand, which
# this KPI reads and the two above do not, is part of that state.
CARRIER = "hours_to_first_introduction"
AGGREGATES = ("kpi_daily", "kpi_monthly", "kpi_items", "kpi_values", "kpi_counts", "kpi_keys")


def upgrade() -> None:
    from services.reporting.projection import backfill

    backfill(op.get_bind(), kpis=(*KPIS, CARRIER))


def downgrade() -> None:
    for name in AGGREGATES:
        table = sa.table(name, sa.column("kpi", sa.String))
        op.execute(table.delete().where(table.c.kpi.in_(KPIS)))
