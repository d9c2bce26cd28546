"""(c) Matching: top-10 matches in the service and through the gateway, and the time from a
competence published through the gateway to its being matchable."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx

from clock_cli.bench.load import Sample, timed_requests
from clock_cli.bench.plan import Plan
from clock_cli.bench.platform import BenchPlatform
from kernel.principal import PRINCIPAL_HEADER, Role
from services.matching.evaluate import EVALUATION

# The signatories' ids are derived from their names (services/membership's seed).
SIGNATORIES = uuid.uuid5(uuid.NAMESPACE_DNS, "membership.clock.toscana.it")
TLS = str(uuid.uuid5(SIGNATORIES, "signatory:tls"))
FIRM = {
    "name": "Bench Frantoio", "vat_number": "07654320048", "ateco_code": "10.41",
    "employees": 8, "turnover_eur": "1200000.00", "province": "GR", "municipality": "Scansano",
}  # fmt: skip
MATCHABLE_TIMEOUT = 30.0


def _created(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 201:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return dict(response.json())


def _gateway(platform: BenchPlatform, key: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=platform.url("gateway") + "/api/v1", headers=headers, timeout=30)


def _direct(platform: BenchPlatform) -> httpx.Client:
    return httpx.Client(base_url=platform.url("matching"), timeout=30)


def _region(platform: BenchPlatform) -> dict[str, str]:
    return {PRINCIPAL_HEADER: platform.principal(Role.REGION)}


def centre_key(platform: BenchPlatform, org_id: str) -> str:
    """`clock apikey create`, as an operator would run it next to the platform."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "clock_cli.main",
            *("apikey", "create", "--role", "centre"),
            *("--org", org_id, "--name", "bench"),
        ],
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = re.search(r"^key:\s+(\S+)$", result.stdout, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no key printed: {result.stdout}{result.stderr}")
    return found.group(1)


def create_demands(region: httpx.Client, count: int) -> tuple[str, list[str]]:
    """A firm and `count` demands of the evaluation set, through the gateway."""
    firm_id = str(_created(region.post("/matching/firms", json=FIRM))["id"])
    raw = json.loads((EVALUATION / "demands.json").read_text(encoding="utf-8"))["demands"]
    ids = []
    for item in raw[:count]:
        body = {
            "firm_id": firm_id, "title": item["title"], "description": item["description"],
            "needs": [{"text": need["text"]} for need in item["needs"]],
        }  # fmt: skip
        ids.append(str(_created(region.post("/matching/demands", json=body))["id"]))
    return firm_id, ids


def matches(platform: BenchPlatform, plan: Plan) -> dict[str, Any]:
    with _gateway(platform, platform.region_key) as region, _direct(platform) as direct:
        firm_id, demands = create_demands(region, plan.demands)

        def in_service(client: httpx.Client, n: int) -> httpx.Response:
            path = f"/demands/{demands[n % len(demands)]}/matches?limit=10"
            return client.get(path, headers=_region(platform))

        def through_gateway(client: httpx.Client, n: int) -> httpx.Response:
            return client.get(f"/matching/demands/{demands[n % len(demands)]}/matches?limit=10")

        service = timed_requests(direct, plan.match_requests, in_service)
        gateway = timed_requests(region, plan.match_requests, through_gateway)
        matchable = time_to_matchable(platform, plan, direct, firm_id)
    return {
        "entries": plan.entries,
        "demands": len(demands),
        "service": service.figures(),
        "gateway": gateway.figures(),
        "matchable": matchable.figures(),
    }


def time_to_matchable(
    platform: BenchPlatform, plan: Plan, direct: httpx.Client, firm_id: str
) -> Sample:
    """A centre publishes a competence with a word of its own; a demand asking for that word
    finds it among its top ten. Timed from the answer to the POST (the catalogue's commit)."""
    with _gateway(platform, centre_key(platform, TLS)) as centre:
        lab = _created(
            centre.post(
                "/catalog/labs",
                json={
                    "name": {"en": "Bench measurement laboratory"},
                    "description": {"en": "Measurements on request for firms."},
                    "province": "SI",
                    "municipality": "Siena",
                },
            )
        )
        published = centre.post(f"/catalog/labs/{lab['id']}/publication")
        if published.status_code != 200:
            raise RuntimeError(f"lab not published: {published.status_code} {published.text}")
        sample = Sample(0.0)
        for n in range(plan.matchable_samples):
            sample.latencies_ms.append(_one_matchable(centre, direct, platform, lab, firm_id, n))
            sample.statuses.append(200)
            sample.seconds += sample.latencies_ms[-1] / 1000
    return sample


def _one_matchable(
    centre: httpx.Client,
    direct: httpx.Client,
    platform: BenchPlatform,
    lab: dict[str, Any],
    firm_id: str,
    n: int,
) -> float:
    word = f"zentrifugat{uuid.uuid4().hex[:8]}"  # in no other entry: BM25 ranks it first
    demand = _created(
        direct.post(
            "/demands",
            json={
                "firm_id": firm_id, "title": f"Analisi {word}",
                "description": f"Cerchiamo un laboratorio per {word}.",
                "needs": [{"text": f"Misure {word} sui nostri campioni"}],
            },
            headers=_region(platform),
        )
    )  # fmt: skip
    competence = _created(
        centre.post(
            f"/catalog/labs/{lab['id']}/competences",
            json={
                "title": {"en": f"{word} measurements {n}"},
                "description": {"en": f"Measurements of {word} on samples of firms."},
                "trl_min": 4, "trl_max": 8, "keywords": [word],
            },
        )
    )  # fmt: skip
    started = time.perf_counter()
    path = f"/demands/{demand['id']}/matches?limit=10"
    while time.perf_counter() - started < MATCHABLE_TIMEOUT:
        response = direct.get(path, headers=_region(platform))
        if response.status_code == 200 and any(
            (item.get("fit") or {}).get("id") == competence["id"]
            for item in response.json()["items"]
        ):
            return (time.perf_counter() - started) * 1000
        time.sleep(0.01)
    raise RuntimeError(f"competence {competence['id']} not matchable in {MATCHABLE_TIMEOUT} s")
