"""`clock cluster --check`, short: three NATS nodes, PostgreSQL, two replicas of each service
and two gateways; the workload goes through both gateways while one NATS node and the replica
of each service that holds its leases are killed.

Checked: no request failed for good (those a client retries succeeded on retry); every event
published once and applied once across replicas (no relay double-publishes, the durable
consumers are shared); the report at period close and the membership expiries happened once;
reporting's totals equal the sources of truth.
"""

from __future__ import annotations

import os

import pytest

from clock_cli.chaos import run_round
from clock_cli.cluster import check_options

pytestmark = pytest.mark.slow

POSTGRES_URL = os.environ.get("CLOCK_CLUSTER_POSTGRES_URL") or os.environ.get(
    "CLOCK_TEST_POSTGRES_URL"
)


@pytest.mark.skipif(
    POSTGRES_URL is None, reason="CLOCK_CLUSTER_POSTGRES_URL (or CLOCK_TEST_POSTGRES_URL) unset"
)
def test_the_cluster_loses_nothing_when_a_nats_node_and_a_replica_of_each_service_die() -> None:
    assert POSTGRES_URL is not None
    result = run_round(check_options(events=500, postgres_url=POSTGRES_URL, seed=20261126))

    replicas_killed = [f["target"] for f in result.faults if f["kind"] == "replica"]
    assert sorted(name.rsplit("-", 1)[0] for name in replicas_killed) == [
        "catalog",
        "matching",
        "membership",
        "reporting",
    ], result.faults
    assert [f["kind"] for f in result.faults].count("nats") == 1

    events = result.events
    assert events, result.problems
    assert events["attempted"] >= 500
    assert events["attempted"] == events["acknowledged"] == events["in_stream"]
    for finding in ("lost", "duplicated", "unexpected", "dead_lettered"):
        assert events[finding]["count"] == 0, (finding, events[finding], result.data_dir)
    assert events["read"]["reporting"] == events["attempted"]

    operations = result.operations
    assert operations["failed"] == 0 and operations["reads_failed"] == 0, operations
    assert operations["server_errors"] == 0
    for finding in ("lost", "duplicated", "unexpected"):
        assert operations[finding]["count"] == 0, operations[finding]

    assert result.periodic["report_problems"] == [], result.periodic
    assert result.periodic["expiry_problems"] == [], result.periodic
    assert result.periodic["expired"] == 3
    assert result.kpis["mismatches"] == [], result.kpis
    assert result.problems == [], result.problems
