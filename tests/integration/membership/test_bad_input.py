"""Bad input gets a clear problem and changes nothing: no row, no outbox event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.membership import seed
from tests.integration.membership.conftest import (
    ANONYMOUS,
    REGION,
    VALID_VAT,
    Service,
    application_body,
)

ASEV = seed.SIGNATORY_IDS["ASEV"]
UNKNOWN = "01900000-0000-7000-8000-000000000000"


def organisation(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Ente di Prova",
        "kind": "other",
        "province": "AR",
        "municipality": "Arezzo",
    } | fields


async def _unchanged(
    svc: Service, method: str, url: str, status: int, **request: Any
) -> dict[str, Any]:
    before = await svc.counts()
    request.setdefault("headers", REGION)
    response = await svc.client.request(method, url, **request)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = dict(response.json())
    assert {"type", "title", "status", "detail"} <= set(problem)
    assert problem["status"] == status
    assert await svc.counts() == before
    return problem


def _fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


async def test_an_invalid_vat_check_digit_is_a_422_naming_the_field(svc: Service) -> None:
    problem = await _unchanged(
        svc, "POST", "/organisations", 422, json=organisation(vat_number="00743110158")
    )
    assert _fields(problem) == {"vat_number"}
    assert "check digit" in problem["errors"][0]["message"]
    problem = await _unchanged(
        svc,
        "POST",
        "/applications",
        422,
        json=application_body(vat_number="00743110158"),
        headers=ANONYMOUS,
    )
    assert _fields(problem) == {"organisation.vat_number"}


async def test_a_municipality_outside_the_province_is_a_422(svc: Service) -> None:
    problem = await _unchanged(
        svc, "POST", "/organisations", 422, json=organisation(province="FI", municipality="Lucca")
    )
    assert _fields(problem) == {"municipality"} and "Firenze" in problem["detail"]
    problem = await _unchanged(
        svc,
        "POST",
        "/applications",
        422,
        json=application_body(province="SI", municipality="Empoli"),
        headers=ANONYMOUS,
    )
    assert _fields(problem) == {"organisation.municipality"}
    problem = await _unchanged(
        svc, "POST", "/organisations", 422, json=organisation(province="ZZ", municipality="Arezzo")
    )
    assert _fields(problem) == {"province"}


async def test_an_application_from_an_active_member_is_a_409(svc: Service) -> None:
    org_id = await svc.admit()
    problem = await _unchanged(
        svc, "POST", "/applications", 409, json=application_body(), headers=ANONYMOUS
    )
    assert "already a member" in problem["detail"]
    assert problem["organisation_id"] == org_id


async def test_a_second_application_while_one_is_under_review_is_a_409(svc: Service) -> None:
    await svc.apply()
    await _unchanged(svc, "POST", "/applications", 409, json=application_body(), headers=ANONYMOUS)


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "admit"},
        {"decision": "admit", "motivation": ""},
        {"decision": "reject", "motivation": "   \n "},
        {"decision": "admit", "motivation": None},
    ],
)
async def test_a_decision_without_motivation_is_a_422(svc: Service, body: dict[str, Any]) -> None:
    application = await svc.apply()
    problem = await _unchanged(
        svc, "POST", f"/applications/{application['id']}/decision", 422, json=body
    )
    assert _fields(problem) == {"motivation"}


async def test_votes_that_do_not_carry_the_decision_are_a_422(svc: Service) -> None:
    application = await svc.apply()
    problem = await _unchanged(
        svc,
        "POST",
        f"/applications/{application['id']}/decision",
        422,
        json={
            "decision": "admit",
            "motivation": "x",
            "votes": {"for": 1, "against": 3, "abstained": 0},
        },
    )
    assert _fields(problem) == {"votes"}


async def test_deciding_twice_is_a_409(svc: Service) -> None:
    application = await svc.apply()
    url = f"/applications/{application['id']}/decision"
    first = await svc.client.post(
        url, json={"decision": "admit", "motivation": "ok"}, headers=REGION
    )
    assert first.status_code == 200
    for decision in ("admit", "reject"):
        problem = await _unchanged(
            svc, "POST", url, 409, json={"decision": decision, "motivation": "again"}
        )
        assert "already decided" in problem["detail"]


async def test_suspending_a_withdrawn_member_is_a_409(svc: Service) -> None:
    await svc.client.post(f"/members/{ASEV}/withdrawal", json={"reason": "x"}, headers=REGION)
    problem = await _unchanged(
        svc, "POST", f"/members/{ASEV}/suspension", 409, json={"reason": "y"}
    )
    assert problem["allowed"] == []


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", f"/organisations/{UNKNOWN}", None),
        ("PATCH", f"/organisations/{UNKNOWN}", {"name": "x"}),
        ("GET", f"/members/{UNKNOWN}", None),
        ("GET", "/members/not-even-a-uuid", None),
        ("POST", f"/members/{UNKNOWN}/suspension", {"reason": "x"}),
        ("POST", f"/members/{UNKNOWN}/withdrawal", {"reason": "x"}),
        ("GET", f"/members/{UNKNOWN}/history", None),
        (
            "PUT",
            f"/members/{UNKNOWN}/representative",
            {"full_name": "A", "email": "a@b.it", "position": "P"},
        ),
        ("GET", f"/members/{UNKNOWN}/representatives", None),
        ("GET", f"/applications/{UNKNOWN}", None),
        ("POST", f"/applications/{UNKNOWN}/decision", {"decision": "reject", "motivation": "x"}),
    ],
)
async def test_unknown_ids_are_404(svc: Service, method: str, url: str, body: Any) -> None:
    headers = REGION | ({"If-Match": '"1.1"'} if method == "PATCH" else {})
    await _unchanged(svc, method, url, 404, json=body, headers=headers)


async def test_malformed_json_is_a_422(svc: Service) -> None:
    problem = await _unchanged(
        svc,
        "POST",
        "/applications",
        422,
        content=b'{"organisation": {',
        headers=ANONYMOUS | {"content-type": "application/json"},
    )
    assert problem["errors"][0]["type"] == "json_invalid"


async def test_unknown_fields_are_a_422(svc: Service) -> None:
    body = application_body()
    body["organisation"]["is_admin"] = True
    problem = await _unchanged(svc, "POST", "/applications", 422, json=body, headers=ANONYMOUS)
    assert _fields(problem) == {"organisation.is_admin"}
    await _unchanged(
        svc, "POST", f"/members/{ASEV}/suspension", 422, json={"reason": "x", "until": "2027-01-01"}
    )


async def test_oversized_bodies_are_a_413(svc: Service) -> None:
    body = application_body()
    body["declarations"]["offer"] = "x" * (1024 * 1024 + 1)
    problem = await _unchanged(svc, "POST", "/applications", 413, json=body, headers=ANONYMOUS)
    assert "larger than" in problem["detail"]


async def test_oversized_chunked_bodies_are_a_413_too(svc: Service) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"organisation": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    await _unchanged(
        svc,
        "POST",
        "/applications",
        413,
        content=chunks(),
        headers=ANONYMOUS | {"content-type": "application/json"},
    )


async def test_a_duplicate_vat_number_is_a_409(svc: Service) -> None:
    created = await svc.client.post(
        "/organisations", json=organisation(vat_number=VALID_VAT), headers=REGION
    )
    assert created.status_code == 201
    problem = await _unchanged(
        svc,
        "POST",
        "/organisations",
        409,
        json=organisation(name="Altro", vat_number=f"IT{VALID_VAT}"),
    )
    assert _fields(problem) == {"vat_number"}
