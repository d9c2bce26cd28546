"""Membership and catalogue through the gateway of a running platform, as centre systems and
the Region use them: adhesion, admission, a lab published and found, a duplicate resolved, a
suspension that hides the lab (membership event → catalogue) and a reinstatement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.platform import (
    RunningPlatform,
    create_api_key,
    fresh_ports,
    gateway_client,
    start_platform,
    stop_platform,
    wait_for_types,
    wait_until,
)

SIGNATORIES = {"Regione Toscana", "ASEV", "COSVIG", "CPTM", "LUCENSE", "NAVIGO", "TLS"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clock-e2e")


@pytest.fixture(scope="module")
def platform(data_dir: Path) -> Iterator[RunningPlatform]:
    running = start_platform(data_dir, fresh_ports())
    yield running
    stop_platform(running)


def application() -> dict[str, Any]:
    return {
        "organisation": {
            "name": "Polo Tecnologico Pontederese",
            "acronym": "PTP",
            "kind": "technology_transfer_centre",
            "legal_form": "società consortile a r.l.",
            "vat_number": "07654320048",
            "province": "PI",
            "municipality": "Pontedera",
            "website": "https://example.org/ptp",
            "email": "info@example.org",
        },
        "declarations": {
            "operates_in_tuscany": True,
            "operates_in_technology_transfer": True,
            "offer": "Prove sui materiali compositi e microscopia elettronica per le PMI.",
        },
        "representative": {
            "full_name": "Giulia Bianchi",
            "email": "giulia.bianchi@example.org",
            "position": "Direttrice tecnica",
        },
    }


def test_the_seven_signatories_are_members(platform: RunningPlatform) -> None:
    with gateway_client(platform) as client:
        members = client.get("/api/v1/membership/members", params={"limit": 50}).json()["items"]
    acronyms = {m["acronym"] or m["name"] for m in members}
    assert acronyms | {m["name"] for m in members} >= SIGNATORIES
    assert all(m["status"] == "active" for m in members)


def test_adhesion_catalogue_duplicates_and_suspension(
    platform: RunningPlatform, data_dir: Path
) -> None:
    region = gateway_client(platform, platform.region_key)
    anonymous = gateway_client(platform)

    # An anonymous application from a Tuscan centre is found eligible.
    submitted = anonymous.post("/api/v1/membership/applications", json=application())
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["status"] == "under_review"
    assert all(check["passed"] for check in submitted.json()["eligibility"])
    application_id = submitted.json()["id"]
    assert anonymous.post(
        f"/api/v1/membership/applications/{application_id}/decision",
        json={"decision": "admit", "motivation": "x"},
    ).status_code in (401, 403)

    decided = region.post(
        f"/api/v1/membership/applications/{application_id}/decision",
        json={
            "decision": "admit",
            "motivation": "Competenze complementari sui compositi per la filiera nautica.",
            "votes": {"for": 6, "against": 0, "abstained": 1},
        },
    )
    assert decided.status_code == 200, decided.text
    org_id = decided.json()["organisation_id"]

    members = anonymous.get("/api/v1/membership/members", params={"limit": 50}).json()["items"]
    assert any(m["organisation_id"] == org_id and m["role"] == "adhering" for m in members)
    assert anonymous.get("/api/v1/membership/committee").status_code in (401, 403)
    committee = region.get("/api/v1/membership/committee").json()["items"]
    seat = next(s for s in committee if s["organisation_id"] == org_id)
    assert seat["representative"]["full_name"] == "Giulia Bianchi"

    # The new member's system writes its catalogue once the admission event reached it.
    centre = gateway_client(platform, create_api_key(platform, data_dir, "centre", org_id))
    lab_body = {
        "name": {"it": "Laboratorio compositi", "en": "Composites laboratory"},
        "description": {
            "it": "Laboratorio di prova per la caratterizzazione dei materiali compositi.",
            "en": "Testing laboratory for the characterisation of composite materials.",
        },
        "province": "PI",
        "municipality": "Pontedera",
    }
    created: dict[str, Any] = {}

    def lab_created() -> bool:
        response = centre.post("/api/v1/catalog/labs", json=lab_body)
        if response.status_code == 201:
            created.update(response.json())
        return response.status_code == 201

    wait_until(lab_created, timeout=10, message="the catalogue accepts the admitted centre")
    lab_id = created["id"]
    sem = centre.post(
        f"/api/v1/catalog/labs/{lab_id}/equipment",
        json={
            "name": {
                "it": "Microscopio elettronico a scansione",
                "en": "Scanning electron microscope",
            },
            "description": {"it": "SEM con microanalisi EDS.", "en": "SEM with EDS microanalysis."},
            "manufacturer": "JEOL",
            "model": "JSM-IT500",
            "shareable": True,
            "tariff_eur_per_hour": "90.00",
        },
    )
    assert sem.status_code == 201, sem.text
    flagged = sem.json()["possible_duplicates"]
    assert flagged and flagged[0]["reason"] == "same manufacturer and model"
    assert all(d["centre_id"] != org_id for d in flagged)
    assert centre.post(f"/api/v1/catalog/labs/{lab_id}/publication").status_code == 200

    def found(q: str, **params: str) -> set[str]:
        response = anonymous.get("/api/v1/catalog/search", params={"q": q, **params})
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert lab_id in found("laboratori di prova compositi")
    assert lab_id in found("composite materials testing", lang="en")

    pairs = region.get("/api/v1/catalog/duplicates").json()["items"]
    pair = next(p for p in pairs if sem.json()["id"] in (p["a"]["id"], p["b"]["id"]))
    resolved = region.post(
        f"/api/v1/catalog/duplicates/{pair['id']}/resolution", json={"resolution": "shared"}
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "shared"

    # Suspension by the Region: the lab leaves search, and comes back on reinstatement (about
    # 0.1 s here; the deadlines leave room for a loaded CI machine, they are not the target).
    suspended = region.post(
        f"/api/v1/membership/members/{org_id}/suspension", json={"reason": "Quota non versata"}
    )
    assert suspended.status_code == 200, suspended.text
    started = time.monotonic()
    wait_until(lambda: lab_id not in found("compositi"), timeout=10, message="suspended lab hidden")
    print(f"\n[figures] suspension to hidden from search: {time.monotonic() - started:.3f} s")
    assert centre.post("/api/v1/catalog/labs", json=lab_body).status_code == 409
    reinstated = region.post(
        f"/api/v1/membership/members/{org_id}/reinstatement", json={"reason": "Quota versata"}
    )
    assert reinstated.status_code == 200, reinstated.text
    wait_until(lambda: lab_id in found("compositi"), timeout=10, message="lab back")

    history = region.get(f"/api/v1/membership/members/{org_id}/history").json()["items"]
    steps = [(h["to_status"], h["actor"]["role"], h["reason"]) for h in history]
    assert [s[0] for s in steps][-3:] == ["active", "suspended", "active"]
    assert all(actor == "region" and reason for _, actor, reason in steps[-3:])

    wait_for_types(
        platform,
        "CLOCK_MEMBERSHIP",
        {
            "clock.membership.application.submitted.v1",
            "clock.membership.application.decided.v1",
            "clock.membership.member.admitted.v1",
            "clock.membership.member.suspended.v1",
            "clock.membership.member.reinstated.v1",
            "clock.membership.representative.appointed.v1",
        },
    )
    wait_for_types(platform, "CLOCK_CATALOG", {"clock.catalog.duplicate.resolved.v1"})
    for client in (region, anonymous, centre):
        client.close()


LUCENSE = str(
    uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_DNS, "membership.clock.toscana.it"), "signatory:lucense")
)
"""The fixed organisation id of a founding centre (services/membership/seed.py)."""


def run_clock(platform: RunningPlatform, *args: str, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clock_cli.main", *args],
        env={**os.environ, "CLOCK_GATEWAY_URL": platform.gateway, "CLOCK_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_clock_catalog_import_through_the_gateway_then_cerif_export(
    platform: RunningPlatform, data_dir: Path, tmp_path: Path
) -> None:
    """A centre's operator imports its spreadsheets with the CLI (a dry run first), then the
    equipment is exported as CERIF-XML through the gateway."""
    key = create_api_key(platform, data_dir, "centre", LUCENSE)
    labs = tmp_path / "laboratori.csv"
    header = "Codice;Nome laboratorio;Provincia;Comune\r\n"
    labs.write_bytes((header + "L-E2E;Laboratorio qualità e2e;LU;Lucca\r\n").encode("cp1252"))
    done = run_clock(platform, "catalog", "import", str(labs), "--publish", key=key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 created" in done.stdout
    equipment = tmp_path / "strumenti.csv"
    rows = ["Codice;Laboratorio;Nome;Anno;Tariffa oraria (€/h)"]
    rows += [f"S-{n};L-E2E;Microscopio e2e n. {n};20{n:02d};85,50" for n in range(1, 6)]
    rows.append("S-9;L-E2E;Microscopio rotto;mille;85,50")
    equipment.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1252"))
    dry = run_clock(platform, "catalog", "import", str(equipment), "--dry-run", key=key)
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert "dry run of equipment" in dry.stdout and "5 created" in dry.stdout
    assert "row 7, column 'Anno' ('mille')" in dry.stdout
    equipment.write_bytes(("\r\n".join(rows[:-1]) + "\r\n").encode("cp1252"))
    imported = run_clock(platform, "catalog", "import", str(equipment), "--json", key=key)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    job = json.loads(imported.stdout)
    assert (job["status"], job["created"], job["rows_failed"]) == ("completed", 5, 0)

    with gateway_client(platform) as anonymous:
        cerif = anonymous.get(
            "/api/v1/catalog/exports", params={"format": "cerif", "centre": LUCENSE}
        )
    assert cerif.status_code == 200 and cerif.headers["content-type"].startswith("application/xml")
    assert cerif.content.count(b"Microscopio e2e") == 5
