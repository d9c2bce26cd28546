"""Catalogue import and export at service level, on SQLite and PostgreSQL.

The issue's scenario: a spreadsheet of 200 equipment items in Windows-1252 with `;` separators
and Italian column names is imported in a dry run with the right errors reported, fixed,
imported for real, imported again with no change, and exported to CERIF-XML that validates;
the exported CSV imports again unchanged. Then the bad inputs, and a job taken over after its
worker stopped.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import xmlschema
from sqlalchemy import func, select, update

from kernel.principal import Role
from services.catalog.models import Equipment, ImportJob
from tests.conftest import eventually
from tests.integration.catalog.conftest import (
    COSVIG,
    CPTM,
    LUCENSE,
    REGION,
    START,
    UNKNOWN_CENTRE,
    Catalog,
    as_,
    centre,
)

CERIF_XSD = Path(__file__).parents[3] / "services/catalog/data/cerif/clock-cerif-export.xsd"
LAB_HEADER = "Codice;Nome laboratorio;Descrizione;Provincia;Comune;Accreditamenti;E-mail"
EQUIPMENT_HEADER = (
    "Codice;Laboratorio;Nome;Descrizione;Produttore;Modello;Anno;Condivisibile;"
    "Tariffa oraria (€/h);Codice ATECO"
)
ANYONE = as_(Role.ANONYMOUS)
PLACES = [("LU", "Lucca"), ("LU", "Capannori"), ("PI", "Pontedera")]


def cp1252(lines: Sequence[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def labs_file() -> bytes:
    rows = [LAB_HEADER]
    for n, (province, municipality) in enumerate(PLACES, start=1):
        rows.append(
            f"LAB-{n};Laboratorio prove n. {n} \u2013 qualità;Prove su carta, cartone e"
            f" imballaggi;{province};{municipality};ISO 17025 | Accredia;lab{n}@lucense.it"
        )
    return cp1252(rows)


def equipment_row(n: int, **changes: str) -> str:
    cells = {
        "code": f"EQ-{n:04d}",
        "lab": f"LAB-{n % 3 + 1}",
        "name": f"Spettrometro n. {n} \u2013 più preciso",
        "description": '"Misure di polifenoli; qualità dell\'olio, è condiviso"',
        "maker": "Agilent",
        "model": f"M-{n}",
        "year": str(2000 + n % 25),
        "shareable": "sì" if n % 2 else "no",
        "tariff": f"{80 + n % 7},50",
        "ateco": "71.20" if n % 2 else "Collaudi e analisi tecniche",
    }
    cells.update(changes)
    return ";".join(cells.values())


ERRORS = {
    7: {"year": "duemila"},
    31: {"ateco": "99.99"},
    64: {"tariff": "-5"},
    99: {"name": ""},
    150: {"lab": "LAB-X"},
}


def equipment_file(*, broken: bool, renamed: int | None = None) -> bytes:
    rows = [EQUIPMENT_HEADER]
    for n in range(1, 201):
        changes = ERRORS.get(n, {}) if broken else {}
        if n == renamed:
            changes = {"name": "Spettrometro rinominato"}
        rows.append(equipment_row(n, **changes))
    return cp1252(rows)


async def submit(
    client: httpx.AsyncClient,
    content: bytes,
    *,
    entity: str,
    headers: dict[str, str],
    filename: str = "catalogo.csv",
    **form: Any,
) -> httpx.Response:
    data = {
        "entity": entity,
        **{k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()},
    }
    return await client.post(
        "/imports",
        files={"file": (filename, content, "text/csv")},
        data=data,
        headers=headers,
    )


async def imported(
    client: httpx.AsyncClient, response: httpx.Response, headers: dict[str, str]
) -> dict[str, Any]:
    """The job of a 202, once it has ended."""
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    assert location == f"imports/{response.json()['id']}"
    result: dict[str, Any] = {}

    async def ended() -> bool:
        nonlocal result
        result = (await client.get(f"/{location}", headers=headers)).json()
        return result["status"] in ("completed", "failed")

    await eventually(ended, timeout=120)
    return result


async def count_equipment(svc: Catalog) -> int:
    async with svc.engine.connect() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(Equipment))).scalar_one()
        )


async def test_a_centres_spreadsheet_in_windows_1252_dry_run_fix_import_reimport_export(
    members: Catalog,
) -> None:
    svc, client, lucense = members, members.client, centre(LUCENSE)

    labs = await imported(
        client,
        await submit(client, labs_file(), entity="lab", headers=lucense, publish=True),
        lucense,
    )
    assert labs["status"] == "completed", labs
    assert (labs["created"], labs["rows_failed"]) == (3, 0), labs["errors"]
    assert labs["mapping"]["Nome laboratorio"] == "name_it"

    before = await svc.counts()
    dry = await submit(
        client, equipment_file(broken=True), entity="equipment", headers=lucense, dry_run=True
    )
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["status"] == "validated" and report["dry_run"] is True and report["id"] is None
    assert report["mapping"] == {
        "Codice": "external_id",
        "Laboratorio": "lab",
        "Nome": "name_it",
        "Descrizione": "description_it",
        "Produttore": "manufacturer",
        "Modello": "model",
        "Anno": "year",
        "Condivisibile": "shareable",
        "Tariffa oraria (€/h)": "tariff_eur_per_hour",
        "Codice ATECO": "tags_ateco",
    }
    assert (report["rows_total"], report["rows_ok"], report["rows_failed"]) == (200, 195, 5)
    assert report["created"] == 195
    by_row = {e["row"]: e for e in report["errors"]}
    # The header is row 1: item n is on row n + 1.
    assert sorted(by_row) == [n + 1 for n in ERRORS]
    assert by_row[8]["column"] == "Anno" and by_row[8]["value"] == "duemila"
    assert by_row[32]["column"] == "Codice ATECO" and by_row[32]["value"] == "99.99"
    assert by_row[65]["column"] == "Tariffa oraria (€/h)" and by_row[65]["value"] == "-5"
    assert by_row[100]["column"] in ("Nome", None)
    assert by_row[151]["column"] == "Laboratorio" and "LAB-X" in by_row[151]["problem"]
    assert await svc.counts() == before  # a dry run writes nothing

    first = await imported(
        client,
        await submit(client, equipment_file(broken=False), entity="equipment", headers=lucense),
        lucense,
    )
    assert first["status"] == "completed", first
    assert (first["created"], first["updated"], first["unchanged"], first["rows_failed"]) == (
        200,
        0,
        0,
        0,
    ), first["errors"]
    assert await count_equipment(svc) == 200
    stored = (await client.get("/equipment", params={"limit": 5}, headers=lucense)).json()["items"]
    assert all(item["status"] == "published" for item in stored)
    sample = next(i for i in stored if i["name"]["it"].startswith("Spettrometro n. "))
    assert "più preciso" in sample["name"]["it"]
    assert sample["tariff_eur_per_hour"].endswith(".50")
    assert sample["tags"]["ateco"] == ["71.20"]

    outbox = (await svc.counts())["outbox"]
    again = await imported(
        client,
        await submit(client, equipment_file(broken=False), entity="equipment", headers=lucense),
        lucense,
    )
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 200)
    assert (await svc.counts())["outbox"] == outbox  # nothing changed, nothing published

    changed = await imported(
        client,
        await submit(
            client, equipment_file(broken=False, renamed=42), entity="equipment", headers=lucense
        ),
        lucense,
    )
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 199)
    assert (await svc.counts())["outbox"] == outbox + 1

    cerif = await client.get(
        "/exports", params={"format": "cerif", "centre": LUCENSE}, headers=ANYONE
    )
    assert cerif.status_code == 200, cerif.text
    assert cerif.headers["content-type"].startswith("application/xml")
    assert "attachment" in cerif.headers["content-disposition"]
    schema = xmlschema.XMLSchema(str(CERIF_XSD))
    schema.validate(cerif.content)
    assert cerif.content.count(b"<Equipment ") + cerif.content.count(b":Equipment ") == 200
    assert b"Spettrometro rinominato" in cerif.content

    exported = await client.get(
        "/exports",
        params={"format": "csv", "entity": "equipment", "centre": LUCENSE},
        headers=ANYONE,
    )
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    round_trip = await submit(
        client, exported.content, entity="equipment", headers=lucense, dry_run=True
    )
    assert round_trip.status_code == 200, round_trip.text
    assert (round_trip.json()["unchanged"], round_trip.json()["rows_failed"]) == (200, 0), (
        round_trip.json()["errors"][:3]
    )

    workbook = await client.get(
        "/exports", params={"format": "xlsx", "centre": LUCENSE}, headers=ANYONE
    )
    book = openpyxl.load_workbook(io.BytesIO(workbook.content), read_only=True)
    assert {"Laboratori", "Attrezzature"} <= set(book.sheetnames)

    as_json = (
        await client.get("/exports", params={"format": "json", "centre": LUCENSE}, headers=ANYONE)
    ).json()
    assert len(as_json["labs"]) == 3
    assert sum(len(lab["equipment"]) for lab in as_json["labs"]) == 200


async def test_the_mapping_is_saved_for_the_centres_next_file(members: Catalog) -> None:
    client, lucense = members.client, centre(LUCENSE)
    odd = cp1252(["Rif;Denominazione del lab;Prov.;Città;Posta", "X1;Lab uno;LU;Lucca;a@b.it"])
    without = await submit(client, odd, entity="lab", headers=lucense, dry_run=True)
    assert without.status_code == 422  # no column for external_id / name
    mapping = {"Rif": "external_id", "Denominazione del lab": "name_it", "Posta": "contact_email"}
    done = await imported(
        client,
        await submit(client, odd, entity="lab", headers=lucense, mapping=json.dumps(mapping)),
        lucense,
    )
    assert done["created"] == 1 and done["mapping"]["Rif"] == "external_id"
    again = await submit(client, odd, entity="lab", headers=lucense, dry_run=True)
    assert again.status_code == 200, again.text
    assert again.json()["unchanged"] == 1


async def test_bad_imports_get_clear_errors_and_change_nothing(members: Catalog) -> None:
    svc, client, lucense = members, members.client, centre(LUCENSE)
    before = await svc.counts()
    good = labs_file()
    cases: list[tuple[httpx.Response, int, str]] = [
        (await submit(client, good, entity="lab", headers=as_(Role.ANONYMOUS)), 403, ""),
        (
            await submit(client, good, entity="lab", headers=centre(CPTM), centre_id=LUCENSE),
            403,
            "",
        ),
        (await submit(client, good, entity="lab", headers=as_(Role.FIRM, "f1")), 403, ""),
        (await submit(client, good, entity="lab", headers=REGION), 422, "centre_id"),
        (
            await submit(client, good, entity="lab", headers=REGION, centre_id=UNKNOWN_CENTRE),
            422,
            "member",
        ),
        (await submit(client, good, entity="lab", headers=centre(COSVIG)), 409, "member"),
        (await submit(client, b"", entity="lab", headers=lucense), 422, "file"),
        (
            await submit(
                client, b"%PDF-1.7\n\x00\x01binary", entity="lab", headers=lucense, filename="a.pdf"
            ),
            422,
            "file",
        ),
        (
            await submit(client, good, entity="lab", headers=lucense, mapping="{not json"),
            422,
            "mapping",
        ),
        (
            await submit(
                client, good, entity="lab", headers=lucense, mapping='{"Codice": "colour"}'
            ),
            422,
            "colour",
        ),
        (
            await submit(
                client, good, entity="lab", headers=lucense, mapping='{"Nope": "name_it"}'
            ),
            422,
            "Nope",
        ),
        (await submit(client, good, entity="lamp", headers=lucense), 422, "entity"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, (status, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert words in response.text
    too_big = await client.post(
        "/imports",
        files={"file": ("big.csv", b"x" * (21 * 1024 * 1024), "text/csv")},
        data={"entity": "lab"},
        headers=lucense,
    )
    assert too_big.status_code == 413
    missing = await client.get("/imports/01900000-0000-7000-8000-000000000000", headers=lucense)
    assert missing.status_code == 404
    assert await svc.counts() == before


async def test_a_region_import_for_a_centre_and_its_visibility(members: Catalog) -> None:
    client = members.client
    job = await imported(
        client,
        await submit(client, labs_file(), entity="lab", headers=REGION, centre_id=LUCENSE),
        REGION,
    )
    assert job["centre_id"] == LUCENSE and job["created"] == 3
    assert (await client.get(f"/imports/{job['id']}", headers=centre(LUCENSE))).status_code == 200
    assert (await client.get(f"/imports/{job['id']}", headers=centre(CPTM))).status_code == 404
    listed = (await client.get("/imports", headers=centre(LUCENSE))).json()["items"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert (await client.get("/imports", headers=centre(CPTM))).json()["items"] == []


async def test_a_job_whose_worker_stopped_is_resumed_by_another_replica(members: Catalog) -> None:
    svc, client, lucense = members, members.client, centre(LUCENSE)
    await imported(
        client, await submit(client, labs_file(), entity="lab", headers=lucense), lucense
    )
    content = equipment_file(broken=False)
    job = await imported(
        client, await submit(client, content, entity="equipment", headers=lucense), lucense
    )
    # As if a replica had died after committing the first 150 rows of a second run.
    async with svc.engine.begin() as connection:
        await connection.execute(
            update(ImportJob)
            .where(ImportJob.id == job["id"])
            .values(
                status="running",
                content=content,
                next_row=150,
                rows_ok=150,
                created=0,
                updated=0,
                unchanged=150,
                claimed_by="dead-replica",
                heartbeat_at=START - timedelta(minutes=5),
                finished_at=None,
            )
        )
    async with svc.app() as other:
        resumed = await imported(
            other,
            httpx.Response(202, json=job, headers={"Location": f"imports/{job['id']}"}),
            lucense,
        )
    assert resumed["status"] == "completed"
    assert (resumed["rows_ok"], resumed["unchanged"]) == (200, 200)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "cerif"])
async def test_exports_of_an_empty_or_unknown_centre(members: Catalog, fmt: str) -> None:
    response = await members.client.get(
        "/exports", params={"format": fmt, "centre": CPTM}, headers=ANYONE
    )
    assert response.status_code == 200, response.text
    bad = await members.client.get("/exports", params={"format": "pdf"}, headers=ANYONE)
    assert bad.status_code == 422


async def test_a_row_that_fails_while_applied_is_left_out_alone(members: Catalog) -> None:
    """The chunk is first applied at once; a row that fails there (its lab is unknown) sends
    the chunk through a savepoint per row: the others land, with exactly their events."""
    svc, client, lucense = members, members.client, centre(LUCENSE)
    await imported(
        client,
        await submit(client, labs_file(), entity="lab", headers=lucense, publish=True),
        lucense,
    )
    before = (await svc.counts())["outbox"]
    rows = [EQUIPMENT_HEADER, *(equipment_row(n) for n in range(1, 10))]
    rows.append(equipment_row(10, lab="LAB-NONE"))
    job = await imported(
        client, await submit(client, cp1252(rows), entity="equipment", headers=lucense), lucense
    )
    assert (job["status"], job["created"], job["rows_failed"]) == ("completed", 9, 1)
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(11, "Laboratorio")]
    assert await count_equipment(svc) == 9
    assert (await svc.counts())["outbox"] == before + 9


async def test_a_job_that_cannot_run_ends_failed_instead_of_retrying_for_ever(
    members: Catalog,
) -> None:
    svc, client, lucense = members, members.client, centre(LUCENSE)
    job = await imported(
        client, await submit(client, labs_file(), entity="lab", headers=lucense), lucense
    )
    # A stored mapping naming a column the file lacks (as a broken store would have it).
    async with svc.engine.begin() as connection:
        await connection.execute(
            update(ImportJob)
            .where(ImportJob.id == job["id"])
            .values(
                status="queued", content=labs_file(), mapping={"Nope": "name_it"}, finished_at=None
            )
        )
    async with svc.app(import_poll_interval=0.05) as other:
        failed = await imported(
            other,
            httpx.Response(202, json=job, headers={"Location": f"imports/{job['id']}"}),
            lucense,
        )
    assert failed["status"] == "failed"
    assert "internal error" in failed["errors"][-1]["problem"]
