"""Fault injection for `make chaos`: a process kills itself (SIGKILL) at a named point.

The points are the moments a crash is hardest to survive: after a service's commit and before
its relay publishes (`commit_before_publish`), after JetStream acknowledged a publish and
before the relay marks the row sent (`publish_before_mark`), after a consumer's commit and
before its ack (`commit_before_ack`). `CLOCK_FAULTS` names each with a probability, e.g.
`commit_before_ack=0.01,publish_before_mark=0.02`; unset (the default), nothing happens.
"""

from __future__ import annotations

import logging
import os
import random
import signal
from dataclasses import dataclass, field
from enum import StrEnum

log = logging.getLogger(__name__)


class FaultPoint(StrEnum):
    COMMIT_BEFORE_PUBLISH = "commit_before_publish"
    PUBLISH_BEFORE_MARK = "publish_before_mark"
    COMMIT_BEFORE_ACK = "commit_before_ack"


@dataclass(frozen=True)
class Faults:
    probabilities: dict[FaultPoint, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Faults:
        """`name=probability` pairs, comma-separated; an unknown name is an error."""
        probabilities: dict[FaultPoint, float] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, value = item.partition("=")
            try:
                point = FaultPoint(name.strip())
                probability = float(value)
            except ValueError:
                valid = ", ".join(p.value for p in FaultPoint)
                raise ValueError(f"bad fault {item!r}: use name=probability with {valid}") from None
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"bad fault {item!r}: the probability is between 0 and 1")
            probabilities[point] = probability
        return cls(probabilities)

    def __bool__(self) -> bool:
        return any(self.probabilities.values())

    def hit(self, point: FaultPoint) -> None:
        """With the point's probability, die at once as a power cut or OOM kill would."""
        probability = self.probabilities.get(point, 0.0)
        if probability and random.random() < probability:
            log.warning("fault injected: SIGKILL at %s", point.value)
            for handler in logging.getLogger().handlers:
                handler.flush()
            os.kill(os.getpid(), signal.SIGKILL)


NO_FAULTS = Faults()
