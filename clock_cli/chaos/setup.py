"""Run by the chaos supervisor in a child process with the round's `CLOCK_*` environment:
migrates every database and prints, as one JSON line, the API keys of the workload (a region
key and one centre key for each founding centre)."""

from __future__ import annotations

import asyncio
import json

from clock_cli.chaos.supervisor import FOUNDING_CENTRES, centre_id
from clock_cli.components import COMPONENTS, GATEWAY
from clock_cli.main import migrate_components


async def create_keys(centres: list[str]) -> dict[str, object]:
    from gateway import service
    from kernel.db import create_engine, create_sessionmaker
    from kernel.principal import Role

    engine = create_engine(GATEWAY.settings().sqlalchemy_url)
    try:
        async with create_sessionmaker(engine)() as session:
            _, region = await service.create_api_key(
                session, role=Role.REGION, org_id=None, name="chaos region"
            )
            by_centre = {}
            for org in centres:
                _, secret = await service.create_api_key(
                    session, role=Role.CENTRE, org_id=org, name=f"chaos centre {org}"
                )
                by_centre[org] = secret
            await session.commit()
    finally:
        await engine.dispose()
    return {"region": region, "centres": by_centre}


def main() -> int:
    from contextlib import redirect_stdout
    from io import StringIO

    with redirect_stdout(StringIO()):
        migrate_components(list(COMPONENTS))
    keys = asyncio.run(create_keys([centre_id(key) for key in FOUNDING_CENTRES]))
    print(json.dumps(keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
