"""Bad input gets a clear problem and changes nothing: no row, no index entry, no event."""

from __future__ import annotations

from typing import Any

from tests.integration.catalog.conftest import (
    ANONYMOUS,
    ASEV,
    REGION,
    Catalog,
    centre,
    competence_body,
    lab_body,
    sem_body,
    service_body,
)

UNKNOWN = "01900000-0000-7000-8000-000000000000"


async def _refused(
    svc: Catalog, method: str, url: str, status: int, **request: Any
) -> dict[str, Any]:
    request.setdefault("headers", centre(ASEV))
    response = await svc.client.request(method, url, **request)
    assert response.status_code == status, (method, url, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    problem = dict(response.json())
    assert {"type", "title", "status", "detail"} <= set(problem)
    assert problem["status"] == status
    return problem


def _fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


async def test_invalid_entries_are_422s_naming_the_field(members: Catalog) -> None:
    svc = members
    lab = await svc.create_lab(ASEV)
    competence = await svc.add(ASEV, lab["id"], "competences", competence_body())
    await svc.publish(ASEV, lab["id"])
    competences = f"/labs/{lab['id']}/competences"
    equipment = f"/labs/{lab['id']}/equipment"
    before = await svc.counts()
    long = "x" * 201
    cases: list[tuple[str, str, dict[str, Any], set[str], str]] = [
        # unknown taxonomy codes name the field and the code
        ("POST", competences, competence_body(tags={"ateco": ["99.99"]}), {"tags.ateco"}, "99.99"),
        ("POST", competences, competence_body(tags={"s3": ["S3-2099.X"]}), {"tags.s3"}, "S3-2099"),
        (
            "POST",
            equipment,
            sem_body(tags={"ket": ["magic"], "erc": ["PE99"]}),
            {
                "tags.ket",
                "tags.erc",
            },
            "magic",
        ),
        ("POST", competences, competence_body(tags={"ford": ["9.9"]}), {"tags.ford"}, "9.9"),
        # TRL
        ("POST", competences, competence_body(trl_min=0), {"trl_min"}, "greater"),
        ("POST", competences, competence_body(trl_max=10), {"trl_max"}, "less"),
        ("POST", competences, competence_body(trl_min=7, trl_max=4), {"trl_max"}, "trl_min"),
        # limits
        ("POST", competences, competence_body(title={"it": long}), {"title.it"}, "200"),
        ("POST", "/labs", lab_body(description={"en": "y" * 5001}), {"description.en"}, "5000"),
        ("POST", competences, competence_body(keywords=["k"] * 31), {"keywords"}, "30"),
        ("POST", competences, competence_body(keywords=["k" * 61]), {"keywords.0"}, "60"),
        ("POST", equipment, sem_body(model="m" * 101), {"model"}, "100"),
        ("POST", equipment, sem_body(tariff_eur_per_hour="-1"), {"tariff_eur_per_hour"}, ""),
        ("POST", equipment, sem_body(tariff_eur_per_hour="1.005"), {"tariff_eur_per_hour"}, ""),
        ("POST", equipment, sem_body(year=1800), {"year"}, ""),
        # shapes
        ("POST", competences, competence_body(title={}), {"title"}, "Italian"),
        ("POST", competences, competence_body(title={"fr": "Titre"}), {"title.fr"}, ""),
        ("POST", competences, competence_body(colour="red"), {"colour"}, ""),
        ("POST", f"/labs/{lab['id']}/services", service_body(kind="magic"), {"kind"}, ""),
        ("POST", "/labs", lab_body(contact_email="not-an-address"), {"contact_email"}, "e-mail"),
        # places
        ("POST", "/labs", lab_body(province="XX"), {"province"}, "XX"),
        ("POST", "/labs", lab_body(municipality="Lucca"), {"municipality"}, "Lucca"),
        # patches
        ("PATCH", f"/competences/{competence['id']}", {"trl_min": 8}, {"trl_max"}, "trl_min"),
        ("PATCH", f"/competences/{competence['id']}", {"title": None}, {"body"}, "null"),
        ("PATCH", f"/competences/{competence['id']}", {}, {"body"}, "nothing"),
        ("PATCH", f"/labs/{lab['id']}", {"province": "LU"}, {"municipality"}, "Pontedera"),
    ]
    for method, url, body, fields, mentioned in cases:
        headers = centre(ASEV) | ({"If-Match": '"2"'} if method == "PATCH" else {})
        problem = await _refused(svc, method, url, 422, json=body, headers=headers)
        assert _fields(problem) == fields, (body, problem)
        assert mentioned in problem["detail"] + str(problem["errors"]), (body, problem)
    assert await svc.counts() == before


async def test_unknown_ids_cursors_and_oversized_bodies(members: Catalog) -> None:
    svc = members
    lab = await svc.create_lab(ASEV)
    before = await svc.counts()
    for method, url, body, headers in (
        ("GET", f"/labs/{UNKNOWN}", None, REGION),
        ("GET", f"/competences/{UNKNOWN}", None, REGION),
        ("GET", f"/equipment/{UNKNOWN}", None, ANONYMOUS),
        ("GET", f"/services/{UNKNOWN}", None, ANONYMOUS),
        ("GET", f"/labs/{UNKNOWN}/services", None, ANONYMOUS),
        ("PATCH", f"/competences/{UNKNOWN}", {"trl_min": 2}, centre(ASEV) | {"If-Match": '"1"'}),
        ("DELETE", f"/equipment/{UNKNOWN}", None, centre(ASEV)),
        ("POST", f"/labs/{UNKNOWN}/equipment", sem_body(), centre(ASEV)),
        ("POST", f"/labs/{UNKNOWN}/publication", None, centre(ASEV)),
        ("GET", f"/duplicates/{UNKNOWN}", None, REGION),
        ("POST", f"/duplicates/{UNKNOWN}/resolution", {"resolution": "distinct"}, REGION),
        ("GET", "/taxonomies/colours", None, ANONYMOUS),
        ("GET", "/taxonomies/ateco/99.99", None, ANONYMOUS),
    ):
        await _refused(svc, method, url, 404, json=body, headers=headers)
    for url, params in (
        ("/labs", {"cursor": "not-a-cursor"}),
        ("/equipment", {"cursor": "bm90IGpzb24"}),
        ("/search", {"q": "prove", "cursor": "garbage!"}),
        ("/duplicates", {"cursor": "WyJ4Il0"}),
        ("/taxonomies/ateco", {"cursor": "nope"}),
    ):
        problem = await _refused(svc, "GET", url, 422, params=params, headers=REGION)
        assert _fields(problem) == {"cursor"}, url
    for url, params, field in (
        ("/search", {"ateco": "99.99"}, "ateco"),
        ("/search", {"trl": "10"}, "trl"),
        ("/search", {"lang": "fr"}, "lang"),
        ("/search", {"q": "x" * 501}, "q"),
        ("/labs", {"limit": "0"}, "limit"),
        ("/competences", {"limit": "1000"}, "limit"),
        ("/equipment", {"ket": "magic"}, "ket"),
        ("/labs", {"province": "Lucca"}, "province"),
    ):
        problem = await _refused(svc, "GET", url, 422, params=params, headers=ANONYMOUS)
        assert field in _fields(problem), (url, params, problem)
    huge = lab_body(description={"it": "x" * 300_000})
    await _refused(svc, "POST", "/labs", 413, json=huge)
    await _refused(svc, "POST", f"/labs/{lab['id']}/competences", 413, json=huge)
    assert await svc.counts() == before
