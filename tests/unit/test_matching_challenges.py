"""Teams of SMEs and labs for a challenge (pure)."""

from __future__ import annotations

import pytest

from services.matching.challenges.teams import Candidate, members_key, parse, propose


def lab(lab_id: str, centre: str, score: float) -> Candidate:
    return Candidate("lab", lab_id, centre, score)


def firm(firm_id: str, score: float) -> Candidate:
    return Candidate("firm", firm_id, None, score)


def test_an_sme_and_a_lab_cover_the_needs_each_fits() -> None:
    teams = propose(
        "c",
        [
            [firm("sensors", 0.68), lab("oil", "TLS", 0.2)],
            [lab("biogas", "COSVIG", 0.4), firm("sensors", 0.1)],
        ],
    )
    best = teams[0]
    assert [(m.kind, m.id, m.centre_id, m.need_indexes) for m in best.members] == [
        ("firm", "sensors", None, (0,)),
        ("lab", "biogas", "COSVIG", (1,)),
    ]
    assert best.uncovered_needs == () and best.coverage == ((0, 0.68), (1, 0.4))
    assert (best.smes, best.labs, best.centres, best.mixed) == (1, 1, 1, True)


def test_a_team_with_an_sme_and_a_lab_comes_before_a_lab_alone_at_equal_coverage() -> None:
    teams = propose(
        "c",
        [
            [lab("all", "X", 0.8), firm("sme", 0.75)],
            [lab("all", "X", 0.8), lab("other", "Y", 0.7)],
        ],
        limit=10,
    )
    # With `all`, the SME would cover nothing (a passenger): it comes with `other`.
    assert [m.key for m in teams[0].members] == ["firm:sme", "lab:other"]
    assert [m.key for m in teams[1].members] == ["lab:all"]
    # Coverage still comes first: a mixed team that leaves a need uncovered ranks after.
    teams = propose("c", [[lab("a", "X", 0.8)], [firm("s", 0.6)], [lab("a", "X", 0.7)]])
    assert teams[0].uncovered_needs == () and teams[0].mixed


def test_without_smes_teams_are_labs_across_centres() -> None:
    teams = propose(
        "c",
        [[lab("oil", "TLS", 0.6), lab("gas", "COSVIG", 0.2)], [lab("gas", "COSVIG", 0.55)]],
    )
    assert [m.key for m in teams[0].members] == ["lab:gas", "lab:oil"]
    assert teams[0].centres == 2 and teams[0].smes == 0 and not teams[0].mixed


def test_a_need_nobody_fits_is_uncovered() -> None:
    (team,) = propose("c", [[firm("s", 0.6)], [firm("weak", 0.1)]])
    assert team.uncovered_needs == (1,) and [m.key for m in team.members] == ["firm:s"]
    assert propose("c", []) == []
    assert propose("c", [[], [firm("weak", 0.1)]]) == []


def test_the_team_id_is_stable_and_depends_on_the_challenge() -> None:
    needs = [[firm("s", 0.6)], [lab("l", "X", 0.5)]]
    assert propose("c", needs)[0].team_id == propose("c", needs)[0].team_id
    assert propose("c", needs)[0].team_id != propose("d", needs)[0].team_id


def test_member_keys() -> None:
    assert parse("firm:abc") == ("firm", "abc") and parse("lab:x:y") == ("lab", "x:y")
    for wrong in ("centre:abc", "firm:", "abc"):
        with pytest.raises(ValueError):
            parse(wrong)
    assert members_key(["lab:a", "firm:b"]) == members_key(["firm:b", "lab:a"])
