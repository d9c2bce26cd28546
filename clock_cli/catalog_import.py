"""`clock catalog import FILE --centre ID [--mapping FILE] [--dry-run]`: a spreadsheet into a
centre's catalogue through the gateway's API (`POST /api/v1/catalog/imports`), with a progress
bar while the import job runs, then its report (every row's problems).

The entity (labs, competences, equipment or services) is `--entity`, or guessed from the file's
name (laboratori.csv, attrezzature.xlsx, ...) or else from its columns.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import httpx

from services.catalog.transfer.fields import FIELDS
from services.catalog.transfer.mapping import fold, guess_mapping
from services.catalog.transfer.reading import UnreadableFile, read_table

NAMES = {
    "lab": ("laboratori", "laboratorio", "labs", "lab", "laboratories"),
    "competence": ("competenze", "competenza", "competences", "competence", "skills"),
    "equipment": ("attrezzature", "attrezzatura", "strumenti", "strumentazione", "equipment"),
    "service": ("servizi", "servizio", "services", "service"),
}
POLL_SECONDS = 0.5
BAR_WIDTH = 30
SHOWN_PROBLEMS = 50


class ImportFailed(Exception):
    pass


def guess_entity(path: Path, content: bytes) -> str:
    """From the file's name, else the entity whose fields its headers cover best."""
    words = set(fold(path.stem).split())
    for entity, names in NAMES.items():
        if words & set(names):
            return entity
    try:
        headers = read_table(content, filename=path.name).headers
    except UnreadableFile as exc:
        raise ImportFailed(f"{path}: {exc}") from None
    scores = {
        entity: len(set(guess_mapping(entity, headers).values())) / len(FIELDS[entity])
        for entity in FIELDS
    }
    return max(scores, key=lambda e: scores[e])


def progress_line(job: dict[str, Any]) -> str:
    total = job["rows_total"] or 1
    done = job["rows_done"]
    filled = int(BAR_WIDTH * done / total)
    return (
        f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{job['rows_total']} rows  "
        f"created {job['created']}, updated {job['updated']}, unchanged {job['unchanged']}, "
        f"failed {job['rows_failed']}  ({job['status']})"
    )


def report(job: dict[str, Any], out: IO[str]) -> None:
    kind = "dry run" if job["dry_run"] else f"import {job['id']}"
    print(
        f"{kind} of {job['entity']} for centre {job['centre_id']}: {job['status']}; "
        f"{job['rows_total']} rows: {job['rows_ok']} ok ({job['created']} created, "
        f"{job['updated']} updated, {job['unchanged']} unchanged), {job['rows_failed']} failed",
        file=out,
    )
    mapping = ", ".join(f"{header!r} -> {field}" for header, field in job["mapping"].items())
    print(f"columns: {mapping}", file=out)
    if job.get("unmapped_headers"):
        print(f"columns left out: {', '.join(job['unmapped_headers'])}", file=out)
    for problem in job["errors"][:SHOWN_PROBLEMS]:
        where = f"row {problem['row']}" if problem["row"] is not None else "file"
        column = f", column {problem['column']!r}" if problem["column"] else ""
        value = f" ({problem['value']!r})" if problem.get("value") else ""
        print(f"  {where}{column}{value}: {problem['problem']}", file=out)
    hidden = len(job["errors"]) - SHOWN_PROBLEMS
    if hidden > 0:
        print(f"  ... and {hidden} more (--json shows them all)", file=out)


def run(
    *,
    path: Path,
    centre: str | None,
    entity: str | None,
    mapping_file: Path | None,
    dry_run: bool,
    publish: bool,
    gateway: str,
    key: str,
    as_json: bool,
    transport: httpx.BaseTransport | None = None,
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """0 when every row imported (or would), 1 when some failed, 2 when nothing could run."""
    try:
        content = path.read_bytes()
        chosen = entity or guess_entity(path, content)
        form: dict[str, str] = {"entity": chosen, "dry_run": str(dry_run).lower()}
        form["publish"] = str(publish).lower()
        if centre:
            form["centre_id"] = centre
        if mapping_file is not None:
            form["mapping"] = json.dumps(json.loads(mapping_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, ImportFailed) as exc:
        print(f"clock catalog import: {exc}", file=err)
        return 2
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(
        base_url=gateway.rstrip("/"), headers=headers, timeout=120, transport=transport
    ) as client:
        response = client.post(
            "/api/v1/catalog/imports",
            data=form,
            files={"file": (path.name, content, "application/octet-stream")},
        )
        if response.status_code >= 400:
            print(f"clock catalog import: {_problem_text(response)}", file=err)
            return 2
        job: dict[str, Any] = response.json()
        if not dry_run:
            location = f"/api/v1/catalog/{response.headers['Location']}"
            tty = err.isatty()
            while job["status"] in ("queued", "running"):
                if tty:
                    print(progress_line(job), end="", file=err, flush=True)
                sleep(POLL_SECONDS)
                polled = client.get(location)
                if polled.status_code >= 400:
                    print(f"\nclock catalog import: {_problem_text(polled)}", file=err)
                    return 2
                job = polled.json()
            if tty:
                print(progress_line(job), file=err)
    if as_json:
        print(json.dumps(job, indent=2, ensure_ascii=False), file=out)
    else:
        report(job, out)
    return 0 if job["status"] in ("validated", "completed") and not job["rows_failed"] else 1


def _problem_text(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return f"{response.status_code} {response.text[:300]}"
    lines = [f"{response.status_code} {problem.get('detail') or problem.get('title')}"]
    for error in problem.get("errors") or []:
        where = error.get("column") or error.get("field")
        lines.append(f"  {where}: {error.get('problem') or error.get('message')}")
    return "\n".join(lines)


def default_gateway() -> str:
    return os.environ.get("CLOCK_GATEWAY_URL", "http://127.0.0.1:8000")
