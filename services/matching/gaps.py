"""Gaps: the needs of active demands that no member lab covers.

What the Region's dashboard shows beside the duplicates. For each active demand of a firm (not
the demand that backs a challenge), each need is ranked against the catalogue index as
`service.demand_consortia` ranks it for teams; the need is a gap when its best lab scores less
than `consortia.MIN_SCORE`, the score a team's lab needs to cover it. Only the Region reads
them (demands are confidential to the firm, its centre and the Region). A read: no writes, no
events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import Forbidden
from kernel.principal import Principal, Role
from services.matching import ranking
from services.matching.consortia import MIN_SCORE
from services.matching.matcher import RequestRanker
from services.matching.models import Demand, Firm
from services.matching.paging import page
from services.matching.service import ACTIVE_DEMAND, demand_query


@dataclass(frozen=True)
class Gap:
    """A need of `demand` (position `need_index`) that no lab covers, and the best lab for it
    (None when the index has none)."""

    demand: Demand
    firm: Firm
    need_index: int
    text: str
    tags: dict[str, list[str]]
    best_score: float
    best_lab_id: str | None
    best_centre_id: str | None


async def demand_gaps(demand: Demand, firm: Firm, *, ranker: RequestRanker) -> list[Gap]:
    """The needs of the demand whose best lab scores below `MIN_SCORE`."""
    needs: list[dict[str, Any]] = list(demand.needs)
    if not needs:
        return []
    texts = [n["text"] for n in needs]
    vectors = await ranker.embed(texts)
    index = ranker.index
    found = []
    for position, (need, text, vector) in enumerate(zip(needs, texts, vectors, strict=True)):
        tags = need.get("tags", {})
        query = demand_query(demand, firm, text, vector, tags)
        # The labs come best first: the first is the best (as for consortia's candidates).
        best = next(iter(ranking.rank(index, query, limit=1)), None)
        score = best.score if best is not None else 0.0
        if score >= MIN_SCORE:
            continue
        found.append(
            Gap(
                demand=demand,
                firm=firm,
                need_index=position,
                text=text,
                tags=dict(tags),
                best_score=score,
                best_lab_id=best.entry.lab_id if best is not None else None,
                best_centre_id=best.entry.centre_id if best is not None else None,
            )
        )
    return found


async def list_gaps(
    session: AsyncSession,
    *,
    principal: Principal,
    ranker: RequestRanker,
    limit: int,
    cursor: str | None,
) -> tuple[list[Gap], int, str | None]:
    """The gaps of a page of `limit` active firms' demands, newest first: (gaps, demands
    examined, next cursor). A page may list no gap and still have a next one."""
    if principal.role is not Role.REGION:
        raise Forbidden(
            "only the Region may read the gaps: demands are confidential to the firm, "
            "its centre and the Region"
        )
    statement = (
        select(Demand, Firm)
        .join(Firm, Firm.id == Demand.firm_id)
        .where(
            Demand.challenge_id.is_(None),
            Demand.status.in_([s.value for s in ACTIVE_DEMAND]),
        )
    )
    rows, next_cursor = await page(
        session,
        statement,
        created=Demand.created_at,
        key=Demand.id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].created_at, row[0].id),
        newest_first=True,
    )
    found: list[Gap] = []
    for demand, firm in rows:
        found.extend(await demand_gaps(demand, firm, ranker=ranker))
    return found, len(rows), next_cursor
