"""Teams of SMEs and labs that could answer a challenge together.

Pure: no database, no I/O. Each need has its candidates, labs of the catalogue and SMEs with
capabilities, each with its score for the need. Teams are built by `consortia.propose` (a
candidate fits a need when it scores at least 0.25 and three quarters of the need's best; a
team assigns each need to the member that fits it best; no passengers), where a member is keyed
`lab:<id>` or `firm:<id>` and a firm is its own centre, so that a team mixing a firm with labs
counts as diverse as one across centres does. They are then ranked by

1. fewer uncovered needs (a team covers every need it can);
2. a team with at least one SME and one lab before one without, at equal coverage: bringing an
   SME into a large enterprise's supply chain, with the labs that back it, is what challenges
   are for; a lab that could do everything alone is still proposed, after;
3. fewer members;
4. a better mean score over the needs (with consortia's small bonus per centre involved);

then by the members' keys, so that the answer is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from services.matching import consortia

Kind = Literal["firm", "lab"]
POOL = 10_000
"""Teams consortia returns before they are ranked here: all of them in practice (consortia
enumerates at most `consortia.MAX_COMBINATIONS` assignments)."""


def key(kind: Kind, member_id: str) -> str:
    return f"{kind}:{member_id}"


def parse(member_key: str) -> tuple[Kind, str]:
    kind, _, member_id = member_key.partition(":")
    if kind not in ("firm", "lab") or not member_id:
        raise ValueError(f"not a team member key: {member_key!r}")
    return ("firm" if kind == "firm" else "lab"), member_id


@dataclass(frozen=True)
class Candidate:
    kind: Kind
    id: str
    centre_id: str | None
    """A lab's centre; None for a firm."""
    score: float

    @property
    def key(self) -> str:
        return key(self.kind, self.id)


@dataclass(frozen=True)
class Member:
    kind: Kind
    id: str
    centre_id: str | None
    need_indexes: tuple[int, ...]

    @property
    def key(self) -> str:
        return key(self.kind, self.id)


@dataclass(frozen=True)
class Team:
    team_id: str
    members: tuple[Member, ...]
    coverage: tuple[tuple[int, float], ...]
    """(need index, score of its member for it)."""
    uncovered_needs: tuple[int, ...]
    quality: float

    @property
    def smes(self) -> int:
        return sum(m.kind == "firm" for m in self.members)

    @property
    def labs(self) -> int:
        return sum(m.kind == "lab" for m in self.members)

    @property
    def centres(self) -> int:
        return len({m.centre_id for m in self.members if m.kind == "lab"})

    @property
    def mixed(self) -> bool:
        return self.smes > 0 and self.labs > 0

    def member(self, member_key: str) -> Member:
        return next(m for m in self.members if m.key == member_key)


def members_key(keys: Iterable[str]) -> frozenset[str]:
    """What makes two teams the same: their members, whatever the needs they cover."""
    return frozenset(keys)


def propose(
    challenge_id: str, candidates: Sequence[Sequence[Candidate]], *, limit: int = 5
) -> list[Team]:
    """The best `limit` teams for the needs (index = position in `candidates`)."""
    centre_of = {c.key: c.centre_id for need in candidates for c in need}
    proposals = consortia.propose(
        challenge_id,
        [
            [consortia.Candidate(c.key, c.centre_id or c.key, c.score) for c in need]
            for need in candidates
        ],
        limit=POOL,
    )
    teams = [_team(p, centre_of) for p in proposals if p.members]  # nobody fits: no team
    teams.sort(
        key=lambda t: (
            len(t.uncovered_needs),
            not t.mixed,
            len(t.members),
            -round(t.quality, 9),
            tuple(m.key for m in t.members),
        )
    )
    return teams[:limit]


def _team(proposal: consortia.Proposal, centre_of: dict[str, str | None]) -> Team:
    needs: dict[str, list[int]] = {}
    for m in proposal.members:
        needs.setdefault(m.lab_id, []).append(m.need_index)
    members = []
    for member_key in sorted(needs):
        kind, member_id = parse(member_key)
        members.append(
            Member(kind, member_id, centre_of[member_key], tuple(sorted(needs[member_key])))
        )
    return Team(
        team_id=proposal.consortium_id,
        members=tuple(members),
        coverage=proposal.coverage,
        uncovered_needs=proposal.uncovered_needs,
        quality=proposal.quality,
    )
