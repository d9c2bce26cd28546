"""`clock chaos`, one short round: the whole platform under every kind of fault loses no event,
duplicates none, reads none it never sent, and reporting's totals equal the sources of truth.

And the one known way a retried request has two effects (see the README's fault injection
section): the service dies after its commit, before its answer; the gateway forgets the
Idempotency-Key of a request that got no answer, so the retry runs again.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from clock_cli.chaos import FaultKind, RoundOptions, run_round
from clock_cli.chaos.supervisor import Supervisor

pytestmark = pytest.mark.slow


def test_a_short_round_under_every_kind_of_fault_loses_and_duplicates_nothing() -> None:
    options = RoundOptions(
        events=500,
        faults=(
            FaultKind.NATS,
            FaultKind.SERVICE,
            FaultKind.CONSUMER,
            FaultKind.PAUSE,
            FaultKind.KILL,
        ),
        clients=4,
        seed=20260101,
    )
    result = run_round(options)

    assert {f["kind"] for f in result.faults} == {k.value for k in options.faults}
    events = result.events
    assert events, result.problems
    assert events["attempted"] >= options.events
    assert events["attempted"] == events["acknowledged"] == events["in_stream"]
    for finding in ("lost", "duplicated", "unexpected", "dead_lettered"):
        assert events[finding]["count"] == 0, (finding, events[finding], result.data_dir)
    assert events["read"]["reporting"] == events["attempted"]

    operations = result.operations
    assert operations["lost"]["count"] == 0, operations["lost"]
    assert operations["unexpected"]["count"] == 0, operations["unexpected"]
    # A retry of unknown outcome is one effect too (the services keep the keys).
    assert operations["duplicated"]["count"] == 0, operations["duplicated"]
    assert operations["server_errors"] == 0

    assert result.kpis["mismatches"] == [], result.kpis
    assert not result.lag_after_catch_up
    recoveries = [r["seconds"] for r in result.recovery_s if not r["mixed"]]
    assert recoveries and all(s is not None and s <= 5.0 for s in recoveries), result.recovery_s
    assert result.problems == [], result.problems


def test_a_request_retried_after_the_service_died_past_its_commit_is_one_effect(
    tmp_path: Path,
) -> None:
    supervisor = Supervisor(tmp_path)
    supervisor.prepare()
    keys = supervisor.migrate_and_create_keys()
    supervisor.start_all()
    try:
        region = httpx.Client(
            base_url=supervisor.gateway_url,
            headers={"Authorization": f"Bearer {keys.region}"},
            timeout=60,
        )
        firm = region.post(
            "/api/v1/matching/firms",
            json={
                "name": "Frantoio di prova",
                "vat_number": "07654320048",
                "ateco_code": "10.41",
                "employees": 8,
                "province": "GR",
                "municipality": "Scansano",
            },
        )
        assert firm.status_code == 201, firm.text
        # Matching dies right after the commit of the demand, before answering.
        supervisor.kill("matching")
        supervisor.start("matching", faults="commit_before_publish=1.0")
        supervisor.wait_ready("matching")
        marker = f"retried-{uuid.uuid4().hex[:8]}"
        demand = {
            "firm_id": firm.json()["id"],
            "title": f"Analisi HPLC {marker}",
            "description": "Polifenoli dell'olio per il claim salutistico.",
            "needs": [{"text": "Analisi HPLC dei polifenoli dell'olio"}],
        }
        once = {"Idempotency-Key": str(uuid.uuid4())}
        first = region.post("/api/v1/matching/demands", json=demand, headers=once)
        assert first.status_code in (502, 503, 504)
        supervisor.reap()
        supervisor.start("matching")
        supervisor.wait_ready("matching")
        retry = region.post("/api/v1/matching/demands", json=demand, headers=once)
        # The demand was committed once; its answer was lost with the process.
        assert retry.status_code == 409, retry.text
        assert retry.json()["type"].endswith("/already-applied")
        count = supervisor.databases().count(
            "matching", f"SELECT COUNT(*) FROM demands WHERE title LIKE '%{marker}'"
        )
        assert count == 1
    finally:
        supervisor.stop_all()
