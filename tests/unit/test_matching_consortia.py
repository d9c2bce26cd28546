"""Teams of labs covering the needs of a demand."""

from __future__ import annotations

from services.matching.consortia import Candidate, consortium_id, propose


def test_fewer_partners_first_when_one_lab_fits_every_need() -> None:
    proposals = propose(
        "d",
        [
            [Candidate("a", "X", 0.8), Candidate("b", "Y", 0.7)],
            [Candidate("a", "X", 0.7), Candidate("c", "Y", 0.72)],
        ],
    )
    assert [m.lab_id for m in proposals[0].members] == ["a", "a"]
    assert proposals[0].partners == 1 and proposals[0].uncovered_needs == ()


def test_a_team_across_centres_covers_needs_no_single_lab_fits() -> None:
    proposals = propose(
        "d",
        [
            [Candidate("oil", "TLS", 0.6), Candidate("gas", "COSVIG", 0.2)],
            [Candidate("gas", "COSVIG", 0.55), Candidate("oil", "TLS", 0.25)],
        ],
    )
    best = proposals[0]
    assert {(m.need_index, m.lab_id) for m in best.members} == {(0, "oil"), (1, "gas")}
    assert best.centres == 2 and best.coverage == ((0, 0.6), (1, 0.55))


def test_at_equal_size_more_centres_win_a_near_tie() -> None:
    proposals = propose(
        "d",
        [
            [Candidate("a", "X", 0.60), Candidate("b", "Y", 0.60)],
            [Candidate("c", "X", 0.61)],
        ],
    )
    assert {m.centre_id for m in proposals[0].members} == {"X", "Y"}


def test_needs_nobody_fits_are_reported() -> None:
    proposals = propose("d", [[Candidate("a", "X", 0.6)], [Candidate("b", "Y", 0.1)], []])
    assert proposals[0].uncovered_needs == (1, 2)
    assert [m.lab_id for m in proposals[0].members] == ["a"]


def test_ids_are_stable_and_answers_deterministic() -> None:
    needs = [[Candidate(f"l{i}", f"c{i % 3}", 0.5 + i / 100) for i in range(10)] for _ in range(4)]
    assert propose("d", needs) == propose("d", needs)
    first = propose("d", needs)[0]
    assert first.consortium_id == consortium_id("d", list(reversed(first.members)))
    assert consortium_id("d", first.members) != consortium_id("e", first.members)
