"""The authorisation matrix (docs/authorisation-matrix.yaml) against a running platform.

One platform for the module. The fixture `world` creates, through the API, what the rows name:
two centres admitted as members, a partner, five firms (two of them large enterprises), labs and
entries of each centre, duplicate pairs, initiatives, demands, introductions, engagements,
access requests, challenges with expressions of interest, and a report. Then every row is sent
as every caller, and any outcome other than the table's fails the test; so does an operation of
the merged OpenAPI document without a row, or a row without an operation.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from stdnum import luhn

from tests.e2e.platform import (
    RunningPlatform,
    create_api_key,
    fresh_ports,
    gateway_client,
    start_platform,
    stop_platform,
    wait_until,
)

MATRIX = Path(__file__).resolve().parents[2] / "docs" / "authorisation-matrix.yaml"
CALLERS = ("anonymous", "region", "centre_own", "centre_other", "firm_own", "firm_other", "partner")
METHODS = ("get", "put", "post", "patch", "delete")
# Hundreds of requests from a few keys: the gateway's rate limits are not under test here.
UNTHROTTLED = {"CLOCK_GATEWAY_RATE_LIMIT_ENABLED": "false"}
PLACEHOLDER = re.compile(r"^\$\{(\w+)\}$")
LABS_CSV = b"Codice;Nome;Provincia;Comune\r\nM-1;Laboratorio della matrice;PI;Pisa\r\n"
"""The file of the rows with a `form` (a multipart upload)."""

Json = dict[str, Any]


def load_matrix() -> Json:
    matrix: Json = yaml.safe_load(MATRIX.read_text())
    assert tuple(matrix["callers"]) == CALLERS
    return matrix


def expected_outcomes(row: Json) -> dict[str, str]:
    """The outcome of every caller of a row (`others` fills the callers not listed)."""
    expect = row["expect"]
    unknown = set(expect) - {*CALLERS, "others"}
    assert not unknown, f"{row['op']}: unknown callers {unknown}"
    outcomes = {caller: str(expect.get(caller, expect.get("others", ""))) for caller in CALLERS}
    missing = [caller for caller, outcome in outcomes.items() if not outcome]
    assert not missing, f"{row['op']}: no outcome for {missing}"
    return outcomes


def matches(outcome: str, status: int) -> bool:
    if outcome.endswith("xx"):
        return str(status)[0] == outcome[0]
    return status == int(outcome)


def target_of(matrix: Json, kind: str, caller: str) -> str:
    target = matrix["targets"][kind]
    return str(target.get(caller, target["all"] if "all" in target else target[caller]))


# -- the objects the rows name -----------------------------------------------------------------


@dataclass
class World:
    platform: RunningPlatform
    data_dir: Path
    keys: dict[str, str | None]
    objects: dict[str, str] = field(default_factory=dict)
    related: dict[str, str] = field(default_factory=dict)
    """What the fresh object of the request being sent came with, by kind of target (the
    proposed team of a fresh challenge): `@kind` parameters and `${kind}` placeholders use it."""
    days: Iterator[int] = field(default_factory=lambda: itertools.count(30))
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1_000_001))
    clients: dict[str | None, httpx.Client] = field(default_factory=dict)

    def client(self, key: str | None) -> httpx.Client:
        if key not in self.clients:
            self.clients[key] = gateway_client(self.platform, key)
        return self.clients[key]

    def as_(self, caller: str) -> httpx.Client:
        return self.client(self.keys[caller])

    def vat(self) -> str:
        body = f"{next(self.numbers):07d}048"  # 048: an office of Florence
        return body + luhn.calc_check_digit(body)

    def window(self) -> tuple[str, str]:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=next(self.days))
        return start.isoformat(), (start + timedelta(hours=3)).isoformat()

    def application_body(self, name: str) -> Json:
        return {
            "organisation": {
                "name": name,
                "kind": "technology_transfer_centre",
                "vat_number": self.vat(),
                "province": "PI",
                "municipality": "Pisa",
            },
            "declarations": {
                "operates_in_tuscany": True,
                "operates_in_technology_transfer": True,
                "offer": "Prove e misure per le imprese della filiera.",
            },
            "representative": {
                "full_name": "Anna Verdi",
                "email": "anna.verdi@example.org",
                "position": "Direttrice",
            },
        }


def created(response: httpx.Response, status: int = 201) -> Json:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    body: Json = response.json()
    return body


def admitted_member(world: World, name: str) -> str:
    """A new centre admitted as a member; its organisation id."""
    application = created(
        world.as_("anonymous").post(
            "/api/v1/membership/applications", json=world.application_body(name)
        )
    )
    decided = world.as_("region").post(
        f"/api/v1/membership/applications/{application['id']}/decision",
        json={"decision": "admit", "motivation": "Competenze utili alla rete."},
    )
    return str(created(decided, 200)["organisation_id"])


def writable_catalogue(world: World, key: str) -> None:
    """Until the admission reached the catalogue (events): the centre may create a lab."""

    def accepted() -> bool:
        response = world.client(key).get("/api/v1/catalog/labs", params={"status": "draft"})
        probe = world.client(key).post("/api/v1/catalog/labs", json=lab_body("Sonda"))
        if probe.status_code == 201:
            world.client(key).delete(f"/api/v1/catalog/labs/{probe.json()['id']}")
        return response.status_code == 200 and probe.status_code == 201

    wait_until(accepted, timeout=20, message="the catalogue accepts the admitted centre")


def lab_body(name: str) -> Json:
    return {"name": {"it": name}, "province": "PI", "municipality": "Pisa"}


def lab(world: World, key: str, name: str, *, published: bool) -> str:
    client = world.client(key)
    lab_id = str(created(client.post("/api/v1/catalog/labs", json=lab_body(name)))["id"])
    if published:
        created(client.post(f"/api/v1/catalog/labs/{lab_id}/publication"), 200)
    return lab_id


def entry(world: World, key: str, lab_id: str, plural: str, body: Json) -> str:
    response = world.client(key).post(f"/api/v1/catalog/labs/{lab_id}/{plural}", json=body)
    return str(created(response)["id"])


def equipment(world: World, key: str, lab_id: str, manufacturer: str, model: str) -> str:
    body = {
        "name": {"it": f"Strumento {model}", "en": f"Instrument {model}"},
        "manufacturer": manufacturer,
        "model": model,
        "shareable": True,
        "tariff_eur_per_hour": "80.00",
    }
    return entry(world, key, lab_id, "equipment", body)


def pair_of(world: World, entry_id: str, other_centre: str) -> str:
    """The open duplicate pair of an entry with an entry of `other_centre`."""
    pairs = world.as_("region").get(
        "/api/v1/catalog/duplicates", params={"entity": "equipment", "limit": 200}
    )
    for pair in created(pairs, 200)["items"]:
        ids = {pair["a"]["id"], pair["b"]["id"]}
        centres = {pair["a"]["centre_id"], pair["b"]["centre_id"]}
        if entry_id in ids and other_centre in centres:
            return str(pair["id"])
    raise AssertionError(f"no duplicate pair of {entry_id} with {other_centre}")


def firm(world: World, key: str | None, name: str, *, large: bool = False) -> str:
    """A micro enterprise, or a large one (which may publish challenges itself)."""
    body = {
        "name": name,
        "vat_number": world.vat(),
        "ateco_code": "25.62",
        "employees": 320 if large else 9,
        "turnover_eur": "85000000.00" if large else "800000.00",
        "province": "PO",
        "municipality": "Prato",
    }
    return str(created(world.client(key).post("/api/v1/matching/firms", json=body))["id"])


def demand(world: World, key: str | None, firm_id: str) -> str:
    body = {
        "firm_id": firm_id,
        "title": "Prove sui materiali",
        "description": "Caratterizzare i materiali di un nuovo prodotto.",
        "needs": [{"text": "Prove di trazione e microscopia dei materiali"}],
    }
    return str(created(world.client(key).post("/api/v1/matching/demands", json=body))["id"])


def introduction(world: World, key: str | None, demand_id: str, lab_id: str) -> str:
    response = world.client(key).post(
        f"/api/v1/matching/demands/{demand_id}/introductions", json={"lab_id": lab_id}
    )
    return str(created(response)["id"])


def engagement(world: World, centre_key: str | None, introduction_id: str) -> str:
    accepted = world.client(centre_key).post(
        f"/api/v1/matching/introductions/{introduction_id}/acceptance", json={"reason": "Sì"}
    )
    return str(created(accepted, 200)["engagement_id"])


def access(world: World, key: str | None, equipment_id: str, firm_id: str | None = None) -> str:
    start, end = world.window()
    body: Json = {"start": start, "end": end, "purpose": "Misure"}
    if firm_id:
        body["firm_id"] = firm_id
    response = world.client(key).post(
        f"/api/v1/matching/equipment/{equipment_id}/access-requests", json=body
    )
    return str(created(response)["id"])


CHALLENGE_NEED = "Prove di trazione e microscopia dei materiali"
"""A need the labs of the world fit (so that a challenge has proposed teams)."""
EVALUATION_DELAY = timedelta(seconds=20)
"""The deadline of the challenges the world evaluates: long enough to answer them first."""


SIDES = {"a": "firm_own", "b": "firm_other", "ca": "centre_own", "cb": "centre_other"}
"""The challenges' publisher sides, by the caller whose target they are."""


def in_days(days: int) -> str:
    return (datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)).isoformat()


def challenge(world: World, key: str | None, firm_id: str, **fields: Any) -> str:
    """A challenge published for the firm (members only), or a draft (`status="draft"`)."""
    body: Json = {
        "publisher_firm_id": firm_id,
        "title": f"Sfida di filiera {next(world.numbers)}",
        "description": "Una grande impresa cerca fornitori e laboratori per la sua filiera.",
        "needs": [{"text": CHALLENGE_NEED}],
        "deadline": in_days(60),
        "visibility": "members",
        "criteria": [{"name": "Fattibilità tecnica", "weight": 70}, {"name": "Costo"}],
        "status": "open",
        **fields,
    }
    return str(created(world.client(key).post("/api/v1/matching/challenges", json=body))["id"])


def publisher_of(world: World, caller: str) -> tuple[str | None, str]:
    """Who publishes a challenge like the caller's target, and for which firm: firm A (large)
    for itself, the Region for firm B, each centre for a firm it registered."""
    o, keys = world.objects, world.keys
    return {
        "firm_other": (keys["region"], o["firm_b"]),
        "centre_own": (keys["centre_own"], o["firm_ca"]),
        "centre_other": (keys["centre_b"], o["firm_cb"]),
    }.get(caller, (keys["firm_own"], o["firm_a"]))


def expression(world: World, key: str | None, challenge_id: str, *members: Json) -> str:
    """An expression of interest of the key's firm or centre, its team meeting the need."""
    body = {
        "members": list(members),
        "responses": [
            {"need_index": 0, "text": "Prove e misure nostre.", "members": [*range(len(members))]}
        ],
        "message": "Siamo interessati.",
    }
    response = world.client(key).post(
        f"/api/v1/matching/challenges/{challenge_id}/expressions", json=body
    )
    return str(created(response)["id"])


def proposed_team(world: World, challenge_id: str) -> str:
    """The best team the platform proposes for the challenge."""
    response = world.as_("region").get(
        f"/api/v1/matching/challenges/{challenge_id}/teams", params={"limit": 1}
    )
    teams = created(response, 200)["items"]
    assert teams, f"no team proposed for challenge {challenge_id}"
    return str(teams[0]["team_id"])


def challenges(world: World) -> None:
    """Challenges of each publisher side (firm A, large, for itself; the Region for firm B;
    centres A and B for a firm each registered): open ones, drafts, and ones whose deadline
    passes while the world is built, each answered by firm B (by centre B the one of firm B);
    the Region's public challenge for the large firm L, answered by firms A and B and centres A
    and B; three more evaluated ones to award (the Region's, firm A's, centre A's)."""
    o, keys = world.objects, world.keys
    region, firm_b = keys["region"], keys["firm_b"]
    sides = {side: publisher_of(world, caller) for side, caller in SIDES.items()}
    deadline = datetime.now(UTC) + EVALUATION_DELAY
    for side, (key, firm_id) in sides.items():
        o[f"evaluating_{side}"] = challenge(world, key, firm_id, deadline=deadline.isoformat())
        o[f"evaluated_{side}"] = (
            expression(world, keys["centre_b"], o[f"evaluating_{side}"], {"lab_id": o["lab_b"]})
            if side == "b"
            else expression(world, firm_b, o[f"evaluating_{side}"], {"firm_id": o["firm_b"]})
        )
    for caller, (key, firm_id) in (
        ("region", (region, o["firm_l"])),
        ("firm_own", sides["a"]),
        ("centre_own", sides["ca"]),
    ):
        o[f"award_{caller}"] = challenge(world, key, firm_id, deadline=deadline.isoformat())
        o[f"award_expression_{caller}"] = expression(
            world, firm_b, o[f"award_{caller}"], {"firm_id": o["firm_b"]}
        )
    for side, (key, firm_id) in sides.items():
        o[f"challenge_{side}"] = challenge(world, key, firm_id)
        o[f"draft_challenge_{side}"] = challenge(world, key, firm_id, status="draft")
    o["team_a"] = proposed_team(world, o["challenge_a"])
    o["public_challenge"] = challenge(world, region, o["firm_l"], visibility="public")
    for name, key, member in (
        ("expression_fa", keys["firm_own"], {"firm_id": o["firm_a"]}),
        ("expression_fb", firm_b, {"firm_id": o["firm_b"]}),
        ("expression_ca", keys["centre_own"], {"lab_id": o["lab_a"]}),
        ("expression_cb", keys["centre_b"], {"lab_id": o["lab_b"]}),
    ):
        o[name] = expression(world, key, o["public_challenge"], member)


def evaluated(world: World) -> None:
    """Once the deadline of the evaluated challenges passed: the expressions to award are
    shortlisted (by the Region)."""
    o = world.objects

    def evaluating() -> bool:
        response = world.as_("region").get(f"/api/v1/matching/challenges/{o['award_region']}")
        return bool(response.json()["status"] == "evaluating")

    wait_until(evaluating, timeout=60, message="the deadline of the evaluated challenges")
    for caller in ("region", "firm_own", "centre_own"):
        path = f"{o[f'award_{caller}']}/expressions/{o[f'award_expression_{caller}']}/shortlist"
        created(world.as_("region").post(f"/api/v1/matching/challenges/{path}"), 200)


def build_world(platform: RunningPlatform, data_dir: Path) -> World:
    world = World(platform, data_dir, {"anonymous": None, "region": platform.region_key})
    o = world.objects
    o["org_a"] = admitted_member(world, "Centro Prove A")
    o["org_b"] = admitted_member(world, "Centro Prove B")
    o["org_p"] = str(
        created(
            world.as_("region").post(
                "/api/v1/membership/organisations",
                json={
                    "name": "Partner P",
                    "kind": "other",
                    "province": "FI",
                    "municipality": "Firenze",
                },
            )
        )["id"]
    )
    centre_a = create_api_key(platform, data_dir, "centre", o["org_a"])
    centre_b = create_api_key(platform, data_dir, "centre", o["org_b"])
    partner = create_api_key(platform, data_dir, "partner", o["org_p"])
    world.keys |= {"centre_own": centre_a, "centre_other": centre_a, "partner": partner}
    world.keys |= {"centre_b": centre_b}
    o["application"] = str(
        created(
            world.as_("anonymous").post(
                "/api/v1/membership/applications", json=world.application_body("Candidato")
            )
        )["id"]
    )

    # Catalogue: published labs with shareable equipment that duplicates across A and B (and
    # B's with a founding centre's demo SEM), draft labs with one entry of each kind.
    writable_catalogue(world, centre_a)
    writable_catalogue(world, centre_b)
    for side, key in (("a", centre_a), ("b", centre_b)):
        o[f"lab_{side}"] = lab(world, key, f"Laboratorio {side}", published=True)
        o[f"shareable_{side}"] = equipment(world, key, o[f"lab_{side}"], "Matrix", "MX-1")
        o[f"draft_{side}"] = lab(world, key, f"Bozza {side}", published=False)
        o[f"competence_{side}"] = entry(
            world,
            key,
            o[f"draft_{side}"],
            "competences",
            {"title": {"it": "Analisi"}, "trl_min": 3, "trl_max": 6},
        )
        o[f"equipment_{side}"] = entry(
            world, key, o[f"draft_{side}"], "equipment", {"name": {"it": "Bilancia"}}
        )
        o[f"service_{side}"] = entry(
            world,
            key,
            o[f"draft_{side}"],
            "services",
            {"name": {"it": "Prove"}, "kind": "testing"},
        )
    sem_b = equipment(world, centre_b, o["lab_b"], "JEOL", "JSM-IT500")
    o["pair_ab"] = pair_of(world, o["shareable_a"], o["org_b"])
    demo_pairs = created(
        world.as_("region").get(
            "/api/v1/catalog/duplicates", params={"centre": o["org_b"], "limit": 200}
        ),
        200,
    )["items"]
    o["pair_b_demo"] = next(
        str(p["id"])
        for p in demo_pairs
        if sem_b in (p["a"]["id"], p["b"]["id"])
        and o["org_a"] not in (p["a"]["centre_id"], p["b"]["centre_id"])
    )

    # Initiatives: a draft of each centre; one led by each centre naming the other as a partner
    # (to confirm); a pair of overlapping projects of A and B.
    o["initiative_a"] = initiative(world, centre_a, status="draft")
    o["initiative_b"] = initiative(world, centre_b, status="draft")
    o["partnered_a"] = initiative(world, centre_b, partner_centres=[o["org_a"]])
    o["partnered_b"] = initiative(world, centre_a, partner_centres=[o["org_b"]])
    o["overlap_ab"] = overlap_pair(world)

    # Matching: firms, demands, introductions (once the labs reached matching's index).
    o["firm_a"] = firm(world, partner, "Impresa A", large=True)
    o["firm_b"] = firm(world, platform.region_key, "Impresa B")
    o["firm_l"] = firm(world, platform.region_key, "Grande impresa L", large=True)
    o["firm_ca"] = firm(world, centre_a, "Impresa assistita da A")
    o["firm_cb"] = firm(world, centre_b, "Impresa assistita da B")
    world.keys["firm_own"] = world.keys["firm_other"] = create_api_key(
        platform, data_dir, "firm", o["firm_a"]
    )
    firm_b_key = create_api_key(platform, data_dir, "firm", o["firm_b"])
    world.keys["firm_b"] = firm_b_key
    o["demand_a"] = demand(world, partner, o["firm_a"])
    o["demand_b"] = demand(world, firm_b_key, o["firm_b"])
    o["demand_ca"] = demand(world, centre_a, o["firm_ca"])
    o["demand_cb"] = demand(world, centre_b, o["firm_cb"])
    intro_probe = {"demand_a": "lab_a", "demand_b": "lab_b"}

    def labs_indexed() -> bool:
        return all(
            world.as_("region")
            .get(f"/api/v1/matching/demands/{o[d]}/matches", params={"limit": 50})
            .json()
            .get("items")
            is not None
            and any(
                m["lab_id"] == o[lab_name]
                for m in world.as_("region")
                .get(f"/api/v1/matching/demands/{o[d]}/matches", params={"limit": 50})
                .json()["items"]
            )
            for d, lab_name in intro_probe.items()
        )

    wait_until(labs_indexed, timeout=20, message="the labs of A and B in matching's index")
    challenges(world)  # the evaluated ones' deadline passes while the rest is built
    o["introduction_a"] = introduction(world, world.keys["firm_own"], o["demand_a"], o["lab_a"])
    o["introduction_b"] = introduction(world, firm_b_key, o["demand_b"], o["lab_b"])
    o["engagement_a"] = engagement(world, centre_a, o["introduction_a"])
    o["engagement_b"] = engagement(world, centre_b, o["introduction_b"])
    o["access_a"] = access(world, world.keys["firm_own"], o["shareable_a"])
    o["access_b"] = access(world, firm_b_key, o["shareable_b"])
    o["access_p"] = access(world, partner, o["shareable_a"], o["firm_a"])

    # Catalogue: an import of centre A and one of centre B (their status does not matter).
    for name, key in (("import_a", centre_a), ("import_b", centre_b)):
        upload = world.client(key).post(
            "/api/v1/catalog/imports",
            data={"entity": "lab"},
            files={"file": ("laboratori.csv", LABS_CSV, "text/csv")},
        )
        o[name] = str(created(upload, 202)["id"])

    # Reporting: a provisional report of the current quarter.
    o["report"] = str(
        created(
            world.as_("region").post(
                "/api/v1/reporting/reports", json={"period": quarter(), "provisional": True}
            )
        )["id"]
    )
    evaluated(world)
    return world


def quarter() -> str:
    today = datetime.now(UTC)
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


# -- fresh objects for the writes that change them -----------------------------------------------

Fresh = Callable[[World, str], tuple[str, str | None]]
"""(world, caller) -> a new object like the caller's target, and the key to send it with when
the caller's own key cannot be used (a new centre withdrawing itself)."""


def fresh_member(*, suspended: bool = False, own_key: bool = False) -> Fresh:
    def make(world: World, caller: str) -> tuple[str, str | None]:
        org_id = admitted_member(world, f"Centro {next(world.numbers)}")
        if suspended:
            created(
                world.as_("region").post(
                    f"/api/v1/membership/members/{org_id}/suspension", json={"reason": "x"}
                ),
                200,
            )
        key = None
        if own_key and caller == "centre_own":
            key = create_api_key(world.platform, world.data_dir, "centre", org_id)
        return org_id, key

    return make


def fresh_demand(world: World, caller: str) -> tuple[str, str | None]:
    o = world.objects
    if caller == "centre_own":
        return demand(world, world.keys["centre_own"], o["firm_ca"]), None
    if caller == "partner":
        return demand(world, world.keys["partner"], o["firm_a"]), None
    return demand(world, world.keys["firm_own"], o["firm_a"]), None


def fresh_introduction(world: World, caller: str) -> tuple[str, str | None]:
    demand_id, _ = fresh_demand(world, "firm_own")
    return introduction(world, world.keys["firm_own"], demand_id, world.objects["lab_a"]), None


def fresh_engagement(world: World, caller: str) -> tuple[str, str | None]:
    demand_id = demand(world, world.keys["partner"], world.objects["firm_a"])
    intro = introduction(world, world.keys["partner"], demand_id, world.objects["lab_a"])
    return engagement(world, world.keys["centre_own"], intro), None


def fresh_access(world: World, caller: str) -> tuple[str, str | None]:
    o = world.objects
    if caller == "partner":
        return access(world, world.keys["partner"], o["shareable_a"], o["firm_a"]), None
    return access(world, world.keys["firm_own"], o["shareable_a"]), None


def fresh_pair(world: World, caller: str) -> tuple[str, str | None]:
    model = f"MX-{next(world.numbers)}"
    mine = equipment(world, world.keys["centre_own"], world.objects["lab_a"], "Matrix", model)
    equipment(world, world.keys["centre_b"], world.objects["lab_b"], "Matrix", model)
    return pair_of(world, mine, world.objects["org_b"]), None


def initiative(world: World, key: str, **fields: Any) -> str:
    """A research project led by the key's centre."""
    n = next(world.numbers)
    body: Json = {
        "kind": "research_project",
        "title": {"it": f"Progetto di prova {n}"},
        "status": "planned",
        "start_date": "2026-01-01",
        "end_date": "2027-12-31",
        **fields,
    }
    return str(created(world.client(key).post("/api/v1/catalog/initiatives", json=body))["id"])


def overlap_pair(world: World) -> str:
    """Two near-identical projects of A and B in the same years: their stored overlap."""
    n = next(world.numbers)
    body: Json = {
        "kind": "research_project",
        "title": {"it": f"Compositi riciclati per la nautica {n}"},
        "description": {"it": f"Fibre di carbonio riciclate per scafi leggeri {n}."},
        "status": "planned",
        "start_date": "2026-01-01",
        "end_date": "2027-12-31",
        "tags": {"ket": ["advanced_materials"]},
    }
    created(world.client(world.keys["centre_b"]).post("/api/v1/catalog/initiatives", json=body))
    mine = created(
        world.client(world.keys["centre_own"]).post("/api/v1/catalog/initiatives", json=body)
    )
    found = [o["overlap_id"] for o in mine["possible_overlaps"] if o["overlap_id"]]
    assert found, f"no overlap found: {mine['possible_overlaps']}"
    return str(found[0])


def fresh_partnered(world: World, caller: str) -> tuple[str, str | None]:
    return initiative(world, world.keys["centre_b"], partner_centres=[world.objects["org_a"]]), None


def fresh_overlap(world: World, caller: str) -> tuple[str, str | None]:
    return overlap_pair(world), None


def fresh_lab(*, published: bool) -> Fresh:
    def make(world: World, caller: str) -> tuple[str, str | None]:
        key = world.keys["centre_own"]
        assert key
        return lab(world, key, f"Nuovo {next(world.numbers)}", published=published), None

    return make


def fresh_entry(plural: str, body: Json) -> Fresh:
    def make(world: World, caller: str) -> tuple[str, str | None]:
        key = world.keys["centre_own"]
        assert key
        return entry(world, key, world.objects["draft_a"], plural, body), None

    return make


def fresh_challenge(**fields: Any) -> Fresh:
    def make(world: World, caller: str) -> tuple[str, str | None]:
        key, firm_id = publisher_of(world, caller)
        return challenge(world, key, firm_id, **fields), None

    return make


def fresh_invitation(world: World, caller: str) -> tuple[str, str | None]:
    challenge_id, _ = fresh_challenge()(world, caller)
    world.related["proposed_team"] = proposed_team(world, challenge_id)
    return challenge_id, None


def fresh_award(world: World, caller: str) -> tuple[str, str | None]:
    """One of the evaluated challenges kept for the award, with its shortlisted expression."""
    world.related["evaluated_expression"] = world.objects[f"award_expression_{caller}"]
    return world.objects[f"award_{caller}"], None


def fresh_application(world: World, caller: str) -> tuple[str, str | None]:
    body = world.application_body(f"Candidato {next(world.numbers)}")
    response = world.as_("anonymous").post("/api/v1/membership/applications", json=body)
    return str(created(response)["id"]), None


FRESH: dict[str, Fresh] = {
    "POST /api/v1/membership/applications/{application_id}/decision": fresh_application,
    "POST /api/v1/membership/members/{organisation_id}/suspension": fresh_member(),
    "POST /api/v1/membership/members/{organisation_id}/reinstatement": fresh_member(suspended=True),
    "POST /api/v1/membership/members/{organisation_id}/withdrawal": fresh_member(own_key=True),
    "DELETE /api/v1/catalog/labs/{lab_id}": fresh_lab(published=False),
    "POST /api/v1/catalog/labs/{lab_id}/publication": fresh_lab(published=False),
    "POST /api/v1/catalog/labs/{lab_id}/withdrawal": fresh_lab(published=True),
    "DELETE /api/v1/catalog/competences/{entry_id}": fresh_entry(
        "competences", {"title": {"it": "Da cancellare"}, "trl_min": 1, "trl_max": 2}
    ),
    "DELETE /api/v1/catalog/equipment/{entry_id}": fresh_entry(
        "equipment", {"name": {"it": "Da cancellare"}}
    ),
    "DELETE /api/v1/catalog/services/{entry_id}": fresh_entry(
        "services", {"name": {"it": "Da cancellare"}, "kind": "training"}
    ),
    "POST /api/v1/catalog/duplicates/{pair_id}/resolution": fresh_pair,
    "POST /api/v1/catalog/initiatives/{initiative_id}/partners/{centre_id}/confirmation": (
        fresh_partnered
    ),
    "POST /api/v1/catalog/initiatives/overlaps/{overlap_id}/resolution": fresh_overlap,
    "POST /api/v1/matching/demands/{demand_id}/cancellation": fresh_demand,
    "POST /api/v1/matching/demands/{demand_id}/introductions": fresh_demand,
    "POST /api/v1/matching/introductions/{introduction_id}/acceptance": fresh_introduction,
    "POST /api/v1/matching/introductions/{introduction_id}/decline": fresh_introduction,
    "POST /api/v1/matching/engagements/{engagement_id}/closure": fresh_engagement,
    "POST /api/v1/matching/access-requests/{request_id}/approval": fresh_access,
    "POST /api/v1/matching/access-requests/{request_id}/decline": fresh_access,
    "POST /api/v1/matching/access-requests/{request_id}/cancellation": fresh_access,
    "POST /api/v1/matching/challenges/{challenge_id}/publication": fresh_challenge(status="draft"),
    "POST /api/v1/matching/challenges/{challenge_id}/closure": fresh_challenge(),
    "POST /api/v1/matching/challenges/{challenge_id}/award": fresh_award,
    "POST /api/v1/matching/challenges/{challenge_id}/expressions": fresh_challenge(),
    "POST /api/v1/matching/challenges/{challenge_id}/teams/{team_id}/invitation": (
        fresh_invitation
    ),
}


# -- requests ------------------------------------------------------------------------------------


def target(world: World, matrix: Json, kind: str, caller: str) -> str:
    """The object of that kind the caller's request names (what a fresh object came with)."""
    return world.related.get(kind) or world.objects[target_of(matrix, kind, caller)]


def fill(value: Any, world: World, matrix: Json, caller: str) -> Any:
    """A row's body or query with its `${...}` placeholders filled for the caller."""
    if isinstance(value, dict):
        return {k: fill(v, world, matrix, caller) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, world, matrix, caller) for v in value]
    if not isinstance(value, str) or not (match := PLACEHOLDER.match(value)):
        return value
    name = match.group(1)
    if name == "application_body":
        return world.application_body(f"Candidato {next(world.numbers)}")
    if name == "vat":
        return world.vat()
    if name in matrix["targets"]:  # the caller's target of that kind, e.g. ${firm}
        return target(world, matrix, name, caller)
    if name == "quarter":
        return quarter()
    if name == "deadline":
        return in_days(30)
    if name in ("start", "end"):
        raise AssertionError("${start} and ${end} are filled together")
    return world.objects[name]


@dataclass(frozen=True)
class Outcome:
    op: str
    caller: str
    expected: str
    status: int
    detail: str

    def __str__(self) -> str:
        return (
            f"{self.op} as {self.caller}: expected {self.expected}, got {self.status} {self.detail}"
        )


def send(world: World, matrix: Json, row: Json, caller: str, expected: str) -> Outcome:
    op = row["op"]
    method, template = op.split(" ", 1)
    key = world.keys[caller]
    path = template
    fresh = FRESH.get(op) if row.get("fresh") and expected.startswith("2") else None
    world.related.clear()
    made, own_key = fresh(world, caller) if fresh is not None else (None, None)
    key = own_key or key
    for name, kind in (row.get("params") or {}).items():
        if kind.startswith("="):
            value = kind[1:]
        elif kind.startswith("@"):  # never the fresh object (but what it came with)
            value = target(world, matrix, kind[1:], caller)
        elif made is not None:
            value = made
        else:
            value = world.objects[target_of(matrix, kind, caller)]
        path = path.replace("{" + name + "}", value)
    raw = row.get("body")
    if isinstance(raw, dict) and raw.get("start") == "${start}":  # a new time window each
        start, end = world.window()
        raw = {**raw, "start": start, "end": end}
    body = fill(raw, world, matrix, caller)
    headers = {}
    if row.get("if_match") == "caller":  # what only the caller may read (its own expression)
        current = world.client(key).get(path)
        if current.status_code == 200:
            headers["If-Match"] = current.headers["etag"]
    elif row.get("if_match"):
        current = world.as_("region").get(path)
        assert current.status_code == 200, f"{op}: cannot read {path}: {current.text}"
        headers["If-Match"] = current.headers["etag"]
    form = fill(row.get("form"), world, matrix, caller)
    response = world.client(key).request(
        method,
        path,
        json=None if form else body,
        data=form,
        files={"file": ("laboratori.csv", LABS_CSV, "text/csv")} if form else None,
        params=fill(row.get("query"), world, matrix, caller),
        headers=headers,
    )
    detail = "" if response.status_code < 300 else response.text[:200]
    return Outcome(op, caller, expected, response.status_code, detail)


# -- tests ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clock-e2e-matrix")


@pytest.fixture(scope="module")
def platform(data_dir: Path) -> Iterator[RunningPlatform]:
    running = start_platform(data_dir, fresh_ports(), env=UNTHROTTLED)
    yield running
    stop_platform(running)


@pytest.fixture(scope="module")
def world(platform: RunningPlatform, data_dir: Path) -> Iterator[World]:
    built = build_world(platform, data_dir)
    yield built
    for client in built.clients.values():
        client.close()


@pytest.fixture(scope="module")
def matrix() -> Json:
    return load_matrix()


def test_every_operation_has_exactly_one_row(platform: RunningPlatform, matrix: Json) -> None:
    document = httpx.get(f"{platform.gateway}/api/v1/openapi.json", timeout=30).json()
    assert not document["info"]["x-unavailable-services"], "a service was down"
    operations = {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    rows = [row["op"] for row in matrix["operations"]]
    duplicates = sorted({op for op in rows if rows.count(op) > 1})
    assert not duplicates, f"operations with more than one row: {duplicates}"
    assert not operations - set(rows), f"operations without a row: {sorted(operations - set(rows))}"
    assert not set(rows) - operations, f"rows of no operation: {sorted(set(rows) - operations)}"


def test_the_rows_are_well_formed(matrix: Json) -> None:
    for row in matrix["operations"]:
        expected_outcomes(row)
        if row.get("fresh"):
            assert row["op"] in FRESH, f"{row['op']}: no way to make a fresh object"
        for kind in (row.get("params") or {}).values():
            assert kind.startswith("=") or kind.removeprefix("@") in matrix["targets"], (
                f"{row['op']}: {kind}?"
            )


def test_every_caller_gets_the_outcome_of_the_table(world: World, matrix: Json) -> None:
    wrong: list[Outcome] = []
    for row in matrix["operations"]:
        for caller, expected in expected_outcomes(row).items():
            outcome = send(world, matrix, row, caller, expected)
            if not matches(expected, outcome.status):
                wrong.append(outcome)
    assert not wrong, f"{len(wrong)} outcomes differ from the table:\n" + "\n".join(map(str, wrong))
