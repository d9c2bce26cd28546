"""Benchmark of catalogue imports (not a test): `clock catalog bench [--rows N]`.

The catalog app in this process on a fresh database (SQLite in a temporary folder, or
PostgreSQL when `CLOCK_BENCH_POSTGRES_URL` is set) and a real nats-server; an active member
centre; 20 labs imported and published; then a spreadsheet of `rows` equipment items (default
10,000; Windows-1252, `;`, Italian headers, decimal commas, ATECO codes and labels), as a centre
exports it from its own records. Measured, wall clock from the upload to the job's end:

1. the dry run (read, map, convert, validate, look every identifier up: the baseline);
2. the first import (every row created and published: events, search index, duplicates);
3. the same file again (every row found unchanged).

The dry runs and re-imports are repeated (`runs`) and their medians reported; the first import
happens once. The target: 10,000 rows in under 30 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from kernel.db import create_engine, create_sessionmaker
from kernel.events import now_utc
from kernel.migrations import upgrade
from kernel.principal import PRINCIPAL_HEADER, Principal, Role, sign
from services.catalog.app import MIGRATIONS, create_app
from services.catalog.models import Member
from services.catalog.settings import CatalogSettings

SECRET = "bench-secret"
CENTRE = "01900000-0000-7000-8000-0000000be7c4"
TARGET_SECONDS = 30.0
LABS = 20
PLACES = (("LU", "Lucca"), ("PI", "Pontedera"), ("FI", "Firenze"), ("SI", "Siena"))
ITEMS = (
    "Spettrometro di massa",
    "Microscopio elettronico a scansione",
    "Cromatografo HPLC",
    "Diffrattometro a raggi X",
    "Camera climatica",
    "Macchina di prova universale",
    "Stampante 3D a filamento",
    "Analizzatore di superficie",
)


def labs_file() -> bytes:
    lines = ["Codice;Nome laboratorio;Descrizione;Provincia;Comune"]
    for n in range(1, LABS + 1):
        province, municipality = PLACES[n % len(PLACES)]
        lines.append(
            f"LAB-{n:02d};Laboratorio {n} qualità e prove;Prove e analisi per le imprese;"
            f"{province};{municipality}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def equipment_file(rows: int) -> bytes:
    lines = [
        "Codice;Laboratorio;Nome;Descrizione;Produttore;Modello;Anno;Condivisibile;"
        "Tariffa oraria (€/h);Codice ATECO"
    ]
    for n in range(1, rows + 1):
        item = ITEMS[n % len(ITEMS)]
        ateco = "71.20" if n % 2 else "Collaudi e analisi tecniche"
        lines.append(
            f"EQ-{n:05d};LAB-{n % LABS + 1:02d};{item} n. {n};Strumento per prove e misure "
            f"di qualità, matricola {n};Costruttore {n % 13};Modello {n % 97};{1990 + n % 35};"
            f"{'sì' if n % 2 else 'no'};{40 + n % 60},50;{ateco}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def _headers() -> dict[str, str]:
    principal = Principal(role=Role.CENTRE, org_id=CENTRE, key_id="bench")
    return {PRINCIPAL_HEADER: sign(principal, SECRET)}


async def _upload(
    client: httpx.AsyncClient, content: bytes, entity: str, **form: str
) -> tuple[float, dict[str, Any]]:
    """Seconds from the upload to the end of the job (or the dry run's answer), and the job."""
    started = time.perf_counter()
    response = await client.post(
        "/imports",
        files={"file": (f"{entity}.csv", content, "text/csv")},
        data={"entity": entity, **form},
        headers=_headers(),
    )
    if response.status_code not in (200, 202):
        raise RuntimeError(f"import refused: {response.status_code} {response.text[:500]}")
    job: dict[str, Any] = response.json()
    deadline = started + 600
    while job["status"] in ("queued", "running"):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"import still {job['status']} after 600 s: {job}")
        await asyncio.sleep(0.05)
        job = (await client.get(f"/imports/{job['id']}", headers=_headers())).json()
    elapsed = time.perf_counter() - started
    if job["status"] not in ("validated", "completed") or job["rows_failed"]:
        raise RuntimeError(f"import did not succeed: {json.dumps(job)[:1000]}")
    return elapsed, job


async def _run(
    database_url: str, folder: Path, nats_url: str, rows: int, runs: int
) -> dict[str, Any]:
    upgrade(MIGRATIONS, database_url)
    engine = create_engine(database_url)
    async with create_sessionmaker(engine)() as session:
        session.add(
            Member(
                organisation_id=CENTRE,
                name="Centro di prova",
                acronym="BENCH",
                province="LU",
                role="centre",
                status="active",
                updated_at=datetime.now(UTC),
            )
        )
        await session.commit()
    await engine.dispose()
    settings = CatalogSettings(
        database_url=database_url,
        nats_url=nats_url,
        principal_secret=SECRET,
        data_dir=folder,
        demo_data=False,
        import_poll_interval=0.2,
        log_json=False,
        log_level="WARNING",
    )
    app = create_app(settings, clock=now_utc)
    content = equipment_file(rows)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://catalog", timeout=600
        ) as client:
            await _upload(client, labs_file(), "lab", publish="true")
            dry = [(await _upload(client, content, "equipment", dry_run="true"))[0]]
            first, job = await _upload(client, content, "equipment")
            if job["created"] != rows:
                raise RuntimeError(f"expected {rows} created: {job}")
            for _ in range(runs - 1):
                dry.append((await _upload(client, content, "equipment", dry_run="true"))[0])
            again = []
            for _ in range(runs):
                seconds, repeat = await _upload(client, content, "equipment")
                if repeat["unchanged"] != rows:
                    raise RuntimeError(f"expected {rows} unchanged: {repeat}")
                again.append(seconds)
    dry_median, again_median = statistics.median(dry), statistics.median(again)
    return {
        "rows": rows,
        "file_bytes": len(content),
        "runs": runs,
        "dry_run_s": round(dry_median, 2),
        "first_import_s": round(first, 2),
        "first_import_rows_per_s": round(rows / first),
        "reimport_unchanged_s": round(again_median, 2),
        "first_import_vs_dry_run": round(first / dry_median, 2),
        "reimport_vs_dry_run": round(again_median / dry_median, 2),
        "target_s": TARGET_SECONDS,
        "met": first <= TARGET_SECONDS * rows / 10_000,
    }


def bench(rows: int = 10_000, *, runs: int = 3, output: Path | None = None) -> dict[str, Any]:
    from clock_cli import postgres
    from clock_cli.nats_server import NatsServer

    with tempfile.TemporaryDirectory(prefix="clock-catalog-bench-") as directory:
        folder = Path(directory)
        admin = os.environ.get("CLOCK_BENCH_POSTGRES_URL")
        database = f"clock_bench_catalog_{uuid.uuid4().hex[:8]}"
        if admin:
            postgres.create_databases(admin, [database])
            database_url = postgres.with_database(admin, database)
        else:
            database_url = f"sqlite:///{folder / 'catalog.db'}"
        server = NatsServer(folder / "nats", log_file=folder / "nats.log")
        server.start()
        try:
            figures = asyncio.run(_run(database_url, folder, server.url, rows, runs))
        finally:
            server.stop()
            if admin:
                postgres.drop_databases(admin, [database])
    figures["database"] = "postgresql" if admin else "sqlite"
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(
        f"catalogue import of {rows} equipment rows ({figures['database']}, "
        f"{figures['file_bytes'] / 1e6:.1f} MB, medians of {runs}):\n"
        f"  dry run (baseline)      {figures['dry_run_s']:7.2f} s\n"
        f"  first import            {figures['first_import_s']:7.2f} s  "
        f"({figures['first_import_rows_per_s']} rows/s, {figures['first_import_vs_dry_run']}x "
        f"the dry run; target <= {TARGET_SECONDS:.0f} s per 10,000 rows: "
        f"{'met' if figures['met'] else 'missed'})\n"
        f"  same file again         {figures['reimport_unchanged_s']:7.2f} s  "
        f"({figures['reimport_vs_dry_run']}x the dry run)"
    )
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(figures, indent=2) + "\n")
    return figures
