"""Benchmark of the matching service over a large synthetic catalogue (not a test).

`bench()` builds a SQLite database with `entries` synthetic catalogue entries (default
100,000), starts a real nats-server and the matching app in this process, and measures:

1. the first load of the index into memory (once per process);
2. `GET /demands/{id}/matches?limit=10` through the app's HTTP stack (signed principal, the
   database reads, the embedding of the demand, ranking and explanations): p50 and p99 over
   `queries` requests, cycling over demands of the evaluation set;
3. from a catalogue event published on CLOCK_CATALOG to the entry being in the index the next
   query ranks with (the real consumer: parse, analyse, embed, write, commit; then the
   process's refresh): p50 and p99 over `events` events.

Synthetic entries: the 160 entries of the evaluation catalogue with their real vectors, and
the rest made of words drawn (Zipf-like) from that catalogue's vocabulary, in Italian or English,
with random unit vectors: ranking costs the same whatever the vectors hold, and computing
100,000 real vectors would take minutes without changing the figures measured.

The lead wires it into `make bench`; `python -m services.matching.bench [entries]` runs it.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import insert

from kernel.contracts import catalog
from kernel.db import create_engine
from kernel.events import registry, subject_of
from kernel.migrations import upgrade
from kernel.principal import PRINCIPAL_HEADER, Principal, Role, sign
from services.matching import text
from services.matching.app import MIGRATIONS, create_app
from services.matching.documents import entry_document
from services.matching.embedding import default_embedder, to_bytes
from services.matching.evaluate import EVALUATION
from services.matching.models import CatalogEntry, IndexState
from services.matching.settings import MatchingSettings

SECRET = "bench-secret"
PROVINCES = [("FI", "Firenze"), ("PO", "Prato"), ("LU", "Lucca"), ("PI", "Pisa"),
             ("SI", "Siena"), ("LI", "Livorno"), ("MS", "Carrara"), ("AR", "Arezzo"),
             ("GR", "Grosseto"), ("PT", "Pistoia")]  # fmt: skip


@dataclass
class BenchReport:
    entries: int
    load_seconds: float
    match_ms: list[float]
    matchable_ms: list[float]

    @staticmethod
    def _p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def text(self) -> str:
        m, e = self.match_ms, self.matchable_ms
        return (
            f"catalogue entries: {self.entries:,}\n"
            f"first load of the index into memory: {self.load_seconds:.1f} s\n"
            f"matches (top 10, through HTTP), {len(m)} requests: "
            f"p50 {statistics.median(m):.1f} ms, p99 {self._p(m, 0.99):.1f} ms "
            f"(target p99 <= 50 ms)\n"
            f"catalogue event to matchable, {len(e)} events: "
            f"p50 {statistics.median(e):.0f} ms, p99 {self._p(e, 0.99):.0f} ms "
            f"(target <= 1000 ms)"
        )


def _documents() -> list[dict[str, Any]]:
    catalogue = json.loads((EVALUATION / "catalogue.json").read_text(encoding="utf-8"))
    found = []
    for lab in catalogue["labs"]:
        base = {"lab_id": lab["id"], "centre_id": lab["centre"], "province": lab["province"],
                "municipality": lab["municipality"]}  # fmt: skip
        found.append(base | {"id": lab["id"], "entity": "lab", "title": lab["name"],
                             "description": lab["description"], "tags": lab["tags"]})  # fmt: skip
        for item in lab["entries"]:
            found.append(base | {"id": item["id"], "entity": item["entity"],
                                 "title": item["title"], "description": item["description"],
                                 "tags": item["tags"], "trl": (item.get("trl_min"),
                                                               item.get("trl_max")),
                                 "shareable": item.get("shareable")})  # fmt: skip
    return found


def _row(
    document: Any, vector: Any, seq: int, now: datetime, source: dict[str, Any]
) -> dict[str, Any]:
    entry = document.entry
    return {
        "id": entry.id, "entity": entry.entity, "lab_id": entry.lab_id,
        "centre_id": entry.centre_id, "status": "published", "lab_published": True,
        "centre_active": True, "visible": True, "title": dict(entry.title),
        "description": source.get("description") or {}, "lab_name": {}, "tags": source["tags"],
        "keywords": [], "details": {}, "trl_min": entry.trl_min, "trl_max": entry.trl_max,
        "province": source["province"], "municipality": source["municipality"],
        "shareable": entry.shareable, "languages": sorted(entry.languages),
        "terms": dict(entry.terms), "forms": {}, "embedding": to_bytes(vector),
        "embedding_model": "use-multilingual-v3", "change_seq": seq, "catalog_version": 1,
        "updated_at": now,
    }  # fmt: skip


async def fill(database_url: str, entries: int, seed: int = 7) -> None:
    """Insert `entries` synthetic catalogue entries into a migrated, empty matching database
    (also used by `clock bench` to prefill the platform's matching service)."""
    embedder = default_embedder()
    real = _documents()
    documents = [
        entry_document(
            entry_id=d["id"], entity=d["entity"], lab_id=d["lab_id"], centre_id=d["centre_id"],
            title=d["title"], description=d["description"], tags=d["tags"],
            trl_min=(d.get("trl") or (None, None))[0], trl_max=(d.get("trl") or (None, None))[1],
            province=d["province"], municipality=d["municipality"], shareable=d.get("shareable"),
        )
        for d in real
    ]  # fmt: skip
    vectors = embedder.encode([d.text for d in documents])
    vocabulary = sorted({w for d in documents for w in text.words(d.text) if len(w) > 2})
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    weights /= weights.sum()
    now = datetime.now(UTC)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            batch = [_row(d, v, 1, now, s) for d, v, s in zip(documents, vectors, real,
                                                               strict=True)]  # fmt: skip
            for n in range(entries - len(documents)):
                words = rng.choice(len(vocabulary), size=int(rng.integers(12, 40)), p=weights)
                language = "it" if n % 2 else "en"
                title = " ".join(vocabulary[i] for i in words[:6])
                body = " ".join(vocabulary[i] for i in words[6:])
                province, municipality = PROVINCES[n % len(PROVINCES)]
                trl = int(rng.integers(1, 7))
                document = entry_document(
                    entry_id=f"S{n:07d}", entity="competence", lab_id=f"SL{n // 4:06d}",
                    centre_id=f"SC{n % 12:02d}", title={language: title},
                    description={language: body}, tags={"ateco": [f"{10 + n % 23}"]},
                    trl_min=trl, trl_max=trl + 3, province=province, municipality=municipality,
                )  # fmt: skip
                vector = rng.standard_normal(embedder.dimension).astype(np.float32)
                vector /= np.linalg.norm(vector)
                source = {"description": {language: body}, "tags": {"ateco": [f"{10 + n % 23}"]},
                          "province": province, "municipality": municipality}  # fmt: skip
                batch.append(_row(document, vector, 1, now, source))
                if len(batch) >= 5000:
                    await connection.execute(insert(CatalogEntry), batch)
                    batch = []
            if batch:
                await connection.execute(insert(CatalogEntry), batch)
            await connection.execute(
                insert(IndexState).values(
                    id=1, epoch=str(uuid.uuid4()), generation=1, updated_at=now
                )
            )
    finally:
        await engine.dispose()


def _headers(role: Role, org_id: str | None = None) -> dict[str, str]:
    return {PRINCIPAL_HEADER: sign(Principal(role=role, org_id=org_id), SECRET)}


async def _run(directory: Path, entries: int, queries: int, events: int) -> BenchReport:
    from clock_cli.nats_server import NatsServer

    database_url = f"sqlite+aiosqlite:///{directory / 'matching.db'}"
    upgrade(MIGRATIONS, database_url)
    started = time.perf_counter()
    await fill(database_url, entries)
    print(f"filled {entries:,} entries in {time.perf_counter() - started:.0f} s", flush=True)
    server = NatsServer(directory / "nats", log_file=directory / "nats.log")
    server.start()
    try:
        settings = MatchingSettings(
            database_url=database_url, nats_url=server.url, principal_secret=SECRET,
            data_dir=directory, warm_model=False,
        )  # fmt: skip
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            await app.state.runtime.bus.wait_ready(30)
            ranker = app.state.ranker
            started = time.perf_counter()
            await ranker.for_request()
            load_seconds = time.perf_counter() - started
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
                match_ms = await _matches(client, queries)
                matchable_ms = await _matchable(server.url, ranker, events)
    finally:
        server.stop()
    return BenchReport(entries, load_seconds, match_ms, matchable_ms)


async def _matches(client: httpx.AsyncClient, queries: int) -> list[float]:
    region = _headers(Role.REGION)
    firm = await client.post(
        "/firms",
        json={"name": "Bench", "vat_number": "00743110157", "ateco_code": "13.20",
              "employees": 20, "province": "PO", "municipality": "Prato"},
        headers=region,
    )  # fmt: skip
    firm.raise_for_status()
    firm_id = firm.json()["id"]
    raw = json.loads((EVALUATION / "demands.json").read_text(encoding="utf-8"))["demands"]
    demand_ids = []
    for item in raw[:20]:
        response = await client.post(
            "/demands",
            json={"firm_id": firm_id, "title": item["title"], "description": item["description"],
                  "needs": [{"text": n["text"]} for n in item["needs"]]},
            headers=region,
        )  # fmt: skip
        response.raise_for_status()
        demand_ids.append(response.json()["id"])
    timings = []
    for n in range(queries + 10):
        demand_id = demand_ids[n % len(demand_ids)]
        started = time.perf_counter()
        response = await client.get(
            f"/demands/{demand_id}/matches?limit=10", headers=_headers(Role.REGION)
        )
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        if n >= 10:  # the first rounds warm caches
            timings.append(elapsed)
    return timings


async def _matchable(nats_url: str, ranker: Any, events: int) -> list[float]:
    import nats

    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    timings = []
    try:
        for n in range(events):
            lab_id, entry_id = str(uuid.uuid4()), str(uuid.uuid4())
            data = catalog.CompetencePublished(
                lab_id=lab_id, centre_id="SC00", lab_name=catalog.Text(it="Lab"),
                province="PI", municipality="Pisa", status="published", tags=catalog.Tags(),
                actor=catalog.Actor(role="system"), competence_id=entry_id,
                title=catalog.Text(it=f"Tracciabilità RFID {n} dei pallet"),
                description=catalog.Text(it="Portali RFID UHF per il magazzino."),
                trl_min=4, trl_max=7, keywords=["rfid"],
            )  # fmt: skip
            envelope = registry.build(data, subject=entry_id, aggregate_version=1)
            started = time.perf_counter()
            await js.publish(
                subject_of(envelope.type),
                envelope.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(envelope.id)},
            )
            while entry_id not in (await ranker.for_request()).index:
                if time.perf_counter() - started > 30:
                    raise TimeoutError("entry never became matchable")
                await asyncio.sleep(0.005)
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        await connection.close()
    return timings


def bench(entries: int = 100_000, *, queries: int = 300, events: int = 30) -> BenchReport:
    """Run the benchmark in a temporary folder; prints and returns the figures."""
    with tempfile.TemporaryDirectory(prefix="clock-matching-bench-") as folder:
        report = asyncio.run(_run(Path(folder), entries, queries, events))
    print(report.text())
    return report


if __name__ == "__main__":
    bench(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
