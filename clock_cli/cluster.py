"""`clock cluster`: CLOCK as it runs on several machines, on this one, on loopback.

A three-node NATS cluster (three nats-servers with routes, streams replicated three times),
PostgreSQL (a database per component on `CLOCK_CLUSTER_POSTGRES_URL`'s server), two replicas of
each service and two gateways, each gateway knowing every replica. `clock cluster` starts it
afresh and keeps it up until Ctrl-C; `clock cluster --check` runs the workload through both
gateways while it kills one NATS node and the lease-holding replica of each service, then
checks what a multi-machine deployment promises (clock_cli.chaos, replicated round).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from clock_cli import postgres
from clock_cli.chaos import FaultKind, RoundOptions, chaos
from clock_cli.chaos.supervisor import Supervisor
from clock_cli.components import COMPONENTS
from clock_cli.run import until_stopped

PREFIX = "clock_cluster"
REPLICAS = 2
GATEWAYS = 2
CHECK_FAULTS = (FaultKind.NATS, FaultKind.REPLICA)


class ClusterSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    postgres_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        validation_alias="CLOCK_CLUSTER_POSTGRES_URL",
        description="A PostgreSQL server (any database on it, with the right to create "
        "databases): the cluster makes `clock_cluster_<component>` there.",
    )
    data_dir: Path = Field(
        Path("var/cluster"),
        validation_alias="CLOCK_CLUSTER_DATA_DIR",
        description="NATS's storage and every process's log.",
    )


def check_options(*, events: int, postgres_url: str, seed: int | None = None) -> RoundOptions:
    """The round of `clock cluster --check` (and of its test)."""
    return RoundOptions(
        events=events,
        faults=CHECK_FAULTS,
        cluster=True,
        replicas=REPLICAS,
        gateways=GATEWAYS,
        postgres_url=postgres_url,
        clients=4,
        seed=seed,
    )


def check(*, events: int, seed: int | None = None) -> int:
    settings = ClusterSettings()
    return chaos(check_options(events=events, postgres_url=settings.postgres_url, seed=seed))


def serve() -> int:
    """Start the cluster afresh and keep it up until Ctrl-C or SIGTERM."""
    settings = ClusterSettings()
    root = settings.data_dir.resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    supervisor = Supervisor(
        root,
        cluster=True,
        replicas=REPLICAS,
        gateways=GATEWAYS,
        postgres_url=settings.postgres_url,
        database_prefix=PREFIX,
        cluster_name="clock-cluster",
        under_test=False,
    )

    def start_and_watch() -> int:
        # Afresh: the last run's databases would not match NATS's new streams.
        postgres.drop_databases(settings.postgres_url, [f"{PREFIX}_{c}" for c in COMPONENTS])
        supervisor.prepare()
        print(f"clock cluster: logs in {supervisor.log_dir}")
        keys = supervisor.migrate_and_create_keys()
        supervisor.start_all()
        print("clock cluster: NATS nodes at " + supervisor.env["CLOCK_NATS_URL"])
        for component, url in sorted(supervisor.database_urls.items()):
            print(f"clock cluster: {component} database {url}")
        for name in supervisor.service_instances:
            print(f"clock cluster: {name} at http://127.0.0.1:{supervisor.ports[name]}")
        for url in supervisor.gateway_urls:
            print(f"clock cluster: gateway ready at {url}  (API docs: /docs)")
        print("clock cluster: an API key for the region role:")
        print(f"    {keys.region}")
        print("clock cluster: Ctrl-C stops everything")
        sys.stdout.flush()
        while True:
            for death in supervisor.reap():
                print(
                    f"clock cluster: {death.name} exited with code {death.returncode}; "
                    f"see {supervisor.log_dir / (death.name + '.log')}",
                    file=sys.stderr,
                )
                if all(not supervisor.is_running(n) for n in supervisor.gateway_instances):
                    return 1
            time.sleep(0.5)

    return until_stopped("clock cluster", start_and_watch, supervisor.stop_all)
