"""The initiatives register through the gateway of a running platform, on SQLite and on
PostgreSQL: two centres register a joint training course and a Horizon Europe project, the
partner confirms, a third centre's overlapping project is flagged and the Region resolves it;
the public calendar feed imports into a calendar program; the course is found by the catalogue
search and proposed to a firm's demand; its attendance and the rest reach the periodic
report."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar

from tests.e2e.platform import (
    RunningPlatform,
    create_api_key,
    gateway_client,
    provisional_report,
    wait_for_kpis,
    wait_for_types,
    wait_until,
)

SIGNATORIES = uuid.uuid5(uuid.NAMESPACE_DNS, "membership.clock.toscana.it")
ASEV, LUCENSE, CPTM = (
    str(uuid.uuid5(SIGNATORIES, f"signatory:{key}")) for key in ("asev", "lucense", "cptm")
)
CATALOG = "/api/v1/catalog"


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


def course(today: date) -> dict[str, Any]:
    """A two-week course of ASEV and LUCENSE that starts today (so its first lessons can be
    attended today) and is open for registration."""
    return {
        "kind": "training",
        "title": {
            "it": "Corso di manifattura additiva e stampa 3D per le PMI",
            "en": "Additive manufacturing and 3D printing course for SMEs",
        },
        "description": {
            "it": "Corso pratico di stampa 3D di metalli e polimeri per le piccole imprese "
            "manifatturiere: progettazione per la manifattura additiva, prototipazione rapida.",
            "en": "Hands-on course on 3D printing of metals and polymers for small "
            "manufacturers: design for additive manufacturing, rapid prototyping.",
        },
        "partner_centres": [LUCENSE],
        "funding_programme": "esf_tuscany",
        "start_date": today.isoformat(),
        "end_date": (today + timedelta(days=14)).isoformat(),
        "start_time": "09:00",
        "end_time": "13:00",
        "venue": "ASEV, aula 2",
        "province": "FI",
        "municipality": "Empoli",
        "registered_participants": 20,
        "tags": {"s3": ["S3-2021.MAN"], "ket": ["advanced_manufacturing"]},
    }


def project(today: date, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "research_project",
        "title": {
            "it": "Idrogeno verde per i forni della ceramica e del vetro",
            "en": "Green hydrogen for ceramic and glass furnaces",
        },
        "description": {
            "it": "Ricerca sulla combustione di idrogeno verde nei forni industriali della "
            "ceramica e del vetro: bruciatori, refrattari ed emissioni di ossidi di azoto.",
            "en": "Research on burning green hydrogen in the industrial furnaces of ceramics "
            "and glass: burners, refractories and nitrogen oxide emissions.",
        },
        "partner_centres": [LUCENSE],
        "partner_organisations": [{"name": "Università di Pisa", "kind": "university"}],
        "funding_programme": "horizon_europe",
        "funding_call": "HORIZON-CL5-2025-D3-01",
        "budget_eur": "1250000.00",
        "public_funding_eur": "900000.00",
        "start_date": (today - timedelta(days=30)).isoformat(),
        "end_date": (today + timedelta(days=900)).isoformat(),
        "status": "running",
        "tags": {"s3": ["S3-2021.MAT"], "ket": ["advanced_materials"]},
    } | fields


def test_initiatives_from_registration_to_the_report(
    platform: RunningPlatform, data_dir: Path
) -> None:
    today = datetime.now(ZoneInfo("Europe/Rome")).date()
    region = gateway_client(platform, platform.region_key)
    asev, lucense, cptm = (
        gateway_client(platform, create_api_key(platform, data_dir, "centre", org))
        for org in (ASEV, LUCENSE, CPTM)
    )
    anonymous = gateway_client(platform)
    training: dict[str, Any] = {}
    answers: list[httpx.Response] = []

    def registered() -> bool:  # once the signatories' membership events reached the catalogue
        answers.append(asev.post(f"{CATALOG}/initiatives", json=course(today)))
        if answers[-1].status_code == 201:
            training.update(answers[-1].json())
        return answers[-1].status_code == 201

    try:
        wait_until(registered, timeout=15, message="ASEV may write the initiatives register")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {answers[-1].text}") from None
    assert training["joint"] is True and training["status"] == "planned"
    assert training["partner_centres"] == [
        {"centre_id": LUCENSE, "status": "proposed", "confirmed_at": None}
    ]
    horizon = created(asev.post(f"{CATALOG}/initiatives", json=project(today)))
    assert horizon["possible_overlaps"] == []

    # The partner confirms its own participation, not another centre's.
    for initiative in (training, horizon):
        url = f"{CATALOG}/initiatives/{initiative['id']}/partners/{LUCENSE}/confirmation"
        refused = cptm.post(url)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        confirmed = ok(lucense.post(url))
        assert confirmed["partner_centres"][0]["status"] == "confirmed"

    # A third centre's project on the same topic, at the same time: flagged, and listed for
    # the committee until the Region resolves it.
    similar = created(
        cptm.post(
            f"{CATALOG}/initiatives",
            json=project(
                today,
                partner_centres=[],
                funding_programme="erdf_tuscany",
                funding_call=None,
                title={
                    "it": "Forni a idrogeno verde per la ceramica",
                    "en": "Green hydrogen furnaces for ceramics",
                },
            ),
        )
    )
    assert [o["id"] for o in similar["possible_overlaps"]] == [horizon["id"]]
    listed = ok(region.get(f"{CATALOG}/initiatives/overlaps"))["items"]
    overlaps = [o for o in listed if similar["id"] in (o["a"]["id"], o["b"]["id"])]
    assert len(listed) == 2 and len(overlaps) == 1  # and the demo data's pair
    resolved = ok(
        region.post(
            f"{CATALOG}/initiatives/overlaps/{overlaps[0]['id']}/resolution",
            json={"resolution": "to_coordinate"},
        )
    )
    assert resolved["status"] == "to_coordinate"

    # The calendar feed a firm subscribes to imports into a calendar program.
    feed = anonymous.get(f"{CATALOG}/initiatives/calendar.ics")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(feed.content)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    event = next(e for uid, e in events.items() if training["id"] in uid)
    assert str(event["SUMMARY"]).startswith("Corso di manifattura additiva")
    assert event.decoded("DTSTART").date() == today
    assert "Empoli" in str(event["LOCATION"])
    assert all(horizon["id"] not in uid for uid in events)  # projects are not calendar events

    # The course attended today: the event is held.
    held = ok(
        asev.patch(
            f"{CATALOG}/initiatives/{training['id']}",
            json={"attending_participants": 17},
            headers={"If-Match": f'"{training["version"] + 1}"'},
        )
    )
    assert held["attending_participants"] == 17

    wait_for_types(
        platform,
        "CLOCK_CATALOG",
        {
            "clock.catalog.initiative.created.v1",
            "clock.catalog.initiative.participation_confirmed.v1",
            "clock.catalog.initiative.event_held.v1",
            "clock.catalog.initiative_overlap.found.v1",
            "clock.catalog.initiative_overlap.resolved.v1",
        },
    )

    # The catalogue search finds the course, in either language.
    for q, lang in (("manifattura additiva", "it"), ("additive manufacturing course", "en")):
        found = ok(
            anonymous.get(
                f"{CATALOG}/search", params={"q": q, "entity": "initiative", "lang": lang}
            )
        )
        assert found["items"][0]["id"] == training["id"], (q, found["items"])
        assert found["items"][0]["lab_id"] is None

    # A small manufacturer's demand: matching proposes the open course, and explains why.
    firm_id = created(
        region.post(
            "/api/v1/matching/firms",
            json={
                "name": "Meccanica Empolese S.r.l.",
                "vat_number": "07654320048",
                "ateco_code": "25.62",
                "employees": 12,
                "turnover_eur": "1800000.00",
                "province": "FI",
                "municipality": "Vinci",
            },
        )
    )["id"]
    firm = gateway_client(platform, create_api_key(platform, data_dir, "firm", firm_id))
    demand = created(
        firm.post(
            "/api/v1/matching/demands",
            json={
                "firm_id": firm_id,
                "title": "Stampa 3D di componenti metallici",
                "description": "Vogliamo imparare la manifattura additiva dei metalli per "
                "produrre prototipi e piccole serie.",
                "needs": [{"text": "Formazione sulla stampa 3D di metalli e polimeri"}],
            },
        )
    )
    proposed: list[dict[str, Any]] = []

    def course_proposed() -> bool:
        response = firm.get(f"/api/v1/matching/demands/{demand['id']}/matches")
        proposed[:] = ok(response)["initiatives"]
        return any(i["initiative_id"] == training["id"] for i in proposed)

    wait_until(course_proposed, timeout=15, message="the course proposed to the demand")
    suggestion = next(i for i in proposed if i["initiative_id"] == training["id"])
    assert suggestion["kind"] == "training" and suggestion["partner_centre_ids"] == [LUCENSE]
    assert "training course" in suggestion["explanation"]["text"]
    assert all(i["initiative_id"] != horizon["id"] for i in proposed)  # not about this

    # The periodic report counts the demo initiatives (loaded this month by `clock run`) and
    # those of this journey.
    month = datetime.now(UTC).strftime("%Y-%m")
    wanted = {
        "initiatives_registered": 8 + 3,
        # Demo: COSVIG+CPTM, NAVIGO+CPTM, ASEV+LUCENSE, TLS+ASEV; here: the course, the project.
        "joint_actions_registered": 4 + 2,
        "partnerships_confirmed": 3 + 2,  # NAVIGO's partner has not confirmed
        "initiative_public_funding_eur": f"{3_640_000 + 900_000 + 900_000}.00",
        # Demo: TLS's two days of 8 h; here: 15 days of 4 h.
        "training_hours": f"{16 + 60}.00",
        "training_participants": 24 + 17,
        "dissemination_events_held": 1,
        "dissemination_attendance": 64,
        "initiative_overlaps_found": 1 + 1,
        "initiative_overlaps_resolved": 1,
    }
    wait_for_kpis(region, month, wanted)
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    report = provisional_report(region, quarter)
    in_report = {
        i["kpi"]: i["value"]
        for i in report["kpis"]
        if i["dimension"] is None and i["period"] == quarter and i["kpi"] in wanted
    }
    assert in_report == wanted  # a fresh platform: nothing in the quarter before this month
