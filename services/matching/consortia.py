"""Teams of labs for a demand with several needs.

Each need has its candidate labs (the best of the ranking for that need's text, each with its
score). A lab fits a need when it scores at least `min_score` and at least `relative` times the
best candidate of that need. A team assigns each need to one of its labs that fits it; a need no
lab of the team fits is uncovered. Teams are ranked by

1. fewer uncovered needs,
2. fewer partners (labs),
3. a better mean score over the needs, plus a small bonus per extra centre involved
   (`centre_bonus`), so that at nearly equal quality a team across centres comes first —
   cross-centre collaboration is what the network exists for;

then by the members' ids, so that the answer is deterministic. A lab in a team must be the one
assigned to at least one need (no passengers).
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_COMBINATIONS = 20_000
MIN_SCORE = 0.25
"""The score a lab needs for a need to count as covered: the default of `propose`, and what
`gaps` lists below it (named once, so that the two cannot drift)."""
NAMESPACE = uuid.UUID("6f1c6d0e-3d3f-4d53-9c36-2a4b3a6f5e11")


@dataclass(frozen=True)
class Candidate:
    lab_id: str
    centre_id: str
    score: float


@dataclass(frozen=True)
class Member:
    need_index: int
    lab_id: str
    centre_id: str


@dataclass(frozen=True)
class Proposal:
    consortium_id: str
    members: tuple[Member, ...]
    coverage: tuple[tuple[int, float], ...]
    """(need index, score of its lab for it)."""
    uncovered_needs: tuple[int, ...]
    centres: int
    partners: int
    quality: float


def consortium_id(demand_id: str, members: Sequence[Member]) -> str:
    """Stable id of a team for a demand: the same members give the same id."""
    key = demand_id + "|" + ";".join(f"{m.need_index}:{m.lab_id}" for m in sorted(members, key=_k))
    return str(uuid.uuid5(NAMESPACE, hashlib.sha256(key.encode()).hexdigest()))


def _k(member: Member) -> tuple[int, str]:
    return (member.need_index, member.lab_id)


def _per_need_limit(needs: int, longest: int) -> int:
    """How many candidates per need keep the combinations under MAX_COMBINATIONS."""
    if needs <= 0:
        return 0
    return max(1, min(longest, int(MAX_COMBINATIONS ** (1 / needs))))


def propose(
    demand_id: str,
    candidates: Sequence[Sequence[Candidate]],
    *,
    min_score: float = MIN_SCORE,
    relative: float = 0.75,
    centre_bonus: float = 0.02,
    limit: int = 5,
) -> list[Proposal]:
    """The best `limit` teams covering the needs (index = position in `candidates`)."""
    needs = len(candidates)
    if needs == 0:
        return []
    # A lab fits a need when it scores at least `min_score` and at least `relative` times the
    # best lab for that need.
    floors = [
        max(min_score, relative * max((c.score for c in need), default=0.0)) for need in candidates
    ]
    fitting = [
        sorted((c for c in need if c.score >= floor), key=lambda c: (-c.score, c.lab_id))
        for need, floor in zip(candidates, floors, strict=True)
    ]
    width = _per_need_limit(needs, max((len(c) for c in fitting), default=0))
    options: list[list[Candidate | None]] = [list(need[:width]) or [None] for need in fitting]
    # Every lab that fits a need, with its score for it (a team may use a lab chosen for one
    # need to cover another need it also fits).
    scores: dict[tuple[int, str], float] = {}
    centre_of: dict[str, str] = {}
    for index, need in enumerate(fitting):
        for c in need:
            scores[(index, c.lab_id)] = max(scores.get((index, c.lab_id), 0.0), c.score)
            centre_of[c.lab_id] = c.centre_id
    seen: dict[frozenset[str], Proposal] = {}
    for choice in itertools.product(*options):
        labs = frozenset(c.lab_id for c in choice if c is not None)
        if labs in seen:
            continue
        proposal = _team(demand_id, labs, needs, scores, centre_of, centre_bonus)
        if proposal is not None:
            seen[labs] = proposal
    ranked = sorted(
        seen.values(),
        key=lambda p: (
            len(p.uncovered_needs),
            p.partners,
            -round(p.quality, 9),
            tuple(m.lab_id for m in p.members),
        ),
    )
    return ranked[:limit]


def _team(
    demand_id: str,
    labs: frozenset[str],
    needs: int,
    scores: Mapping[tuple[int, str], float],
    centre_of: Mapping[str, str],
    centre_bonus: float,
) -> Proposal | None:
    members: list[Member] = []
    coverage: list[tuple[int, float]] = []
    uncovered: list[int] = []
    for index in range(needs):
        best = max(
            ((scores.get((index, lab), 0.0), lab) for lab in sorted(labs)),
            key=lambda pair: (pair[0], _neg(pair[1])),
            default=(0.0, ""),
        )
        if not best[1] or best[0] <= 0:
            uncovered.append(index)
            coverage.append((index, round(best[0], 4)))
            continue
        members.append(Member(index, best[1], centre_of[best[1]]))
        coverage.append((index, round(best[0], 4)))
    used = {m.lab_id for m in members}
    if used != set(labs):  # a lab that covers nothing is a passenger
        return None
    centres = len({m.centre_id for m in members})
    covered = [score for index, score in coverage if index not in uncovered]
    quality = (sum(covered) / needs if needs else 0.0) + centre_bonus * max(0, centres - 1)
    return Proposal(
        consortium_id=consortium_id(demand_id, members),
        members=tuple(members),
        coverage=tuple(coverage),
        uncovered_needs=tuple(uncovered),
        centres=centres,
        partners=len(used),
        quality=quality,
    )


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)
