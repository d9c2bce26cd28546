"""`clock chaos`: the platform under faults, and a checker that nothing was lost or duplicated.

`run_round(RoundOptions(...))` runs one round and returns its `RoundResult`; `chaos(...)` runs
several, prints each summary and the tally, and returns the exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from clock_cli.chaos.injector import DEFAULT_KINDS, FaultKind
from clock_cli.chaos.report import summary, tally, tally_line, write_json
from clock_cli.chaos.round import RoundOptions, RoundResult, run_round

__all__ = ["DEFAULT_KINDS", "FaultKind", "RoundOptions", "RoundResult", "chaos", "run_round"]


def parse_kinds(text: str) -> tuple[FaultKind, ...]:
    """`nats,service,...`; `all` (or empty) is every kind in sequence, then mixed; `none` is
    no fault at all (a baseline)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names or names == ["all"]:
        return DEFAULT_KINDS
    if names == ["none"]:
        return ()
    return tuple(FaultKind(name) for name in names)


def chaos(options: RoundOptions, *, rounds: int = 1, output: Path | None = None) -> int:
    results: list[RoundResult] = []
    for number in range(1, rounds + 1):
        result = run_round(options, number)
        results.append(result)
        print(summary(result), flush=True)
        if output is not None:
            write_json(output, results)
    if rounds > 1:
        print(tally_line(tally(results)))
    if output is not None:
        print(f"results written to {output}")
    failed = [r for r in results if not r.passed]
    if failed:
        print(f"chaos: {len(failed)} of {rounds} round(s) failed", file=sys.stderr)
        return 1
    return 0
