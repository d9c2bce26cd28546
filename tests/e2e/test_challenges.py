"""Supply-chain challenges through the gateway of a running platform, on SQLite and on
PostgreSQL: a large paper mill publishes a challenge with two needs; two small firms answer,
one with a lab of a member centre; the platform proposes a team of an SME and a lab covering
both needs and the publisher invites it; after the deadline the publisher reads the anonymous
expressions, shortlists one and awards it; an engagement opens for each member; the next
report counts it all.

The deadline is real time here (the platform runs in its own processes): the challenge is
published a few seconds before it, once everything the journey needs before it exists, and the
test polls the challenge until it is being evaluated."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from stdnum import luhn

from tests.e2e.platform import (
    RunningPlatform,
    create_api_key,
    gateway_client,
    provisional_report,
    wait_for_kpis,
    wait_for_types,
    wait_until,
)

MATCHING = "/api/v1/matching"
CATALOG_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "catalog.clock.toscana.it")
PAPER_LAB = str(uuid.uuid5(CATALOG_NAMESPACE, "lab:lucense-paper"))
"""LUCENSE's paper, packaging and materials lab of the demo data."""
SECONDS_TO_ANSWER = 8
"""From publication to the deadline: the two expressions and the reads before the deadline
take well under a second; the rest is slack for a loaded machine."""


@pytest.fixture
def platform(shared_platform: tuple[RunningPlatform, Path]) -> RunningPlatform:
    return shared_platform[0]


@pytest.fixture
def data_dir(shared_platform: tuple[RunningPlatform, Path]) -> Path:
    return shared_platform[1]


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json())


def refused(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return dict(response.json())


def vat(n: int) -> str:
    base = f"{8100 + n:07d}046"
    return base + luhn.calc_check_digit(base)


FIRMS: dict[str, dict[str, Any]] = {
    "publisher": {
        "name": "Cartiere Lucchesi Riunite S.p.A.",
        "vat_number": vat(1),
        "ateco_code": "17.12",
        "employees": 1400,
        "turnover_eur": "620000000.00",
        "province": "LU",
        "municipality": "Capannori",
    },
    "sensors": {
        "name": "Sensori Apuani S.r.l.",
        "vat_number": vat(2),
        "ateco_code": "26.51",
        "employees": 16,
        "turnover_eur": "2100000.00",
        "province": "MS",
        "municipality": "Carrara",
        "capabilities": "Progettiamo sensori IoT wireless e una piattaforma cloud per "
        "tracciare pallet e bobine nei magazzini e durante il trasporto, con etichette RFID.",
    },
    "packaging": {
        "name": "Imballaggi Versilia S.r.l.",
        "vat_number": vat(3),
        "ateco_code": "17.21",
        "employees": 40,
        "turnover_eur": "7500000.00",
        "province": "LU",
        "municipality": "Viareggio",
        "capabilities": "Produciamo imballaggi in cartone ondulato su misura.",
    },
}


def challenge(deadline: datetime) -> dict[str, Any]:
    return {
        "title": "Imballaggi in carta che resistono all'umidità, tracciati in magazzino",
        "description": "Una grande cartiera cerca piccole imprese e laboratori per due bisogni "
        "della sua filiera.",
        "needs": [
            {
                "text": "Prove di resistenza e di riciclabilità di carta e cartone per imballaggi "
                "resistenti all'umidità"
            },
            {
                "text": "Sensori IoT wireless per tracciare pallet e bobine nel magazzino e "
                "durante il trasporto"
            },
        ],
        "trl_expected": 7,
        "budget_eur": "150000.00",
        "deadline": deadline.isoformat(),
        "criteria": [{"name": "Fattibilità tecnica", "weight": 70}, {"name": "Costo"}],
        "status": "open",
    }


def test_a_challenge_from_publication_to_award_and_the_report(
    platform: RunningPlatform, data_dir: Path
) -> None:
    region = gateway_client(platform, platform.region_key)
    anonymous = gateway_client(platform)
    ids = {
        key: created(region.post(f"{MATCHING}/firms", json=body))["id"]
        for key, body in FIRMS.items()
    }
    publisher, sensors, packaging = (
        gateway_client(platform, create_api_key(platform, data_dir, "firm", ids[key]))
        for key in ("publisher", "sensors", "packaging")
    )

    # A firm that is not large may not publish a challenge; the paper mill drafts one.
    later = datetime.now(UTC) + timedelta(days=30)
    refused(sensors.post(f"{MATCHING}/challenges", json=challenge(later)), 403)
    draft = created(
        publisher.post(f"{MATCHING}/challenges", json=challenge(later) | {"status": "draft"})
    )
    url = f"{MATCHING}/challenges/{draft['id']}"
    assert ok(anonymous.get(f"{MATCHING}/challenges"))["items"] == []  # a draft is private

    # The platform proposes a team of an SME and a lab covering both needs (once the demo
    # catalogue and the signatories' membership reached matching).
    teams: list[dict[str, Any]] = []

    def team_with_the_lab() -> bool:
        teams[:] = ok(publisher.get(f"{url}/teams"))["items"]
        return bool(teams) and any(m["lab_id"] == PAPER_LAB for m in teams[0]["members"])

    wait_until(team_with_the_lab, timeout=20, message="a team with the demo paper lab")
    best = teams[0]
    assert best["uncovered_needs"] == [] and best["smes"] == 1 and best["labs"] == 1, best
    sme = next(m for m in best["members"] if m["kind"] == "firm")
    assert sme["firm_id"] == ids["sensors"] and sme["need_indexes"] == [1]
    assert all(m["fits"][0]["explanation"]["text"] for m in best["members"])

    # Published with a deadline a few seconds away.
    deadline = datetime.now(UTC) + timedelta(seconds=SECONDS_TO_ANSWER)
    ok(
        publisher.patch(
            url,
            json={"deadline": deadline.isoformat()},
            headers={"If-Match": f'"{draft["version"]}"'},
        )
    )
    published = ok(publisher.post(f"{url}/publication"))
    assert published["status"] == "open" and published["publisher_firm_id"] == ids["publisher"]
    assert [c["id"] for c in ok(anonymous.get(f"{MATCHING}/challenges"))["items"]] == [draft["id"]]

    # Two small firms answer: one alone, one with LUCENSE's lab.
    alone = created(
        sensors.post(
            f"{url}/expressions",
            json={
                "members": [{"firm_id": ids["sensors"]}],
                "responses": [{"need_index": 1, "text": "I nostri sensori RFID.", "members": [0]}],
            },
        )
    )
    with_lab = created(
        packaging.post(
            f"{url}/expressions",
            json={
                "members": [{"firm_id": ids["packaging"]}, {"lab_id": PAPER_LAB}],
                "responses": [
                    {"need_index": 0, "text": "Prove nel laboratorio LUCENSE.", "members": [1]},
                    {"need_index": 1, "text": "Etichette nei nostri imballaggi.", "members": [0]},
                ],
                "message": "Lavoriamo già con il laboratorio.",
            },
        )
    )
    again = packaging.post(
        f"{url}/expressions",
        json={
            "members": [{"firm_id": ids["packaging"]}],
            "responses": [{"need_index": 0, "text": "Di nuovo.", "members": [0]}],
        },
    )
    assert refused(again, 409)["expression_id"] == with_lab["id"]  # one each: update it
    # Before the deadline the publisher sees how many, not who or what.
    assert ok(publisher.get(url))["expressions_count"] == 2
    refused(publisher.get(f"{url}/expressions"), 403)
    assert [e["id"] for e in ok(sensors.get(f"{url}/expressions"))["items"]] == [alone["id"]]

    # The publisher invites the proposed team: an introduction to the lab's centre.
    invitation = created(publisher.post(f"{url}/teams/{best['team_id']}/invitation", json={}))
    assert len(invitation["introduction_ids"]) == 1

    def evaluating() -> bool:
        return bool(ok(anonymous.get(url))["status"] == "evaluating")

    wait_until(evaluating, timeout=SECONDS_TO_ANSWER + 15, message="the deadline")
    late = sensors.patch(
        f"{url}/expressions/{alone['id']}", json={"message": "tardi"}, headers={"If-Match": '"1"'}
    )
    refused(late, 409)

    # After it: anonymous expressions, one shortlisted (its team revealed), then awarded.
    seen = ok(publisher.get(f"{url}/expressions"))["items"]
    assert {e["alias"] for e in seen} == {"Respondent 1", "Respondent 2"}
    assert all(e["anonymous"] and e["respondent_org_id"] is None for e in seen)
    chosen = next(e for e in seen if len(e["members"]) == 2)
    assert chosen["id"] == with_lab["id"]
    refused(
        publisher.post(f"{url}/award", json={"expression_id": best["team_id"], "value_eur": "1"}),
        422,
    )
    shortlisted = ok(publisher.post(f"{url}/expressions/{chosen['id']}/shortlist"))
    assert shortlisted["anonymous"] is False
    assert shortlisted["respondent_org_id"] == ids["packaging"]
    awarded = ok(
        publisher.post(
            f"{url}/award", json={"expression_id": chosen["id"], "value_eur": "95000.00"}
        )
    )
    assert awarded["challenge"]["status"] == "awarded"
    engagements = awarded["engagements"]
    assert {e["supplier_firm_id"] for e in engagements} == {ids["packaging"], None}
    assert [p["lab_id"] for e in engagements for p in e["participants"]] == [PAPER_LAB]
    for engagement in engagements:
        read = ok(publisher.get(f"{MATCHING}/engagements/{engagement['id']}"))
        assert read["status"] == "open" and read["challenge_id"] == draft["id"]

    wait_for_types(
        platform,
        "CLOCK_MATCHING",
        {
            "clock.matching.challenge.published.v1",
            "clock.matching.expression.submitted.v1",
            "clock.matching.challenge.team_invited.v1",
            "clock.matching.challenge.awarded.v1",
            "clock.matching.engagement.opened.v1",
        },
    )
    month = datetime.now(UTC).strftime("%Y-%m")
    wanted = {
        "challenges_published": 1,
        "expressions_submitted": 2,
        "teams_invited": 1,
        "challenges_awarded": 1,
        "smes_in_awarded_teams": 1,
        "challenge_value_awarded_eur": "95000.00",
    }
    wait_for_kpis(region, month, wanted)
    today = datetime.now(UTC)
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    report = provisional_report(region, quarter)
    in_report = {
        i["kpi"]: i["value"]
        for i in report["kpis"]
        if i["dimension"] is None and i["period"] == quarter and i["kpi"] in wanted
    }
    assert in_report == wanted  # nothing else in the quarter publishes challenges
