"""The workload of a chaos round: clients of the gateway that cross every service.

Journeys, run concurrently by a few async clients until told to stop:
- admission: an application to adhere (anonymous) and the Region's decision to admit;
- lab: a founding centre creates a lab with a competence and publishes it;
- firm: the Region registers a firm;
- demand: the Region submits a demand for a firm, reads its matches, asks an introduction to
  a lab, the lab's centre accepts (an engagement opens) and the Region closes the engagement.

Every POST carries an Idempotency-Key and is retried with it on 502/503/504, 429, a 409 "in
progress" and connection errors, until a deadline. Every operation is recorded: attempted,
acknowledged (2xx), failed; and how many of its attempts had an unknown outcome (the request
may have run: a 502/504 or a broken connection), which explains a duplicated effect.
Each created thing carries a marker (`chaos-<round>-<operation>`) in its name or title, so the
checker can count its effects in the databases.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
from stdnum import luhn

from clock_cli.chaos.supervisor import FOUNDING_CENTRES, Keys, centre_id

OPERATION_DEADLINE = 120.0
"""Seconds an operation is retried before it is recorded as failed."""
UNKNOWN_STATUSES = frozenset({502, 503, 504})
"""The gateway's answers when the service gave none: the request may have run there (a 503
is most often a refused connection, but is counted too: the attribution stays conservative)."""
RETRY_STATUSES = frozenset({429})
PLACES = (
    ("PI", "Pontedera"),
    ("SI", "Siena"),
    ("GR", "Scansano"),
    ("LU", "Lucca"),
    ("FI", "Firenze"),
    ("LI", "Livorno"),
    ("AR", "Arezzo"),
    ("PO", "Prato"),
)
TOPICS = (
    ("Analisi HPLC dei polifenoli dell'olio", "HPLC analysis of olive oil polyphenols"),
    ("Prove meccaniche su materiali compositi", "Mechanical testing of composite materials"),
    ("Calore geotermico a bassa entalpia", "Low-enthalpy geothermal heat"),
    ("Microscopia elettronica a scansione", "Scanning electron microscopy"),
    ("Sequenziamento genomico di ceppi microbici", "Genome sequencing of microbial strains"),
    ("Analisi sensoriale e chimica del vino", "Sensory and chemical analysis of wine"),
    ("Progettazione di scafi in fibra di carbonio", "Carbon-fibre hull design"),
    ("Carta riciclata e fibre cellulosiche", "Recycled paper and cellulose fibres"),
)


class Kind(StrEnum):
    APPLICATION = "application"
    ADMISSION = "admission"
    LAB = "lab"
    COMPETENCE = "competence"
    PUBLICATION = "publication"
    FIRM = "firm"
    DEMAND = "demand"
    INTRODUCTION = "introduction"
    ACCEPTANCE = "acceptance"
    CLOSURE = "closure"


CREATIONS = frozenset(
    {Kind.APPLICATION, Kind.LAB, Kind.COMPETENCE, Kind.FIRM, Kind.DEMAND, Kind.INTRODUCTION}
)
"""Operations that create one thing carrying the operation's marker."""


class Outcome(StrEnum):
    PENDING = "pending"
    OK = "ok"
    """Acknowledged: a 2xx."""
    DONE_BEFORE = "done_before"
    """A 409 after an attempt of unknown outcome: the first attempt ran (e.g. already
    published); counted as acknowledged."""
    REFUSED = "refused"
    """A definite 4xx: the operation did not run."""
    FAILED = "failed"
    """No answer within the deadline, or a 500."""


@dataclass
class Operation:
    id: int
    kind: Kind
    marker: str
    started: float
    ended: float | None = None
    attempts: int = 0
    unknown_attempts: int = 0
    server_errors: int = 0
    status: int | None = None
    outcome: Outcome = Outcome.PENDING
    result_id: str | None = None
    detail: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.outcome in (Outcome.OK, Outcome.DONE_BEFORE)


@dataclass
class History:
    operations: list[Operation] = field(default_factory=list)
    reads: int = 0
    read_retries: int = 0
    """Attempts of reads that failed in a way a client retries (no answer, 5xx, 429)."""
    reads_failed: int = 0
    """Reads that never succeeded, retries included."""

    def counts(self) -> dict[str, int]:
        return {
            "reads": self.reads,
            "read_retries": self.read_retries,
            "reads_failed": self.reads_failed,
            "attempted": len(self.operations),
            "acknowledged": sum(op.acknowledged for op in self.operations),
            "refused": sum(op.outcome is Outcome.REFUSED for op in self.operations),
            "failed": sum(op.outcome is Outcome.FAILED for op in self.operations),
            "unknown_attempts": sum(op.unknown_attempts for op in self.operations),
            "server_errors": sum(op.server_errors for op in self.operations),
        }


class OperationFailed(Exception):
    pass


def vat_number(serial: int, office: str = "050") -> str:
    """A valid partita IVA: 7 digits of `serial`, an office code, the Luhn check digit."""
    body = f"{serial % 10_000_000:07d}{office}"
    return body + str(luhn.calc_check_digit(body))


CLIENT: ContextVar[httpx.AsyncClient] = ContextVar("chaos_workload_client")
"""The client of the gateway a worker calls (each worker keeps to one gateway)."""


@dataclass
class Workload:
    gateways: Sequence[str]
    """Base URLs of the gateways; workers are spread over them."""
    keys: Keys
    round_id: str
    clients: int = 6
    seed: int = 0

    def __post_init__(self) -> None:
        self.history = History()
        self._ids = itertools.count(1)
        self._serials = itertools.count(random.Random(self.seed).randrange(1_000_000, 8_000_000))
        self._firms: list[str] = []
        self._centre_keys = {
            centre_id(k): self.keys.centres[centre_id(k)] for k in FOUNDING_CENTRES
        }

    async def run(self, keep_going: Callable[[], bool]) -> History:
        limits = httpx.Limits(max_connections=self.clients * 2)
        async with AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(40.0), limits=limits)
                )
                for url in self.gateways
            ]
            workers = [
                asyncio.create_task(
                    self._worker(
                        clients[n % len(clients)],
                        random.Random(self.seed * 1000 + n),
                        keep_going,
                    )
                )
                for n in range(self.clients)
            ]
            await asyncio.gather(*workers)
        return self.history

    @property
    def _client(self) -> httpx.AsyncClient:
        return CLIENT.get()

    async def _worker(
        self, client: httpx.AsyncClient, rng: random.Random, keep_going: Callable[[], bool]
    ) -> None:
        CLIENT.set(client)  # in this worker's task (its own context)
        while keep_going():
            try:
                if len(self._firms) < 8 or rng.random() < 0.08:
                    await self.firm(rng)
                else:
                    journey = rng.choices(
                        (self.admission, self.lab, self.demand), weights=(2, 3, 5)
                    )[0]
                    await journey(rng)
            except OperationFailed:
                await asyncio.sleep(0.2)  # recorded already; a new journey starts

    # -- one operation, retried ---------------------------------------------------------------

    def _begin(self, kind: Kind) -> Operation:
        number = next(self._ids)
        op = Operation(number, kind, f"chaos-{self.round_id}-{number}", time.time())
        self.history.operations.append(op)
        return op

    async def _post(
        self, op: Operation, path: str, body: dict[str, Any], key: str | None
    ) -> dict[str, Any]:
        """POST until a definite answer; the JSON of a 2xx, else OperationFailed."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        deadline = time.monotonic() + OPERATION_DEADLINE
        delay = 0.1
        try:
            while True:
                op.attempts += 1
                try:
                    response = await self._client.post(path, json=body, headers=headers)
                except httpx.TransportError as exc:  # the request may have been sent
                    op.unknown_attempts += 1
                    op.detail = repr(exc)
                else:
                    op.status = response.status_code
                    if response.is_success:
                        op.outcome = Outcome.OK
                        result: dict[str, Any] = response.json()
                        return result
                    if response.status_code in UNKNOWN_STATUSES:
                        op.unknown_attempts += 1
                    elif response.status_code in RETRY_STATUSES:
                        pass  # not run: too many requests
                    elif response.status_code >= 500:
                        op.server_errors += 1
                        op.detail = response.text[:300]
                    elif response.status_code == 409 and "retry-after" in response.headers:
                        pass  # the same key is still running (a previous attempt)
                    else:
                        return self._definite_refusal(op, response)
                if time.monotonic() > deadline:
                    op.outcome = Outcome.FAILED
                    raise OperationFailed(op.marker)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        finally:
            op.ended = time.time()

    def _definite_refusal(self, op: Operation, response: httpx.Response) -> dict[str, Any]:
        op.detail = response.text[:300]
        if response.status_code == 409 and op.unknown_attempts:
            op.outcome = Outcome.DONE_BEFORE
            problem: dict[str, Any] = response.json()
            return problem
        op.outcome = Outcome.REFUSED
        raise OperationFailed(op.marker)

    async def _get(self, path: str, key: str, **params: Any) -> dict[str, Any] | None:
        """A read, retried briefly; None when it does not succeed (the journey moves on)."""
        self.history.reads += 1
        for _ in range(20):
            try:
                response = await self._client.get(
                    path, params=params, headers={"Authorization": f"Bearer {key}"}
                )
            except httpx.TransportError:
                self.history.read_retries += 1
                await asyncio.sleep(0.5)
                continue
            if response.is_success:
                result: dict[str, Any] = response.json()
                return result
            if response.status_code < 500 and response.status_code != 429:
                return None
            self.history.read_retries += 1
            await asyncio.sleep(0.5)
        self.history.reads_failed += 1
        return None

    # -- journeys -----------------------------------------------------------------------------

    async def admission(self, rng: random.Random) -> None:
        op = self._begin(Kind.APPLICATION)
        province, municipality = rng.choice(PLACES)
        submitted = await self._post(
            op,
            "/api/v1/membership/applications",
            {
                "organisation": {
                    "name": f"Centro {op.marker}",
                    "kind": "technology_transfer_centre",
                    "vat_number": vat_number(next(self._serials)),
                    "province": province,
                    "municipality": municipality,
                    "email": "info@example.org",
                },
                "declarations": {
                    "operates_in_tuscany": True,
                    "operates_in_technology_transfer": True,
                    "offer": "Prove e consulenza tecnologica per le piccole imprese toscane.",
                },
                "representative": {
                    "full_name": "Giulia Bianchi",
                    "email": "giulia.bianchi@example.org",
                    "position": "Direttrice tecnica",
                },
            },
            None,
        )
        op.result_id = submitted.get("id")
        if op.outcome is not Outcome.OK or submitted.get("status") != "under_review":
            return
        decision = self._begin(Kind.ADMISSION)
        decision.result_id = op.result_id
        await self._post(
            decision,
            f"/api/v1/membership/applications/{op.result_id}/decision",
            {"decision": "admit", "motivation": "Competenze complementari per la rete."},
            self.keys.region,
        )

    async def lab(self, rng: random.Random) -> None:
        centre = centre_id(rng.choice(FOUNDING_CENTRES))
        key = self._centre_keys[centre]
        province, municipality = rng.choice(PLACES)
        italian, english = rng.choice(TOPICS)
        op = self._begin(Kind.LAB)
        lab = await self._post(
            op,
            "/api/v1/catalog/labs",
            {
                "name": {"it": f"Laboratorio {op.marker}", "en": f"Laboratory {op.marker}"},
                "description": {"it": italian, "en": english},
                "province": province,
                "municipality": municipality,
            },
            key,
        )
        op.result_id = lab.get("id")
        if op.result_id is None:
            return
        competence = self._begin(Kind.COMPETENCE)
        created = await self._post(
            competence,
            f"/api/v1/catalog/labs/{op.result_id}/competences",
            {
                "title": {"it": f"{italian} {competence.marker}", "en": english},
                "description": {"it": italian, "en": english},
                "trl_min": 3,
                "trl_max": 8,
                "keywords": [english.split()[0].lower()],
            },
            key,
        )
        competence.result_id = created.get("id")
        publication = self._begin(Kind.PUBLICATION)
        publication.result_id = op.result_id
        await self._post(publication, f"/api/v1/catalog/labs/{op.result_id}/publication", {}, key)

    async def firm(self, rng: random.Random) -> None:
        province, municipality = rng.choice(PLACES)
        op = self._begin(Kind.FIRM)
        firm = await self._post(
            op,
            "/api/v1/matching/firms",
            {
                "name": f"Impresa {op.marker}",
                "vat_number": vat_number(next(self._serials), office="046"),
                "ateco_code": "10.41",
                "employees": rng.randrange(3, 200),
                "turnover_eur": "1200000.00",
                "province": province,
                "municipality": municipality,
            },
            self.keys.region,
        )
        op.result_id = firm.get("id")
        if op.outcome is Outcome.OK and op.result_id:
            self._firms.append(op.result_id)

    async def demand(self, rng: random.Random) -> None:
        if not self._firms:
            return
        italian, _ = rng.choice(TOPICS)
        op = self._begin(Kind.DEMAND)
        demand = await self._post(
            op,
            "/api/v1/matching/demands",
            {
                "firm_id": rng.choice(self._firms),
                "title": f"{italian} {op.marker}",
                "description": f"Una piccola impresa cerca: {italian.lower()}.",
                "needs": [{"text": italian}],
                "trl_current": 4,
                "trl_target": 7,
            },
            self.keys.region,
        )
        op.result_id = demand.get("id")
        if op.result_id is None or rng.random() < 0.2:
            return
        matches = await self._get(
            f"/api/v1/matching/demands/{op.result_id}/matches", self.keys.region, limit=3
        )
        labs = [m for m in (matches or {}).get("items", []) if m["centre_id"] in self._centre_keys]
        if not labs:
            return
        await self._engagement(rng, op.result_id, rng.choice(labs))

    async def _engagement(self, rng: random.Random, demand_id: str, match: dict[str, Any]) -> None:
        op = self._begin(Kind.INTRODUCTION)
        introduction = await self._post(
            op,
            f"/api/v1/matching/demands/{demand_id}/introductions",
            {"lab_id": match["lab_id"], "message": op.marker},
            self.keys.region,
        )
        # After an unknown attempt, the 409 "already pending" names the introduction.
        op.result_id = introduction.get("id") or introduction.get("introduction_id")
        if op.result_id is None or rng.random() < 0.1:
            return
        centre_key = self._centre_keys[match["centre_id"]]
        acceptance = self._begin(Kind.ACCEPTANCE)
        acceptance.result_id = op.result_id
        await self._post(
            acceptance,
            f"/api/v1/matching/introductions/{op.result_id}/acceptance",
            {"reason": "Competenze adatte"},
            centre_key,
        )
        answered = await self._get(f"/api/v1/matching/introductions/{op.result_id}", centre_key)
        engagement_id = (answered or {}).get("engagement_id")
        if engagement_id is None or rng.random() < 0.1:
            return
        closure = self._begin(Kind.CLOSURE)
        closure.result_id = engagement_id
        await self._post(
            closure,
            f"/api/v1/matching/engagements/{engagement_id}/closure",
            {
                "value_eur": f"{rng.randrange(1000, 20000)}.00",
                "delivered": True,
                "satisfaction": rng.randrange(1, 6),
                "innovation_introduced": "product",
            },
            self.keys.region,
        )
