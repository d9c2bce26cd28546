"""`clock`: run the platform, serve one process, migrate, manage API keys, event catalogue."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from clock_cli.bench.plan import SECTIONS
from clock_cli.components import COMPONENTS, GATEWAY, ROOT

ROLES = ("region", "centre", "firm", "partner")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clock", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("run", help="start nats-server, every service and the gateway")

    serve = commands.add_parser("serve", help="serve one process (production: one per replica)")
    serve.add_argument("component", choices=sorted(COMPONENTS))

    migrate = commands.add_parser("migrate", help="apply Alembic migrations")
    migrate.add_argument("components", nargs="*", metavar="COMPONENT", help=", ".join(COMPONENTS))

    apikey = commands.add_parser("apikey", help="API keys of the gateway")
    keys = apikey.add_subparsers(dest="apikey_command", required=True)
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--org", help="organisation (centre, partner) or firm id it acts for")
    create.add_argument("--name", help="a label: who or what uses it")
    keys.add_parser("list", help="list keys (never their secrets)")
    revoke = keys.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")

    events = commands.add_parser("events", help="the event catalogue")
    event_commands = events.add_subparsers(dest="events_command", required=True)
    asyncapi = event_commands.add_parser("asyncapi", help="write the AsyncAPI 3 document")
    asyncapi.add_argument("--output", type=Path, default=ROOT / "docs" / "asyncapi.yaml")
    asyncapi.add_argument("--check", action="store_true", help="fail if the file is stale")

    reporting = commands.add_parser("reporting", help="the reporting service")
    reporting_commands = reporting.add_subparsers(dest="reporting_command", required=True)
    reporting_commands.add_parser(
        "rebuild", help="replay every stream into the event log (the KPIs follow)"
    )
    report_bench = reporting_commands.add_parser(
        "bench", help="ingest, quarterly report and KPI queries over a synthetic event log"
    )
    report_bench.add_argument("--events", type=int, default=1_000_000)
    report_bench.add_argument("--output", type=Path, default=None, help="JSON figures file")

    matching = commands.add_parser("matching", help="the matching service")
    matching_commands = matching.add_subparsers(dest="matching_command", required=True)
    matching_commands.add_parser(
        "reindex", help="rebuild the matching index by replaying the catalogue and membership"
    )
    matching_commands.add_parser(
        "evaluate", help="nDCG@10 and MRR of BM25, embeddings and the hybrid on the labelled set"
    )
    bench = matching_commands.add_parser("bench", help="matches latency and time to matchable")
    bench.add_argument("--entries", type=int, default=100_000)

    platform_bench = commands.add_parser(
        "bench", help="the whole platform under load: gateway, reads, matching, events, memory"
    )
    platform_bench.add_argument(
        "--quick", action="store_true", help="tiny durations and counts (the CI smoke run)"
    )
    platform_bench.add_argument("--output", type=Path, default=None, help="JSON figures file")
    platform_bench.add_argument(
        "--only", nargs="+", metavar="NAME", default=(), help="some of: " + ", ".join(SECTIONS)
    )

    chaos = commands.add_parser(
        "chaos", help="the platform under faults; check nothing is lost or duplicated"
    )
    chaos.add_argument("--events", type=int, default=10_000, help="events per round, about")
    chaos.add_argument("--rounds", type=int, default=1)
    chaos.add_argument(
        "--faults",
        default="all",
        help="kinds in order, comma-separated: nats, service, consumer, pause, kill, replica, "
        "mixed "
        "(default all: each kind, then mixed)",
    )
    chaos.add_argument("--cluster", action="store_true", help="a three-node NATS cluster, R3")
    chaos.add_argument("--replicas", type=int, default=1, help="processes per service")
    chaos.add_argument("--gateways", type=int, default=1)
    chaos.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="a PostgreSQL server to create the round's databases on (default: SQLite)",
    )
    chaos.add_argument("--clients", type=int, default=6, help="concurrent workload clients")
    chaos.add_argument("--seed", type=int, default=None)
    chaos.add_argument("--keep", action="store_true", help="keep data and logs of passed rounds")
    chaos.add_argument("--output", type=Path, default=None, help="JSON results file")

    catalog = commands.add_parser("catalog", help="the catalogue: import a centre's spreadsheet")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    catalog_import = catalog_commands.add_parser(
        "import",
        help="a CSV or XLSX of labs, competences, equipment or services, through the gateway",
    )
    catalog_import.add_argument("file", type=Path)
    catalog_import.add_argument("--centre", help="the centre's id (default: your key's centre)")
    catalog_import.add_argument(
        "--entity",
        choices=("lab", "competence", "equipment", "service"),
        help="what each row is (default: guessed from the file's name or columns)",
    )
    catalog_import.add_argument(
        "--mapping", type=Path, help='JSON file: {"column header": "field", ...}'
    )
    catalog_import.add_argument("--dry-run", action="store_true", help="report, write nothing")
    catalog_import.add_argument("--publish", action="store_true", help="labs: publish them")
    catalog_import.add_argument(
        "--gateway", default=None, help="the gateway's URL (CLOCK_GATEWAY_URL, else :8000)"
    )
    catalog_import.add_argument("--key", default=None, help="an API key (else CLOCK_API_KEY)")
    catalog_import.add_argument("--json", action="store_true", help="the whole report as JSON")
    catalog_bench = catalog_commands.add_parser(
        "bench", help="import speed: a spreadsheet of equipment, first and again"
    )
    catalog_bench.add_argument("--rows", type=int, default=10_000)
    catalog_bench.add_argument("--runs", type=int, default=3)
    catalog_bench.add_argument("--output", type=Path, default=None, help="JSON figures file")

    cluster = commands.add_parser(
        "cluster",
        help="3 NATS nodes, PostgreSQL, 2 replicas of each service, 2 gateways, on loopback",
    )
    cluster.add_argument(
        "--check",
        action="store_true",
        help="run the workload while one NATS node and a replica of each service are killed, "
        "and check (instead of serving until Ctrl-C)",
    )
    cluster.add_argument("--events", type=int, default=3000, help="events of the check, about")
    cluster.add_argument("--seed", type=int, default=None)

    args = parser.parse_args(argv)
    if args.command == "catalog" and args.catalog_command == "bench":
        from services.catalog.bench import bench as catalog_bench_run

        figures = catalog_bench_run(args.rows, runs=args.runs, output=args.output)
        return 0 if figures["met"] else 1
    if args.command == "catalog":
        from clock_cli import catalog_import as importer

        return importer.run(
            path=args.file,
            centre=args.centre,
            entity=args.entity,
            mapping_file=args.mapping,
            dry_run=args.dry_run,
            publish=args.publish,
            gateway=args.gateway or importer.default_gateway(),
            key=args.key or os.environ.get("CLOCK_API_KEY", ""),
            as_json=args.json,
        )
    if args.command == "cluster":
        from clock_cli import cluster as local_cluster

        if args.check:
            return local_cluster.check(events=args.events, seed=args.seed)
        return local_cluster.serve()
    if args.command == "bench":
        unknown = sorted(set(args.only) - set(SECTIONS))
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
        from clock_cli.bench.runner import bench as platform_bench_run

        try:
            platform_bench_run(quick=args.quick, output=args.output, only=args.only)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: everything it started is stopped
            print("clock bench: interrupted", file=sys.stderr)
            return 130
        return 0
    if args.command == "chaos":
        return chaos_command(args)
    if args.command == "run":
        from clock_cli.run import run

        return run()
    if args.command == "serve":
        return serve_component(args.component)
    if args.command == "migrate":
        unknown = [name for name in args.components if name not in COMPONENTS]
        if unknown:
            parser.error(f"unknown component(s): {', '.join(unknown)}")
        return migrate_components(args.components or list(COMPONENTS))
    if args.command == "apikey":
        return asyncio.run(apikey_command(args))
    if args.command == "matching":
        return matching_command(args)
    if args.command == "reporting":
        if args.reporting_command == "bench":
            from services.reporting.bench import bench as reporting_bench

            reporting_bench(args.events, output=args.output)
            return 0
        return asyncio.run(reporting_rebuild())
    if args.command == "events":
        return events_asyncapi(args.output, check=args.check)
    return 2


def chaos_command(args: Any) -> int:
    from clock_cli.chaos import RoundOptions, chaos, parse_kinds

    options = RoundOptions(
        events=args.events,
        faults=parse_kinds(args.faults),
        cluster=args.cluster,
        clients=args.clients,
        seed=args.seed,
        keep=args.keep,
        replicas=args.replicas,
        gateways=args.gateways,
        postgres_url=args.postgres,
    )
    return chaos(options, rounds=args.rounds, output=args.output)


def uvicorn_options() -> dict[str, Any]:
    """How `clock serve` (and so `clock run`) runs uvicorn, beyond host and port.

    - no `Server` banner (`server_header`); `Date` is kept: clients need it with `Retry-After`;
    - idle keep-alive connections are closed after 5 s (`timeout_keep_alive`);
    - uvloop and httptools: a request line and headers over llhttp's 80 KiB get a 400;
    - on SIGTERM, requests under way get 10 s to finish (`timeout_graceful_shutdown`).

    uvicorn has no timeout for reading request headers: in production the gateway stands
    behind a load balancer or reverse proxy that has one; the gateway bounds the time to read a
    body itself (`CLOCK_GATEWAY_BODY_READ_TIMEOUT`). The client address (rate limits, audit)
    is taken from `X-Forwarded-For` only when the peer is in uvicorn's `FORWARDED_ALLOW_IPS`
    (default 127.0.0.1): set it to the load balancer's address.
    """
    return {
        # libuv's event loop and llhttp's parser: far less CPU per request than asyncio's
        # loop and h11 (docs/benchmarks.md).
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "date_header": True,
        "timeout_keep_alive": 5,
        "timeout_graceful_shutdown": 10,
    }


def serve_component(name: str) -> int:
    import uvicorn

    component = COMPONENTS[name]
    settings = component.settings()
    uvicorn.run(
        component.create_app(settings),
        host=settings.host,
        port=settings.port,
        **uvicorn_options(),
    )
    return 0


def migrate_components(names: list[str]) -> int:
    from kernel.migrations import upgrade

    for name in names:
        component = COMPONENTS[name]
        upgrade(component.migrations, component.settings().sqlalchemy_url)
        print(f"{name}: migrated to head")
    return 0


async def apikey_command(args: Any) -> int:
    from gateway import service
    from kernel.db import create_engine, create_sessionmaker
    from kernel.errors import DomainError
    from kernel.migrations import upgrade
    from kernel.principal import Role

    settings = GATEWAY.settings()
    upgrade(GATEWAY.migrations, settings.sqlalchemy_url)
    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with create_sessionmaker(engine)() as session:
            if args.apikey_command == "create":
                try:
                    key, secret = await service.create_api_key(
                        session, role=Role(args.role), org_id=args.org, name=args.name
                    )
                except DomainError as exc:
                    print(f"clock apikey create: {exc.detail}", file=sys.stderr)
                    for error in exc.errors or []:
                        print(f"  {error.get('field')}: {error.get('message')}", file=sys.stderr)
                    return 2
                await session.commit()
                print(f"id:   {key.id}\nrole: {key.role}\norg:  {key.org_id or '-'}")
                print(f"key:  {secret}\n(shown once: store it now)")
            elif args.apikey_command == "list":
                for key in await service.list_api_keys(session):
                    state = "revoked" if key.revoked_at else "active"
                    used = (
                        key.last_used_at.isoformat(timespec="minutes")
                        if key.last_used_at
                        else "never"
                    )
                    print(
                        f"{key.id}  {key.role:<8} {key.org_id or '-':<36} {state:<7} "
                        f"used {used:<22} {key.name or ''}"
                    )
            else:
                try:
                    key = await service.revoke_api_key(session, key_id=args.key_id)
                except DomainError as exc:
                    print(f"clock apikey revoke: {exc.detail}", file=sys.stderr)
                    return 1
                await session.commit()
                print(f"revoked {key.id}")
    finally:
        await engine.dispose()
    return 0


def matching_command(args: Any) -> int:
    if args.matching_command == "reindex":
        from services.matching.reindex import reindex

        print(asyncio.run(reindex()).text())
    elif args.matching_command == "evaluate":
        from services.matching.evaluate import evaluate

        evaluate()
    else:
        from services.matching.bench import bench

        bench(args.entries)
    return 0


async def reporting_rebuild() -> int:
    from services.reporting.rebuild import rebuild
    from services.reporting.settings import ReportingSettings

    for stats in await rebuild(ReportingSettings()):
        counts = ", ".join(f"{k.value} {v}" for k, v in sorted(stats.counts.items()))
        print(f"{stats.stream}: {stats.events} events replayed ({counts or 'none'})")
    return 0


def events_asyncapi(output: Path, *, check: bool) -> int:
    import kernel.contracts
    from kernel.asyncapi import asyncapi_document, render_yaml

    text = render_yaml(asyncapi_document(kernel.contracts.registry))
    if check:
        if not output.exists() or output.read_text() != text:
            print(f"{output} is stale: run `clock events asyncapi`", file=sys.stderr)
            return 1
        print(f"{output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
