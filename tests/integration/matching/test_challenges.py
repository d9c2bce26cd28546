"""Supply-chain challenges (#13): a large enterprise publishes a challenge with two needs, two
small firms answer (one with a lab of a member centre), the platform proposes a team of an SME
and a lab covering both needs, the publisher invites it, reads the anonymous expressions after
the deadline (the test's clock passes it), shortlists and awards; an engagement opens for each
member and every step is an event on CLOCK_MATCHING. Then each bad input of the issue, which
gets a clear problem document and changes nothing, and who sees what."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from stdnum import luhn

from kernel.db import create_engine
from kernel.principal import Role
from services.matching.challenges.models import (
    Challenge,
    ChallengeGuest,
    Expression,
    Invitation,
)
from tests.integration.matching.conftest import (
    COSVIG,
    NAVIGO,
    PARTNER,
    REGION,
    START,
    TLS,
    Catalogue,
    Service,
    as_,
)

ANONYMOUS = as_(Role.ANONYMOUS)
DEADLINE = START + timedelta(days=14)
AFTER_DEADLINE = timedelta(days=15)

CHALLENGE_TABLES = {
    "challenges": Challenge.__table__,
    "challenge_expressions": Expression.__table__,
    "challenge_invitations": Invitation.__table__,
    "challenge_guests": ChallengeGuest.__table__,
}


def vat(n: int) -> str:
    """A valid partita IVA of its own for each firm of these tests."""
    base = f"{7000 + n:07d}001"
    return base + luhn.calc_check_digit(base)


async def firm(svc: Service, n: int, headers: dict[str, str] = REGION, **fields: Any) -> str:
    return await svc.firm(vat(n), headers=headers, **fields)


async def publisher(svc: Service) -> str:
    """A large enterprise of the olive oil industry."""
    return await firm(
        svc,
        1,
        name="Oleifici Riuniti Toscani",
        ateco_code="10.41",
        employees=900,
        turnover_eur="250000000.00",
        province="FI",
        municipality="Firenze",
    )


async def sensor_sme(svc: Service) -> str:
    """A small firm whose capabilities fit the first need."""
    return await firm(
        svc,
        2,
        name="Sensoristica Tirrena",
        ateco_code="26.51",
        employees=18,
        turnover_eur="2500000.00",
        province="LI",
        municipality="Livorno",
        capabilities="Progettiamo e produciamo sensori IoT wireless di temperatura e umidità e "
        "una piattaforma cloud per tracciare i prodotti alimentari durante il trasporto e "
        "nei magazzini della logistica del freddo.",
        capability_tags={"ket": ["micro_nano_electronics"]},
    )


async def machinery_sme(svc: Service) -> str:
    """A small firm whose capabilities fit neither need well."""
    return await firm(
        svc,
        3,
        name="Meccanica Valdarno",
        ateco_code="28.29",
        employees=35,
        turnover_eur="6000000.00",
        province="AR",
        municipality="Arezzo",
        capabilities="Costruiamo macchine per l'imbottigliamento e il confezionamento.",
    )


def challenge_body(**changes: Any) -> dict[str, Any]:
    return {
        "title": "Frantoio del futuro: tracciabilità e sansa",
        "description": "Un grande oleificio cerca fornitori e laboratori per la filiera.",
        "needs": [
            {
                "text": "Sensori wireless IoT per monitorare temperatura e umidità dei prodotti "
                "durante il trasporto, con una piattaforma cloud di tracciabilità"
            },
            {"text": "Produrre biogas dalla sansa e dalle acque di vegetazione del frantoio"},
        ],
        "trl_expected": 7,
        "budget_eur": "120000.00",
        "prize_eur": "10000.00",
        "deadline": DEADLINE.isoformat(),
        "criteria": [{"name": "Fattibilità tecnica", "weight": 60}, {"name": "Costo"}],
        "status": "open",
    } | changes


async def publish(svc: Service, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = await svc.client.post("/challenges", json=challenge_body(**changes), headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def expression_body(members: list[dict[str, str]], **changes: Any) -> dict[str, Any]:
    return {
        "members": members,
        "responses": [
            {
                "need_index": 0,
                "text": "I nostri sensori e la nostra piattaforma tracciano ogni lotto.",
                "members": [0],
            }
        ],
        "message": "Siamo interessati.",
    } | changes


async def express(
    svc: Service, challenge_id: str, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await svc.client.post(
        f"/challenges/{challenge_id}/expressions", json=body, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def counts(svc: Service) -> dict[str, int]:
    """Rows of matching's tables (the harness's and the challenges'), outbox included."""
    found = await svc.counts()
    engine = create_engine(svc.database_url)
    try:
        async with engine.connect() as connection:
            for name, table in CHALLENGE_TABLES.items():
                found[name] = (
                    await connection.execute(select(func.count()).select_from(table))
                ).scalar_one()
    finally:
        await engine.dispose()
    return found


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """The response is a problem document of this status (naming this field)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = dict(response.json())
    assert body["status"] == status and body["detail"]
    if field is not None:
        assert any(e["field"].endswith(field) for e in body["errors"]), body
    return body


# -- the story ------------------------------------------------------------------------------


async def test_a_large_firm_publishes_two_smes_answer_a_proposed_team_is_awarded(
    svc: Service, cat: Catalogue
) -> None:
    publisher_id = await publisher(svc)
    sensors_id = await sensor_sme(svc)
    machinery_id = await machinery_sme(svc)
    owner = as_(Role.FIRM, publisher_id)
    sensors = as_(Role.FIRM, sensors_id)
    machinery = as_(Role.FIRM, machinery_id)

    challenge = await publish(svc, owner)
    challenge_id = challenge["id"]
    assert challenge["status"] == "open" and challenge["publisher_firm_id"] == publisher_id
    assert challenge["sector"] == "10.41" and challenge["expressions_count"] == 0
    assert challenge["criteria"] == [
        {"name": "Fattibilità tecnica", "weight": 60},
        {"name": "Costo", "weight": None},
    ]
    # Published as the publisher's own demand, which demand lists show only when asked.
    demand_id = challenge["demand_id"]
    own = await svc.client.get("/demands", headers=owner)
    assert own.json()["items"] == []
    backing = await svc.client.get("/demands?challenge=true", headers=owner)
    assert [d["id"] for d in backing.json()["items"]] == [demand_id]
    demand = (await svc.client.get(f"/demands/{demand_id}", headers=owner)).json()
    assert demand["challenge_id"] == challenge_id and demand["trl_target"] == 7
    assert demand["deadline"] == "2026-03-16"
    # A public challenge: anyone lists it and reads it.
    listed = await svc.client.get("/challenges", headers=ANONYMOUS)
    assert [c["id"] for c in listed.json()["items"]] == [challenge_id]
    assert listed.json()["items"][0]["invited_firm_ids"] is None

    # The platform proposes the SME with the capabilities for need 0 and the lab for need 1.
    response = await svc.client.get(f"/challenges/{challenge_id}/teams", headers=owner)
    assert response.status_code == 200, response.text
    best = response.json()["items"][0]
    assert best["uncovered_needs"] == [] and best["smes"] == 1 and best["labs"] == 1
    members = {(m["kind"], m["firm_id"] or m["lab_id"]): m for m in best["members"]}
    assert set(members) == {("firm", sensors_id), ("lab", cat.biogas.id)}
    sme, lab = members[("firm", sensors_id)], members[("lab", cat.biogas.id)]
    assert sme["need_indexes"] == [0] and lab["need_indexes"] == [1]
    assert sme["name"] == "Sensoristica Tirrena" and sme["size_class"] == "small"
    assert lab["centre_id"] == COSVIG and lab["name"] == "Circular Bioenergy Lab"
    assert sme["fits"][0]["explanation"]["text"].startswith("The firm “Sensoristica Tirrena”")
    assert "from the publisher" in sme["fits"][0]["explanation"]["text"]
    assert lab["fits"][0]["explanation"]["text"]
    assert best["answered"] is None and best["invited"] is False
    assert problem(await svc.client.get(f"/challenges/{challenge_id}/teams", headers=sensors), 403)

    # The publisher invites it: an introduction to the lab, which its centre accepts (no
    # engagement yet: the award opens them).
    invited = await svc.client.post(
        f"/challenges/{challenge_id}/teams/{best['team_id']}/invitation",
        json={"message": "Vi aspettiamo."},
        headers=owner,
    )
    assert invited.status_code == 201, invited.text
    (introduction_id,) = invited.json()["introduction_ids"]
    again = await svc.client.post(
        f"/challenges/{challenge_id}/teams/{best['team_id']}/invitation", headers=owner
    )
    problem(again, 409)
    accepted = await svc.client.post(
        f"/introductions/{introduction_id}/acceptance", headers=as_(Role.CENTRE, COSVIG)
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.json()["engagement_id"] is None
    assert (await counts(svc))["engagements"] == 0

    # Two small firms answer, one with the lab of a member centre.
    first = await express(
        svc,
        challenge_id,
        sensors,
        expression_body(
            [{"firm_id": sensors_id}, {"lab_id": cat.biogas.id}],
            responses=[
                {"need_index": 0, "text": "Sensori e piattaforma nostri.", "members": [0]},
                {"need_index": 1, "text": "Il laboratorio fa le prove BMP.", "members": [1]},
            ],
        ),
    )
    assert first["anonymous"] is False and first["respondent_org_id"] == sensors_id
    second = await express(
        svc, challenge_id, machinery, expression_body([{"firm_id": machinery_id}])
    )
    # A second expression by the same firm is refused, naming the first: it updates it instead.
    duplicate = await svc.client.post(
        f"/challenges/{challenge_id}/expressions",
        json=expression_body([{"firm_id": machinery_id}]),
        headers=machinery,
    )
    assert problem(duplicate, 409)["expression_id"] == second["id"]
    path = f"/challenges/{challenge_id}/expressions/{second['id']}"
    updated = await svc.client.patch(
        path, json={"message": "Anche i sensori."}, headers=machinery | {"If-Match": '"1"'}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["message"] == "Anche i sensori." and updated.json()["version"] == 2

    # Before the deadline the publisher sees the count, not the expressions.
    read = await svc.client.get(f"/challenges/{challenge_id}", headers=owner)
    assert read.json()["expressions_count"] == 2 and read.json()["status"] == "open"
    early = problem(
        await svc.client.get(f"/challenges/{challenge_id}/expressions", headers=owner), 403
    )
    assert early["expressions_count"] == 2
    problem(await svc.client.get(path, headers=owner), 403)
    # A respondent sees its own only.
    mine = await svc.client.get(f"/challenges/{challenge_id}/expressions", headers=sensors)
    assert [e["id"] for e in mine.json()["items"]] == [first["id"]]
    problem(await svc.client.get(path, headers=sensors), 403)

    svc.clock.advance(AFTER_DEADLINE)
    read = await svc.client.get(f"/challenges/{challenge_id}", headers=ANONYMOUS)
    assert read.json()["status"] == "evaluating"
    late = await svc.client.post(
        f"/challenges/{challenge_id}/expressions",
        json=expression_body([{"lab_id": cat.olive.id}]),
        headers=as_(Role.CENTRE, TLS),
    )
    problem(late, 409)

    # After it, the publisher reads them, anonymous until shortlisted; the Region sees all.
    seen = await svc.client.get(f"/challenges/{challenge_id}/expressions", headers=owner)
    assert seen.status_code == 200, seen.text
    items = seen.json()["items"]
    assert [e["alias"] for e in items] == ["Respondent 1", "Respondent 2"]
    assert all(e["anonymous"] and e["respondent_org_id"] is None for e in items)
    firm_member, lab_member = items[0]["members"]
    assert firm_member == {
        "kind": "firm",
        "firm_id": None,
        "lab_id": None,
        "name": None,
        "centre_id": None,
        "size_class": "small",
        "sme": True,
        "province": "LI",
        "sector": "26.51",
    }
    assert lab_member["lab_id"] is None and lab_member["centre_id"] is None
    assert lab_member["name"] is None and lab_member["province"] == "GR"
    by_region = await svc.client.get(f"/challenges/{challenge_id}/expressions", headers=REGION)
    assert by_region.json()["items"][0]["members"][0]["name"] == "Sensoristica Tirrena"
    teams = (await svc.client.get(f"/challenges/{challenge_id}/teams", headers=owner)).json()
    proposed = next(t for t in teams["items"] if t["team_id"] == best["team_id"])
    assert proposed["invited"] is True and proposed["answered"] is None

    shortlisted = await svc.client.post(
        f"/challenges/{challenge_id}/expressions/{first['id']}/shortlist", headers=owner
    )
    assert shortlisted.status_code == 200, shortlisted.text
    assert shortlisted.json()["anonymous"] is False
    assert shortlisted.json()["respondent_org_id"] == sensors_id
    assert shortlisted.json()["members"][1]["lab_id"] == cat.biogas.id
    teams = (await svc.client.get(f"/challenges/{challenge_id}/teams", headers=owner)).json()
    proposed = next(t for t in teams["items"] if t["team_id"] == best["team_id"])
    assert proposed["answered"] is True and proposed["expression_id"] == first["id"]

    # The award opens an engagement for each member of the team.
    awarded = await svc.client.post(
        f"/challenges/{challenge_id}/award",
        json={"expression_id": first["id"], "value_eur": "45000.00"},
        headers=owner,
    )
    assert awarded.status_code == 200, awarded.text
    assert awarded.json()["challenge"]["status"] == "awarded"
    assert awarded.json()["challenge"]["award_value_eur"] == "45000.00"
    opened = {
        e["supplier_firm_id"] or e["participants"][0]["lab_id"]: e
        for e in awarded.json()["engagements"]
    }
    assert set(opened) == {sensors_id, cat.biogas.id}
    assert opened[sensors_id]["participants"] == [] and opened[sensors_id]["centres"] == 0
    (participant,) = opened[cat.biogas.id]["participants"]
    assert participant["centre_id"] == COSVIG and participant["introduction_id"] == introduction_id
    assert all(e["challenge_id"] == challenge_id for e in opened.values())
    assert all(e["demand_id"] == demand_id and e["status"] == "open" for e in opened.values())
    demand = (await svc.client.get(f"/demands/{demand_id}", headers=owner)).json()
    assert demand["status"] == "in_progress"
    # Each member sees its engagement; the supplier does not close it, the publisher does.
    assert [
        e["id"] for e in (await svc.client.get("/engagements", headers=sensors)).json()["items"]
    ] == [opened[sensors_id]["id"]]
    cosvig = (await svc.client.get("/engagements", headers=as_(Role.CENTRE, COSVIG))).json()
    assert [e["id"] for e in cosvig["items"]] == [opened[cat.biogas.id]["id"]]
    outcome = {
        "value_eur": "30000.00",
        "delivered": True,
        "satisfaction": 4,
        "innovation_introduced": "process",
    }
    refused = await svc.client.post(
        f"/engagements/{opened[sensors_id]['id']}/closure", json=outcome, headers=sensors
    )
    problem(refused, 403)
    closed = await svc.client.post(
        f"/engagements/{opened[sensors_id]['id']}/closure", json=outcome, headers=owner
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"

    events = await svc.wait_for_events(
        "challenge.published",
        "challenge.team_invited",
        "introduction.requested",
        "introduction.accepted",
        "expression.submitted",
        "expression.submitted",
        "challenge.awarded",
        "engagement.opened",
        "engagement.opened",
        "engagement.closed",
    )

    def of(event_type: str) -> list[dict[str, Any]]:
        return [e["data"] for e in events if e["type"] == f"clock.matching.{event_type}.v1"]

    (submitted,) = [d for d in of("demand.submitted") if d["challenge_id"] == challenge_id]
    assert submitted["demand_id"] == demand_id and submitted["firm"]["size_class"] == "large"
    (published,) = of("challenge.published")
    assert published["needs_count"] == 2 and published["publisher"]["sme"] is False
    assert published["status"] == "open" and published["prize_eur"] == "10000.00"
    (invitation,) = of("challenge.team_invited")
    assert invitation["team_id"] == best["team_id"] and invitation["status"] == "open"
    assert invitation["introduction_ids"] == [introduction_id]
    assert of("introduction.accepted")[0]["engagement_id"] is None
    expressed = {d["respondent_org_id"]: d for d in of("expression.submitted")}
    assert expressed[sensors_id]["sme_count"] == 1 and expressed[sensors_id]["lab_count"] == 1
    assert expressed[machinery_id]["team"][0]["need_indexes"] == [0]
    (award,) = of("challenge.awarded")
    assert award["value_eur"] == "45000.00" and award["expressions_count"] == 2
    assert award["status"] == "awarded" and sorted(award["engagement_ids"]) == sorted(
        e["id"] for e in opened.values()
    )
    assert {(m["kind"], tuple(m["need_indexes"])) for m in award["team"]} == {
        ("firm", (0,)),
        ("lab", (1,)),
    }
    supplier = next(d for d in of("engagement.opened") if d["supplier_firm"])
    assert supplier["supplier_firm"]["firm_id"] == sensors_id
    assert supplier["lab_ids"] == [] and supplier["centre_ids"] == []
    assert supplier["challenge_id"] == challenge_id and supplier["firm"]["firm_id"] == publisher_id


# -- bad input: a clear problem, nothing changed --------------------------------------------


async def test_only_a_large_firm_publishes_but_the_region_or_its_centre_may_for_a_firm(
    svc: Service,
) -> None:
    small_id = await sensor_sme(svc)
    before = await counts(svc)
    refused = await svc.client.post(
        "/challenges", json=challenge_body(), headers=as_(Role.FIRM, small_id)
    )
    assert "large enterprise" in problem(refused, 403)["detail"]
    for headers in (as_(Role.PARTNER, PARTNER), ANONYMOUS):
        body = challenge_body(publisher_firm_id=small_id)
        problem(await svc.client.post("/challenges", json=body, headers=headers), 403)
    assert await counts(svc) == before
    # A firm publishes for itself only; the Region and centres name the firm.
    large_id = await publisher(svc)
    assisted_id = await firm(svc, 9, headers=as_(Role.CENTRE, NAVIGO), name="Nautica Apuana")
    before = await counts(svc)
    for_other = challenge_body(publisher_firm_id=small_id)
    problem(
        await svc.client.post("/challenges", json=for_other, headers=as_(Role.FIRM, large_id)), 403
    )
    problem(
        await svc.client.post("/challenges", json=challenge_body(), headers=REGION),
        422,
        "publisher_firm_id",
    )
    unknown = challenge_body(publisher_firm_id="01900000-0000-7000-8000-00000000dead")
    problem(
        await svc.client.post("/challenges", json=unknown, headers=REGION), 422, "publisher_firm_id"
    )
    assert await counts(svc) == before

    # A centre acts for the firms it registered only, as for demands.
    not_its_own = challenge_body(publisher_firm_id=small_id)
    problem(
        await svc.client.post("/challenges", json=not_its_own, headers=as_(Role.CENTRE, NAVIGO)),
        403,
    )
    assert await counts(svc) == before
    by_region = await publish(svc, REGION, publisher_firm_id=small_id)
    by_centre = await publish(svc, as_(Role.CENTRE, NAVIGO), publisher_firm_id=assisted_id)
    assert by_region["publisher_firm_id"] == small_id
    assert by_centre["publisher_firm_id"] == assisted_id
    # The centre that published it manages it and its demand, as the firm does.
    demand = await svc.client.get(
        f"/demands/{by_centre['demand_id']}", headers=as_(Role.CENTRE, NAVIGO)
    )
    assert demand.json()["assisting_centre_id"] == NAVIGO
    mine = await svc.client.get("/challenges?status=open", headers=as_(Role.FIRM, small_id))
    assert {c["id"] for c in mine.json()["items"]} == {by_region["id"], by_centre["id"]}
    own = next(c for c in mine.json()["items"] if c["id"] == by_region["id"])
    assert own["invited_firm_ids"] == []  # its own: the publisher side sees the list
    # Newest first, a page at a time.
    first = await svc.client.get("/challenges?limit=1", headers=ANONYMOUS)
    assert [c["id"] for c in first.json()["items"]] == [by_centre["id"]]
    cursor = first.json()["next_cursor"]
    second = await svc.client.get(f"/challenges?limit=1&cursor={cursor}", headers=ANONYMOUS)
    assert [c["id"] for c in second.json()["items"]] == [by_region["id"]]
    assert second.json()["next_cursor"] is None
    problem(await svc.client.get("/challenges?cursor=nonsense", headers=ANONYMOUS), 422, "cursor")


async def test_a_challenge_refuses_bad_fields(svc: Service) -> None:
    owner = as_(Role.FIRM, await publisher(svc))
    guest = await machinery_sme(svc)
    before = await counts(svc)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"deadline": (START - timedelta(hours=1)).isoformat()}, "deadline"),  # in the past
        ({"deadline": "2026-04-01T12:00:00"}, "deadline"),  # no time zone
        ({"deadline": "9999-12-31T23:59:59-12:00"}, "deadline"),  # beyond the calendar in UTC
        ({"needs": []}, "needs"),
        ({"needs": [{"text": "bisogno"}] * 11}, "needs"),
        ({"criteria": []}, "criteria"),
        ({"criteria": [{"name": "Costo", "weight": 101}]}, "criteria.0.weight"),
        ({"sector": "99.99"}, "sector"),
        ({"trl_expected": 10}, "trl_expected"),
        ({"prize_eur": "-1"}, "prize_eur"),
        ({"visibility": "secret"}, "visibility"),
        ({"invited_firm_ids": [guest]}, "invited_firm_ids"),  # public: nobody to invite
        (
            {"visibility": "invited", "invited_firm_ids": ["01900000-0000-7000-8000-00000000dead"]},
            "invited_firm_ids.0",
        ),
    ]
    for change, field in cases:
        response = await svc.client.post(
            "/challenges", json=challenge_body(**change), headers=owner
        )
        problem(response, 422, field)
    # A draft may not be published once its deadline has passed either.
    assert await counts(svc) == before
    draft = await publish(svc, owner, status="draft")
    assert draft["status"] == "draft" and draft["demand_id"] is None
    before = await counts(svc)
    svc.clock.advance(AFTER_DEADLINE)
    late = await svc.client.post(f"/challenges/{draft['id']}/publication", headers=owner)
    problem(late, 422, "deadline")
    assert await counts(svc) == before
    assert before["challenges"] == 1 and before["demands"] == 0


async def test_expressions_refuse_bad_input_and_come_once_per_respondent(
    svc: Service, cat: Catalogue
) -> None:
    owner = as_(Role.FIRM, await publisher(svc))
    sensors_id = await sensor_sme(svc)
    machinery_id = await machinery_sme(svc)
    sensors = as_(Role.FIRM, sensors_id)
    challenge_id = (await publish(svc, owner))["id"]
    await svc.publish_lab(cat.textile, withdrawn=True)
    await svc.wait_visible(cat.textile.id, visible=False)
    before = await counts(svc)
    path = f"/challenges/{challenge_id}/expressions"
    me = {"firm_id": sensors_id}
    cases: list[tuple[dict[str, str], dict[str, Any], str]] = [
        (
            sensors,
            expression_body([me], responses=[{"need_index": 2, "text": "t", "members": [0]}]),
            "responses.0.need_index",
        ),
        (
            sensors,
            expression_body([me, {"lab_id": cat.textile.id}]),
            "members.1.lab_id",
        ),  # withdrawn
        (
            sensors,
            expression_body([me, {"lab_id": "01900000-0000-7000-8000-00000000dead"}]),
            "members.1.lab_id",
        ),
        # Another firm, without its say (a firm answers for itself).
        (sensors, expression_body([me, {"firm_id": machinery_id}]), "members.1.firm_id"),
        (sensors, expression_body([{"lab_id": cat.biogas.id}]), "members"),  # not its own team
        (sensors, expression_body([me, me]), "members.1"),
        (
            sensors,
            expression_body([me], responses=[{"need_index": 0, "text": "t", "members": [3]}]),
            "responses.0.members.0",
        ),
        (sensors, expression_body([me, {"firm_id": "x", "lab_id": "y"}]), "members.1"),
        (
            sensors,
            expression_body(
                [],
            ),
            "members",
        ),
        (
            as_(Role.CENTRE, TLS),
            expression_body([{"lab_id": cat.biogas.id}]),
            "members",
        ),  # not TLS's lab
    ]
    for headers, body, field in cases:
        problem(await svc.client.post(path, json=body, headers=headers), 422, field)
    for headers in (owner, as_(Role.PARTNER, PARTNER), ANONYMOUS, REGION):
        problem(await svc.client.post(path, json=expression_body([me]), headers=headers), 403)
    assert await counts(svc) == before

    first = await express(svc, challenge_id, sensors, expression_body([me]))
    before = await counts(svc)
    again = await svc.client.post(path, json=expression_body([me]), headers=sensors)
    assert problem(again, 409)["expression_id"] == first["id"]
    # Update instead, with If-Match; another respondent may not.
    patch = f"{path}/{first['id']}"
    change = {"members": [me, {"lab_id": cat.olive.id}]}
    problem(await svc.client.patch(patch, json=change, headers=sensors), 428)
    problem(await svc.client.patch(patch, json=change, headers=sensors | {"If-Match": '"7"'}), 412)
    problem(
        await svc.client.patch(
            patch, json=change, headers=as_(Role.FIRM, machinery_id) | {"If-Match": '"1"'}
        ),
        403,
    )
    problem(
        await svc.client.patch(
            patch,
            json={"members": [{"lab_id": cat.olive.id}]},
            headers=sensors | {"If-Match": '"1"'},
        ),
        422,
        "members",
    )
    assert await counts(svc) == before
    updated = await svc.client.patch(patch, json=change, headers=sensors | {"If-Match": '"1"'})
    assert updated.status_code == 200, updated.text
    assert updated.json()["members"][1]["lab_id"] == cat.olive.id
    # A team of a centre: one of its labs in it.
    centre = as_(Role.CENTRE, TLS)
    by_centre = await express(
        svc, challenge_id, centre, expression_body([{"lab_id": cat.olive.id}])
    )
    assert by_centre["respondent_kind"] == "centre" and by_centre["respondent_org_id"] == TLS

    # After the deadline: no more expressions, no more updates.
    svc.clock.advance(AFTER_DEADLINE)
    before = await counts(svc)
    late = await svc.client.post(
        path,
        json=expression_body([{"firm_id": machinery_id}]),
        headers=as_(Role.FIRM, machinery_id),
    )
    assert "deadline" in problem(late, 409)["detail"]
    problem(
        await svc.client.patch(
            patch, json={"message": "tardi"}, headers=sensors | {"If-Match": '"2"'}
        ),
        409,
    )
    assert await counts(svc) == before


async def test_the_award_goes_to_a_shortlisted_team_that_answered_after_the_deadline(
    svc: Service, cat: Catalogue
) -> None:
    owner = as_(Role.FIRM, await publisher(svc))
    sensors_id = await sensor_sme(svc)
    sensors = as_(Role.FIRM, sensors_id)
    challenge_id = (await publish(svc, owner))["id"]
    other_id = (await publish(svc, owner, title="Un'altra sfida"))["id"]
    mine = await express(svc, challenge_id, sensors, expression_body([{"firm_id": sensors_id}]))
    elsewhere = await express(svc, other_id, sensors, expression_body([{"firm_id": sensors_id}]))
    team_id = (await svc.client.get(f"/challenges/{challenge_id}/teams", headers=owner)).json()[
        "items"
    ][0]["team_id"]
    award = f"/challenges/{challenge_id}/award"
    before = await counts(svc)
    body = {"expression_id": mine["id"], "value_eur": "1000.00"}
    problem(await svc.client.post(award, json=body, headers=owner), 409)  # before the deadline
    problem(
        await svc.client.post(
            f"/challenges/{challenge_id}/expressions/{mine['id']}/shortlist", headers=owner
        ),
        409,
    )
    svc.clock.advance(AFTER_DEADLINE)
    problem(await svc.client.post(award, json=body, headers=sensors), 403)
    for wrong in (team_id, elsewhere["id"], "01900000-0000-7000-8000-00000000dead"):
        problem(
            await svc.client.post(award, json=body | {"expression_id": wrong}, headers=owner),
            422,
            "expression_id",
        )
    problem(await svc.client.post(award, json=body, headers=owner), 409)  # not shortlisted
    problem(
        await svc.client.post(award, json=body | {"value_eur": "-5"}, headers=owner),
        422,
        "value_eur",
    )
    assert await counts(svc) == before

    # The Region may shortlist and award too, and sees everything meanwhile.
    shortlist = f"/challenges/{challenge_id}/expressions/{mine['id']}/shortlist"
    assert (await svc.client.post(shortlist, headers=REGION)).status_code == 200
    awarded = await svc.client.post(award, json=body, headers=REGION)
    assert awarded.status_code == 200, awarded.text
    before = await counts(svc)
    problem(await svc.client.post(award, json=body, headers=owner), 409)  # already awarded
    problem(
        await svc.client.post(
            f"/challenges/{challenge_id}/closure", json={"reason": "x"}, headers=owner
        ),
        409,
    )
    assert await counts(svc) == before


async def test_a_challenge_closed_without_award_cancels_its_demand(svc: Service) -> None:
    owner = as_(Role.FIRM, await publisher(svc))
    challenge = await publish(svc, owner)
    path = f"/challenges/{challenge['id']}"
    # Its demand is the challenge's: not cancelled nor introduced directly.
    problem(
        await svc.client.post(
            f"/demands/{challenge['demand_id']}/cancellation", json={"reason": "no"}, headers=owner
        ),
        409,
    )
    problem(
        await svc.client.post(
            f"{path}/closure", json={"reason": "x"}, headers=as_(Role.CENTRE, TLS)
        ),
        403,
    )
    closed = await svc.client.post(
        f"{path}/closure", json={"reason": "Nessuna risposta utile"}, headers=owner
    )
    assert closed.status_code == 200, closed.text
    assert (
        closed.json()["status"] == "closed"
        and closed.json()["close_reason"] == "Nessuna risposta utile"
    )
    demand = await svc.client.get(f"/demands/{challenge['demand_id']}", headers=owner)
    assert demand.json()["status"] == "cancelled"
    problem(await svc.client.post(f"{path}/closure", json={"reason": "x"}, headers=owner), 409)
    events = await svc.wait_for_events("challenge.published", "challenge.closed")
    (data,) = [e["data"] for e in events if e["type"] == "clock.matching.challenge.closed.v1"]
    assert data["reason"] == "Nessuna risposta utile" and data["expressions_count"] == 0


# -- who sees what ----------------------------------------------------------------------------


async def test_drafts_members_only_and_invited_only_challenges_are_hidden_from_others(
    svc: Service, cat: Catalogue
) -> None:
    publisher_id = await publisher(svc)
    owner = as_(Role.FIRM, publisher_id)
    guest_id = await sensor_sme(svc)
    stranger_id = await machinery_sme(svc)
    guest, stranger = as_(Role.FIRM, guest_id), as_(Role.FIRM, stranger_id)
    draft = await publish(svc, owner, status="draft", title="Bozza")
    members = await publish(svc, owner, visibility="members", title="Per i soci")
    invited = await publish(
        svc, owner, visibility="invited", invited_firm_ids=[guest_id], title="Su invito"
    )

    async def ids(headers: dict[str, str]) -> set[str]:
        response = await svc.client.get("/challenges", headers=headers)
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()["items"]}

    assert await ids(ANONYMOUS) == set()
    assert await ids(stranger) == {members["id"]}
    assert await ids(as_(Role.PARTNER, PARTNER)) == {members["id"]}
    assert await ids(guest) == {members["id"], invited["id"]}
    assert await ids(owner) == await ids(REGION) == {draft["id"], members["id"], invited["id"]}
    for challenge, headers in ((members, ANONYMOUS), (invited, stranger), (draft, guest)):
        problem(await svc.client.get(f"/challenges/{challenge['id']}", headers=headers), 404)
        body = expression_body([{"firm_id": stranger_id}])
        problem(
            await svc.client.post(
                f"/challenges/{challenge['id']}/expressions", json=body, headers=headers
            ),
            404,
        )
    assert (await svc.client.get(f"/challenges/{invited['id']}", headers=owner)).json()[
        "invited_firm_ids"
    ] == [guest_id]
    assert (await svc.client.get(f"/challenges/{invited['id']}", headers=guest)).json()[
        "invited_firm_ids"
    ] is None
    await express(svc, invited["id"], guest, expression_body([{"firm_id": guest_id}]))

    # A draft changes with If-Match until it is published; then it does not.
    path = f"/challenges/{draft['id']}"
    problem(await svc.client.patch(path, json={"title": "Nuova"}, headers=owner), 428)
    problem(
        await svc.client.patch(path, json={"title": "Nuova"}, headers=guest | {"If-Match": '"1"'}),
        404,
    )
    problem(
        await svc.client.patch(path, json={"title": None}, headers=owner | {"If-Match": '"1"'}), 422
    )
    changed = await svc.client.patch(
        path,
        json={"title": "Nuova", "visibility": "invited", "invited_firm_ids": [stranger_id]},
        headers=owner | {"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Nuova" and changed.json()["invited_firm_ids"] == [
        stranger_id
    ]
    assert changed.headers["etag"] == '"2"'
    published = await svc.client.post(f"{path}/publication", headers=owner)
    assert published.status_code == 200 and published.json()["status"] == "open"
    assert await ids(stranger) == {members["id"], draft["id"]}
    problem(
        await svc.client.patch(path, json={"title": "Altra"}, headers=owner | {"If-Match": '"3"'}),
        409,
    )
    problem(await svc.client.post(f"{path}/publication", headers=owner), 409)

    # Inviting a proposed team lets its centres (and firms) see an invited-only challenge.
    teams = (await svc.client.get(f"/challenges/{invited['id']}/teams", headers=owner)).json()[
        "items"
    ]
    team = next(t for t in teams if any(m["firm_id"] == guest_id for m in t["members"]))
    centres = {m["centre_id"] for m in team["members"] if m["kind"] == "lab"}
    assert centres
    for centre in centres:
        hidden = await svc.client.get(
            f"/challenges/{invited['id']}", headers=as_(Role.CENTRE, centre)
        )
        problem(hidden, 404)
    invitation = await svc.client.post(
        f"/challenges/{invited['id']}/teams/{team['team_id']}/invitation", headers=owner
    )
    assert invitation.status_code == 201, invitation.text
    for centre in centres:
        seen = await svc.client.get(
            f"/challenges/{invited['id']}", headers=as_(Role.CENTRE, centre)
        )
        assert seen.status_code == 200
    problem(
        await svc.client.post(
            f"/challenges/{invited['id']}/teams/{'0' * 36}/invitation", headers=owner
        ),
        404,
    )


# -- firms' capabilities ------------------------------------------------------------------------


async def test_firms_declare_and_change_their_capabilities(svc: Service) -> None:
    partner = as_(Role.PARTNER, PARTNER)
    firm_id = await firm(
        svc,
        9,
        headers=partner,
        capabilities="Stampa 3D di metalli",
        capability_tags={"ket": ["advanced_manufacturing"]},
    )
    path = f"/firms/{firm_id}"
    read = await svc.client.get(path, headers=as_(Role.FIRM, firm_id))
    assert read.json()["capabilities"] == "Stampa 3D di metalli"
    assert read.json()["capability_tags"] == {"ket": ["advanced_manufacturing"]}
    other = await machinery_sme(svc)
    before = await counts(svc)
    change = {"capabilities": "Stampa 3D di metalli e polimeri"}
    problem(await svc.client.patch(path, json=change, headers=partner), 428)
    problem(await svc.client.patch(path, json=change, headers=partner | {"If-Match": '"2"'}), 412)
    problem(
        await svc.client.patch(
            path, json=change, headers=as_(Role.FIRM, other) | {"If-Match": '"1"'}
        ),
        403,
    )
    problem(await svc.client.patch(path, json={}, headers=partner | {"If-Match": '"1"'}), 422)
    problem(
        await svc.client.patch(
            path, json={"capabilities": "x" * 2001}, headers=partner | {"If-Match": '"1"'}
        ),
        422,
        "capabilities",
    )
    problem(
        await svc.client.patch(
            path, json={"capability_tags": None}, headers=partner | {"If-Match": '"1"'}
        ),
        422,
    )
    assert await counts(svc) == before
    for headers, version in ((partner, 1), (as_(Role.FIRM, firm_id), 2), (REGION, 3)):
        response = await svc.client.patch(
            path, json=change, headers=headers | {"If-Match": f'"{version}"'}
        )
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == f'"{version + 1}"'
    cleared = await svc.client.patch(
        path, json={"capabilities": None}, headers=REGION | {"If-Match": '"4"'}
    )
    assert cleared.json()["capabilities"] is None
    assert cleared.json()["capability_tags"] == {"ket": ["advanced_manufacturing"]}
    assert await counts(svc) == before  # no event: the capabilities are matching's own
