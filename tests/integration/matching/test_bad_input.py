"""Bad input gets a clear problem document and changes nothing."""

from __future__ import annotations

from typing import Any

from kernel.principal import Role
from tests.integration.matching.conftest import (
    COSVIG,
    OTHER_VAT,
    REGION,
    TLS,
    Catalogue,
    Service,
    as_,
)

MISSING = "01900000-0000-7000-8000-00000000dead"


async def test_firms_refuse_bad_codes_places_and_figures(svc: Service) -> None:
    await svc.firm()
    before = await svc.counts()
    base = {
        "name": "Tessitura Bianchi",
        "vat_number": OTHER_VAT,
        "ateco_code": "13.20",
        "employees": 30,
        "province": "PO",
        "municipality": "Prato",
    }
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"ateco_code": "99.99"}, 422, "ateco_code"),
        ({"province": "XX"}, 422, "province"),
        ({"municipality": "Atlantide"}, 422, "municipality"),
        ({"vat_number": "12345678901"}, 422, "vat_number"),
        ({"employees": None}, 422, "size_class"),
        ({"size_class": "micro"}, 422, "size_class"),  # 30 employees: small
        ({"vat_number": "00743110157"}, 409, "vat_number"),  # already registered
    ]
    for change, status, field in cases:
        response = await svc.client.post("/firms", json=base | change, headers=REGION)
        assert response.status_code == status, (change, response.text)
        problem = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert any(field in e["field"] for e in problem["errors"]), problem
    for role in (Role.FIRM, Role.ANONYMOUS):
        response = await svc.client.post("/firms", json=base, headers=as_(role, "x"))
        assert response.status_code == 403
    assert await svc.counts() == before
    created = await svc.client.post(
        "/firms",
        json=base | {"turnover_eur": "4000000.00", "ateco_code": "1320"},
        headers=as_(Role.PARTNER, TLS),
    )
    assert created.status_code == 201, created.text
    assert created.json()["size_class"] == "small" and created.json()["ateco_code"] == "13.20"


DEMAND_CASES: list[tuple[dict[str, Any], str]] = [
    ({"sector": "00.00"}, "sector"),
    ({"preferred_provinces": ["ZZ"]}, "preferred_provinces.0"),
    ({"trl_current": 6, "trl_target": 4}, "body"),
    ({"deadline": "2026-03-01"}, "deadline"),  # the clock says 2 March 2026
    ({"needs": []}, "needs"),
    ({"needs": [{"text": ""}]}, "needs.0.text"),
    ({"trl_target": 10}, "trl_target"),
    ({"budget_eur": "-5"}, "budget_eur"),
]


async def test_demands_refuse_bad_input(svc: Service) -> None:
    firm_id = await svc.firm()
    before = await svc.counts()
    for change, field in DEMAND_CASES:
        body = {
            "firm_id": firm_id,
            "title": "Analisi",
            "description": "Polifenoli",
            "needs": [{"text": "HPLC"}],
        } | change
        response = await svc.client.post("/demands", json=body, headers=as_(Role.FIRM, firm_id))
        assert response.status_code == 422, (change, response.text)
        errors = response.json()["errors"]
        assert any(e["field"].startswith(field) for e in errors), (change, errors)
    assert await svc.counts() == before


async def test_unknown_ids_are_404_and_others_answers_403(svc: Service, cat: Catalogue) -> None:
    firm_id = await svc.firm()
    firm = as_(Role.FIRM, firm_id)
    demand = await svc.demand(firm_id, firm)
    introduction = (
        await svc.client.post(
            f"/demands/{demand['id']}/introductions", json={"lab_id": cat.olive.id}, headers=firm
        )
    ).json()
    before = await svc.counts()
    for method, url, body in [
        ("GET", f"/firms/{MISSING}", None),
        ("GET", f"/demands/{MISSING}", None),
        ("GET", f"/demands/{MISSING}/matches", None),
        ("GET", f"/demands/{MISSING}/consortia", None),
        (
            "POST",
            "/demands",
            {"firm_id": MISSING, "title": "t", "description": "d", "needs": [{"text": "n"}]},
        ),
        ("POST", f"/demands/{demand['id']}/introductions", {"lab_id": MISSING}),
        ("POST", f"/introductions/{MISSING}/acceptance", {}),
        (
            "POST",
            f"/engagements/{MISSING}/closure",
            {
                "value_eur": "1",
                "delivered": True,
                "satisfaction": 3,
                "innovation_introduced": "none",
            },
        ),
        (
            "POST",
            f"/equipment/{MISSING}/access-requests",
            {"start": "2026-04-01T08:00:00Z", "end": "2026-04-01T10:00:00Z", "purpose": "x"},
        ),
        ("POST", f"/access-requests/{MISSING}/approval", {}),
    ]:
        response = await svc.client.request(method, url, json=body, headers=REGION)
        assert response.status_code == 404, (url, response.text)
    # Answering an introduction of another centre's lab: 403, for every other role too.
    for headers in (as_(Role.CENTRE, COSVIG), REGION, firm, as_(Role.PARTNER, TLS)):
        for action, payload in (("acceptance", {}), ("decline", {"reason": "no"})):
            response = await svc.client.post(
                f"/introductions/{introduction['id']}/{action}", json=payload, headers=headers
            )
            assert response.status_code == 403, response.text
    # Introductions need a target, only one.
    for payload in (
        {},
        {
            "lab_id": cat.olive.id,
            "consortium": {"members": [{"need_index": 0, "lab_id": cat.olive.id}]},
        },
    ):
        response = await svc.client.post(
            f"/demands/{demand['id']}/introductions", json=payload, headers=firm
        )
        assert response.status_code == 422
    bad_need = await svc.client.post(
        f"/demands/{demand['id']}/introductions",
        json={"consortium": {"members": [{"need_index": 3, "lab_id": cat.olive.id}]}},
        headers=firm,
    )
    assert bad_need.status_code == 422
    assert await svc.counts() == before


async def test_cancelled_demands_take_no_introductions(svc: Service, cat: Catalogue) -> None:
    firm_id = await svc.firm()
    firm = as_(Role.FIRM, firm_id)
    demand = await svc.demand(firm_id, firm)
    cancelled = await svc.client.post(
        f"/demands/{demand['id']}/cancellation",
        json={"reason": "Risolto internamente"},
        headers=firm,
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await svc.client.post(
        f"/demands/{demand['id']}/cancellation", json={"reason": "x"}, headers=firm
    )
    assert again.status_code == 409 and again.json()["allowed"] == []
    response = await svc.client.post(
        f"/demands/{demand['id']}/introductions", json={"lab_id": cat.olive.id}, headers=firm
    )
    assert response.status_code == 409
