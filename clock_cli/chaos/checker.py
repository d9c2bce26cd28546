"""The checker of a chaos round, in the manner of Jepsen's queue checker.

Pure functions over what was observed after the round (no I/O, so unit tests fabricate it).

Events. Every event a service committed to its outbox was *attempted*; one JetStream
acknowledged (the row is marked sent) is *acknowledged*; one in a consumer's inbox was *read*
by it. An event is
- *lost* when it is acknowledged (or attempted and never sent) but missing from the stream, or
  in the stream but missing from the inbox of a service that consumes that stream (a
  dead-lettered event is counted apart: it was read, not applied);
- *duplicated* when its id is in the stream more than once (the dedupe window let a resend
  through), or the stream holds it at another sequence than the one the outbox recorded;
- *unexpected* when it is in a stream or an inbox but no outbox ever held it.

Operations. Each workload operation that creates something carries a marker; the databases
are searched for it. An acknowledged creation with no effect is *lost*; any operation with
more than one effect is *duplicated* (a retry ran it twice); an effect whose marker no
operation made is *unexpected*. An acknowledged operation must also have its event in the
outbox (else *lost*).

KPIs. Reporting's totals must equal the counts in the sources of truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

SUBSCRIPTIONS: Mapping[str, tuple[str, ...]] = {
    "catalog": ("membership",),
    "matching": ("catalog", "membership"),
    "reporting": ("membership", "catalog", "matching"),
}
"""Consuming service -> the publishing services whose streams it consumes (services/*/app.py)."""
PUBLISHERS = ("membership", "catalog", "matching")
SAMPLE = 10
"""Ids kept per finding, to print (counts are exact)."""


def source_of(event_type: str) -> str:
    """`clock.<service>.<aggregate>.<event>.v<N>` -> the publishing service."""
    return event_type.split(".")[1]


@dataclass(frozen=True)
class OutboxRow:
    event_id: str
    event_type: str
    subject: str
    created_at: float
    sent_at: float | None
    stream_seq: int | None


@dataclass(frozen=True)
class InboxRow:
    event_id: str
    event_type: str
    stream_seq: int | None
    processed_at: float


@dataclass(frozen=True)
class StreamMessage:
    seq: int
    event_id: str


@dataclass
class EventObservation:
    outbox: Mapping[str, Sequence[OutboxRow]]
    """By publishing service."""
    streams: Mapping[str, Sequence[StreamMessage]]
    """By publishing service (its stream's messages)."""
    inbox: Mapping[str, Sequence[InboxRow]]
    """By consuming service."""
    dead_letters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Event ids dead-lettered, by consuming service."""


@dataclass
class Finding:
    count: int = 0
    sample: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        self.count += 1
        if len(self.sample) < SAMPLE:
            self.sample.append(what)


@dataclass
class EventVerdict:
    attempted: int = 0
    acknowledged: int = 0
    in_stream: int = 0
    read: dict[str, int] = field(default_factory=dict)
    """Events read, by consuming service."""
    lost: Finding = field(default_factory=Finding)
    duplicated: Finding = field(default_factory=Finding)
    unexpected: Finding = field(default_factory=Finding)
    dead_lettered: Finding = field(default_factory=Finding)
    unsent: Finding = field(default_factory=Finding)
    """Attempted and never acknowledged by JetStream (also counted lost)."""

    @property
    def ok(self) -> bool:
        return not (
            self.lost.count
            or self.duplicated.count
            or self.unexpected.count
            or self.dead_lettered.count
        )


def check_events(observed: EventObservation) -> EventVerdict:
    verdict = EventVerdict()
    attempted: dict[str, OutboxRow] = {}
    for service in PUBLISHERS:
        for row in observed.outbox.get(service, ()):
            attempted[row.event_id] = row
    verdict.attempted = len(attempted)
    verdict.acknowledged = sum(row.sent_at is not None for row in attempted.values())

    stream_ids: dict[str, set[str]] = {}
    for service in PUBLISHERS:
        messages = observed.streams.get(service, ())
        counts = Counter(m.event_id for m in messages)
        stream_ids[service] = set(counts)
        verdict.in_stream += len(counts)
        for event_id, times in counts.items():
            if times > 1:
                verdict.duplicated.add(f"{event_id} {times}x in the {service} stream")
        for message in messages:
            origin = attempted.get(message.event_id)
            if origin is None:
                verdict.unexpected.add(f"{message.event_id} in the {service} stream")
            elif origin.stream_seq not in (None, message.seq) and counts[message.event_id] == 1:
                # Stored once, but not where JetStream acknowledged it: a resend was stored
                # and the first copy is gone.
                verdict.duplicated.add(
                    f"{message.event_id} at seq {message.seq}, acked at {origin.stream_seq}"
                )

    for service in PUBLISHERS:
        for row in observed.outbox.get(service, ()):
            if row.sent_at is None:
                verdict.unsent.add(f"{row.event_id} ({row.event_type}) never sent")
                verdict.lost.add(f"{row.event_id} ({row.event_type}) never sent")
            elif row.event_id not in stream_ids[service]:
                verdict.lost.add(f"{row.event_id} ({row.event_type}) acked, not in the stream")

    for consumer, sources in SUBSCRIPTIONS.items():
        rows = observed.inbox.get(consumer, ())
        read = {row.event_id for row in rows}
        dead = set(observed.dead_letters.get(consumer, ()))
        verdict.read[consumer] = len(read)
        for event_id in sorted(dead):
            verdict.dead_lettered.add(f"{event_id} dead-lettered by {consumer}")
        for read_row in rows:
            if read_row.event_id not in attempted:
                verdict.unexpected.add(f"{read_row.event_id} read by {consumer}, never attempted")
        for source in sources:
            for event_id in sorted(stream_ids[source] - read - dead):
                if event_id in attempted:
                    verdict.lost.add(f"{event_id} of {source} not read by {consumer}")
    return verdict


# -- operations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OperationRecord:
    """What the checker needs of a workload operation."""

    marker: str
    kind: str
    acknowledged: bool
    creates: bool
    """Whether it creates one thing carrying its marker."""
    expected_event: tuple[str, str] | None = None
    """(event type, subject) its acknowledgement promises in the outbox."""
    unknown_attempts: int = 0


@dataclass
class OperationVerdict:
    attempted: int = 0
    acknowledged: int = 0
    lost: Finding = field(default_factory=Finding)
    duplicated: Finding = field(default_factory=Finding)
    duplicated_after_unknown: int = 0
    """Duplicated effects of operations retried after an attempt of unknown outcome (the
    gateway forgets an Idempotency-Key whose request got no answer, so the retry runs again)."""
    unexpected: Finding = field(default_factory=Finding)

    @property
    def ok(self) -> bool:
        return not (self.lost.count or self.duplicated.count or self.unexpected.count)


def check_operations(
    operations: Iterable[OperationRecord],
    effects: Mapping[str, int],
    outbox_events: Iterable[tuple[str, str]],
) -> OperationVerdict:
    """`effects`: marker -> things found carrying it; `outbox_events`: (type, subject) of every
    outbox row."""
    verdict = OperationVerdict()
    recorded = set(outbox_events)
    markers = set()
    for op in operations:
        markers.add(op.marker)
        verdict.attempted += 1
        verdict.acknowledged += op.acknowledged
        found = effects.get(op.marker, 0)
        if op.creates and op.acknowledged and found == 0:
            verdict.lost.add(f"{op.kind} {op.marker} acknowledged, not in the database")
        if op.creates and found > 1:
            verdict.duplicated_after_unknown += op.unknown_attempts > 0
            verdict.duplicated.add(
                f"{op.kind} {op.marker} applied {found}x "
                f"({op.unknown_attempts} attempt(s) of unknown outcome before)"
            )
        if op.acknowledged and op.expected_event and op.expected_event not in recorded:
            verdict.lost.add(f"{op.kind} {op.marker}: no {op.expected_event[0]} event")
    for marker in sorted(set(effects) - markers):
        verdict.unexpected.add(f"{marker} in the database, never attempted")
    return verdict


# -- KPIs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiMismatch:
    kpi: str
    reported: float | None
    truth: float


def check_kpis(reported: Mapping[str, float], truth: Mapping[str, float]) -> list[KpiMismatch]:
    """Every KPI of `truth` must be reported with exactly its value."""
    return [
        KpiMismatch(kpi, reported.get(kpi), value)
        for kpi, value in sorted(truth.items())
        if reported.get(kpi) != value
    ]


# -- recovery after a NATS restart ---------------------------------------------------------------


def recovery_seconds(
    restarted_at: float,
    outbox: Mapping[str, Sequence[OutboxRow]],
    inbox: Mapping[str, Sequence[InboxRow]],
) -> dict[str, float | None]:
    """For each consumer with events pending when NATS came back (created before, read after),
    the seconds to its first inbox commit after the restart (None: it never read again)."""
    result: dict[str, float | None] = {}
    for consumer, rows in inbox.items():
        read_at = {row.event_id: row.processed_at for row in rows}
        sources = SUBSCRIPTIONS.get(consumer, ())
        never = float("inf")
        pending = any(
            row.created_at <= restarted_at < read_at.get(row.event_id, never)
            for source in sources
            for row in outbox.get(source, ())
        )
        if not pending:
            continue
        after = [t for t in read_at.values() if t > restarted_at]
        result[consumer] = min(after) - restarted_at if after else None
    return result
