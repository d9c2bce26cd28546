"""schemathesis against the running platform: every operation of the merged OpenAPI document
the gateway serves, with every check schemathesis has, as the Region (and, for the catalogue's
writes, as a member centre). Deterministic: the same cases on every run.

`CLOCK_FUZZ_EXAMPLES` (default 6) bounds the examples per operation of the fuzzing phase;
`make fuzz` runs a longer campaign. The few failures tolerated below are narrowed to the exact
operation, check and cause, each with the reason it is not a defect (or, for code this test's
owners may not change, where it is reported).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import Case, Response
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.engine import events
from schemathesis.openapi.checks import (
    RejectedPositiveData,
    UnsupportedMethodResponse,
)

from tests.e2e.platform import (
    RunningPlatform,
    create_api_key,
    fresh_ports,
    start_platform,
    stop_platform,
)

# Thousands of requests in a few minutes from one key: the gateway's rate limits would answer
# 429 to most of them, and this test is about what the services answer.
UNTHROTTLED = {"CLOCK_GATEWAY_RATE_LIMIT_ENABLED": "false"}
EXAMPLES = int(os.environ.get("CLOCK_FUZZ_EXAMPLES", "6"))
SIGNATORIES = uuid.uuid5(uuid.NAMESPACE_DNS, "membership.clock.toscana.it")
TLS = str(uuid.uuid5(SIGNATORIES, "signatory:tls"))

STATEFUL_STEPS = int(os.environ.get("CLOCK_FUZZ_STATEFUL_STEPS", "10"))
# The catalogue is written by the staff of a member centre only: its writes are run with a
# centre's key (Toscana Life Sciences, a founding centre with demo labs); everything else as the
# Region, who may read everything.
CENTRE_WRITE_PATHS = r"^/api/v1/catalog/(labs|competences|equipment|services)(/|$)"

# Cursors are opaque: only a `next_cursor` the server gave is valid, so any other string a
# generator invents is rightly a 422 (DESIGN: validation is 422).
CURSOR = ("cursor", None)
# Amounts in EUR have two decimals at most: a JSON number such as 0.001 cannot say so in the
# schema without `multipleOf`, which floating point makes unusable.
MONEY = tuple(
    (field, words)
    for words in ("decimal places", "digits in total")
    for field in (
        "budget_eur",
        "prize_eur",
        "tariff_eur_per_hour",
        "value_eur",
        "turnover_eur",
        "balance_sheet_eur",
    )
)
# E-mail addresses: the documented pattern excludes blanks with `\s`, which the schema's regex
# engine and Python's (which the services validate with) read differently for a few control
# characters (U+001C-U+001F): such an address is schema-valid and rightly refused.
EMAILS = tuple(
    (field, "not an e-mail address")
    for field in ("email", "contact_email", "representative.email", "organisation.email")
) + tuple(
    # Web addresses likewise: the documented pattern is the validator's, but the two engines
    # read `\s` differently for control characters.
    (field, "not a web address")
    for field in ("website", "organisation.website")
)
# Codes must exist in the taxonomy (thousands of ATECO codes: no enum in the document).
TAXONOMY_FILTERS = tuple((name, "code") for name in ("ateco", "s3", "ket", "erc", "ford"))

INITIATIVE_RULES = (
    *(("tags." + name, code) for name, code in TAXONOMY_FILTERS),
    *(
        (field, None)
        for field in (
            "start_date",
            "end_date",
            "start_time",
            "end_time",
            "province",
            "municipality",
            "venue",
            "partner_centres",
            "public_funding_eur",
            "registered_participants",
            "attending_participants",
            "registration_open",
            "kind",
            "status",
        )
    ),
)

# A challenge: the Region or a centre names the registered firm it publishes for; a sector of
# the ATECO list; a deadline in the future (and within the calendar once in UTC); firms to
# invite only for an `invited` challenge, registered, not the publisher.
CHALLENGE_RULES = (
    ("publisher_firm_id", None),
    ("sector", None),
    ("deadline", "not in the future"),
    ("deadline", "out of range"),
    ("invited_firm_ids", None),
)
# An expression of interest: a team of firms or labs (exactly one of the two ids), registered
# firms and published labs, no repeats, the respondent in it; responses to needs the challenge
# has, by members the team has.
EXPRESSION_RULES = (("members", None), ("responses", None))

# Schema-valid requests that a business rule rejects with 422: (field, words of the message).
# Each is a rule the document cannot state (check digits, code lists, cross-field rules, dates
# relative to today); a 422 for anything else still fails the test.
BUSINESS_RULES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "POST /api/v1/membership/organisations": (
        ("vat_number", None),  # partita IVA check digit
        ("municipality", None),  # the comune must belong to the province (ISTAT list)
        ("province", None),  # an ISTAT province code, not any two letters
    ),
    "PATCH /api/v1/membership/organisations/{organisation_id}": (
        ("vat_number", None),
        ("municipality", None),
        ("province", None),
    ),
    "POST /api/v1/membership/applications": (
        ("organisation.vat_number", None),
        ("organisation.municipality", None),
        ("organisation.province", None),
        ("operating_units", None),
    ),
    "POST /api/v1/membership/applications/{application_id}/decision": (
        ("votes", "votes for must exceed"),  # admit needs a majority, reject needs none
    ),
    "POST /api/v1/membership/protocol/renewals": (
        ("renewed_on", "between the signature"),  # a date between signature and today
    ),
    "POST /api/v1/catalog/labs": (("municipality", None), ("province", None)),
    # An initiative's rules across fields: dates in order, an event's date and place (the comune
    # in the province), partner centres that are members, funding within the budget, event-only
    # fields on events, attendance within registrations once closed, a joint action's partner.
    "POST /api/v1/catalog/initiatives": INITIATIVE_RULES,
    "PATCH /api/v1/catalog/initiatives/{initiative_id}": INITIATIVE_RULES,
    "GET /api/v1/catalog/initiatives": TAXONOMY_FILTERS,
    "GET /api/v1/catalog/initiatives/calendar": TAXONOMY_FILTERS,
    "GET /api/v1/catalog/initiatives/calendar.ics": TAXONOMY_FILTERS,
    # The file must be a readable CSV or XLSX whose columns can be mapped, for a member centre.
    "POST /api/v1/catalog/imports": (("file", None), ("mapping", None), ("centre_id", None)),
    "PATCH /api/v1/catalog/labs/{lab_id}": (("municipality", None), ("province", None)),
    "POST /api/v1/catalog/labs/{lab_id}/competences": (
        *(("tags." + name, code) for name, code in TAXONOMY_FILTERS),
        ("trl_max", "must not be lower"),  # trl_min <= trl_max
    ),
    "PATCH /api/v1/catalog/competences/{entry_id}": (
        *(("tags." + name, code) for name, code in TAXONOMY_FILTERS),
        ("trl_max", "must not be lower"),
    ),
    "POST /api/v1/catalog/labs/{lab_id}/equipment": tuple(
        ("tags." + name, code) for name, code in TAXONOMY_FILTERS
    ),
    "PATCH /api/v1/catalog/equipment/{entry_id}": tuple(
        ("tags." + name, code) for name, code in TAXONOMY_FILTERS
    ),
    "POST /api/v1/catalog/labs/{lab_id}/services": tuple(
        ("tags." + name, code) for name, code in TAXONOMY_FILTERS
    ),
    "PATCH /api/v1/catalog/services/{entry_id}": tuple(
        ("tags." + name, code) for name, code in TAXONOMY_FILTERS
    ),
    "GET /api/v1/catalog/competences": TAXONOMY_FILTERS,
    "GET /api/v1/catalog/equipment": TAXONOMY_FILTERS,
    "GET /api/v1/catalog/services": TAXONOMY_FILTERS,
    "GET /api/v1/catalog/search": TAXONOMY_FILTERS,
    "POST /api/v1/matching/firms": (
        ("vat_number", None),
        ("ateco_code", None),  # an ATECO 2025 (or mappable 2007) code
        ("municipality", None),
        ("province", None),
        ("body", "size_class"),  # size class or the figures to derive it
    ),
    "POST /api/v1/matching/demands": (
        ("sector", None),
        ("preferred_provinces", None),
        ("deadline", "in the past"),
        ("body", "trl_target"),  # the target TRL is not below the current one
        *(("needs", code) for _, code in TAXONOMY_FILTERS),
    ),
    "POST /api/v1/matching/challenges": CHALLENGE_RULES,
    "PATCH /api/v1/matching/challenges/{challenge_id}": CHALLENGE_RULES,
    "POST /api/v1/matching/challenges/{challenge_id}/expressions": EXPRESSION_RULES,
    # Only an expression of interest of this challenge is awarded (an id the document cannot list).
    "POST /api/v1/matching/challenges/{challenge_id}/award": (("expression_id", None),),
    "PATCH /api/v1/matching/challenges/{challenge_id}/expressions/{expression_id}": (
        EXPRESSION_RULES
    ),
    "POST /api/v1/matching/demands/{demand_id}/introductions": (
        ("body", "either lab_id or consortium"),  # exactly one of the two
    ),
    "POST /api/v1/matching/equipment/{equipment_id}/access-requests": (
        ("body", "end must be after start"),
        ("body", "time zone"),
        ("start", "in the past"),
    ),
    # Reporting: a date the pattern admits may not exist (2026-02-31), `from` may come after
    # `to`, a range may hold too many buckets.
    "GET /api/v1/reporting/kpis": (("from", None), ("to", None)),
    "GET /api/v1/reporting/timeseries": (("from", None), ("to", None)),
    "GET /api/v1/audit": (("from", "before"),),  # the gateway's: `from` before `to`
}

# gateway/ (not ours to change here; reported): the gateway's own paths answer another method
# with 404 (it falls through to the proxy route: "no service 'whoami'") instead of 405.
GATEWAY_WRONG_METHOD = {"GET /api/v1/whoami", "GET /api/v1/audit"}
# gateway/ (reported): GET /api/v1/audit accepts a `from` or `to` that is not a date-time.
GATEWAY_ACCEPTS_INVALID = {"GET /api/v1/audit"}


@dataclass(frozen=True)
class Finding:
    operation: str
    failure: Failure
    status: int | None
    body: str
    curl: str

    def __str__(self) -> str:
        return (
            f"{self.operation} -> {self.status}: {self.failure}\n    {self.body}\n    {self.curl}"
        )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clock-e2e-schemathesis")


@pytest.fixture(scope="module")
def platform(data_dir: Path) -> Iterator[RunningPlatform]:
    running = start_platform(data_dir, fresh_ports(), env=UNTHROTTLED)
    yield running
    stop_platform(running)


def label(case: Case) -> str:
    """The operation the case was generated for (an undeclared-method probe keeps it)."""
    return f"{case.operation.method.upper()} {case.operation.path}"


def problem_fields(response: Response) -> list[tuple[str, str]]:
    """(field, message) of each invalid field of a problem document."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    errors = body.get("errors")
    if not isinstance(errors, list) or not errors:
        return [("", str(body.get("detail", "")))]
    return [(str(e.get("field", "")), str(e.get("message", ""))) for e in errors]


def rule_allows(operation: str, fields: list[tuple[str, str]]) -> bool:
    """Whether every invalid field of a 422 is a cursor or a business rule of the operation."""
    rules = (CURSOR, *MONEY, *EMAILS, *BUSINESS_RULES.get(operation, ()))
    return bool(fields) and all(
        any(
            (field == name or field.startswith(name + ".")) and (words is None or words in message)
            for name, words in rules
        )
        for field, message in fields
    )


def tolerated(case: Case, failure: Failure, response: Response | None) -> bool:
    if response is None:
        return False
    operation = label(case)
    status = response.status_code
    if isinstance(failure, RejectedPositiveData):
        # Conditional writes: a generated If-Match cannot name the current ETag (412), and
        # PATCH needs one (428). Both are the documented protocol, not a rejected input.
        if status in (412, 428):
            return True
        return status == 422 and rule_allows(operation, problem_fields(response))
    if isinstance(failure, UnsupportedMethodResponse):
        return operation in GATEWAY_WRONG_METHOD
    if isinstance(failure, AcceptedNegativeData):
        return operation in GATEWAY_ACCEPTS_INVALID
    return False


def findings(event: events.EngineEvent) -> Iterator[Finding]:
    """The failures an engine event reports that are not tolerated above."""
    if not isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
        return
    recorder = event.recorder
    for case_id, nodes in recorder.checks.items():
        for node in nodes:
            if node.failure_info is None:
                continue
            case = recorder.cases[case_id].value
            response = recorder.find_response(case_id=case_id)
            failure = node.failure_info.failure
            if not tolerated(case, failure, response):
                yield Finding(
                    label(case),
                    failure,
                    response.status_code if response else None,
                    response.content[:2000].decode(errors="replace") if response else "",
                    node.failure_info.code_sample,
                )


def without_idempotency_keys(document: dict[str, Any]) -> dict[str, Any]:
    """The document without the gateway's optional `Idempotency-Key` header.

    Deterministic generation sends the same few keys ("0", "!") with different requests (and
    with the undeclared-method probes), which the gateway rightly refuses (422: a key reused
    with another request): those cases would never reach the service under test. The gateway's
    own tests cover Idempotency-Key."""

    def keep(parameter: Any) -> bool:
        if not isinstance(parameter, dict):
            return True
        ref = str(parameter.get("$ref", ""))
        return parameter.get("name") != "Idempotency-Key" and not ref.endswith("IdempotencyKey")

    for item in document["paths"].values():
        for operation in [item, *(v for v in item.values() if isinstance(v, dict))]:
            if isinstance(operation.get("parameters"), list):
                operation["parameters"] = [p for p in operation["parameters"] if keep(p)]
    return document


def test_every_operation_with_every_check(platform: RunningPlatform, data_dir: Path) -> None:
    assert platform.region_key
    centre_key = create_api_key(platform, data_dir, "centre", TLS)
    config = schemathesis.Config.from_dict(
        {
            "base-url": platform.gateway,
            "headers": {"Authorization": f"Bearer {platform.region_key}"},
            "continue-on-failure": True,  # every case of an operation, not up to the first failure
            "checks": {"enabled": True},  # every check (`--checks all`)
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
            "operations": [
                {
                    "include-path-regex": CENTRE_WRITE_PATHS,
                    "include-method-regex": "^(POST|PATCH|DELETE)$",
                    "headers": {"Authorization": f"Bearer {centre_key}"},
                }
            ],
        }
    )
    document = httpx.get(f"{platform.gateway}/api/v1/openapi.json", timeout=30).json()
    assert not document["info"]["x-unavailable-services"], "a service was down"
    schema = schemathesis.openapi.from_dict(without_idempotency_keys(document), config=config)
    found: list[Finding] = []
    errors: list[str] = []
    tested: set[str] = set()
    for event in schemathesis.engine.from_schema(schema).execute():
        found.extend(findings(event))
        if isinstance(event, events.ScenarioFinished) and event.label:
            tested.add(event.label)
        if isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(str(getattr(event, "value", None) or getattr(event, "exception", "")))
    unique = {(f.operation, type(f.failure).__name__, f.status): f for f in found}
    report = "\n".join(str(f) for f in unique.values())
    assert not errors, "schemathesis could not run:\n" + "\n".join(errors)
    assert not unique, f"{len(unique)} kinds of failure:\n{report}"
    operations = {
        f"{method.upper()} {path}"
        for path, item in schema.raw_schema["paths"].items()
        for method in item
        if method in ("get", "put", "post", "patch", "delete")
    }
    assert operations <= tested, f"not tested: {sorted(operations - tested)}"
