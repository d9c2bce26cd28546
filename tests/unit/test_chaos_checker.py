"""The chaos checker classifies fabricated observations: clean ones pass; lost, duplicated and
unexpected events and effects are found and counted."""

from __future__ import annotations

from collections.abc import Sequence

from clock_cli.chaos.checker import (
    EventObservation,
    InboxRow,
    KpiMismatch,
    OperationRecord,
    OutboxRow,
    StreamMessage,
    check_events,
    check_kpis,
    check_operations,
    recovery_seconds,
)

ADMITTED = "clock.membership.member.admitted.v1"
PUBLISHED = "clock.catalog.lab.published.v1"
SUBMITTED = "clock.matching.demand.submitted.v1"


def sent(event_id: str, event_type: str, seq: int, *, at: float = 100.0) -> OutboxRow:
    return OutboxRow(event_id, event_type, f"subject-{event_id}", at, at + 0.1, seq)


def read(event_id: str, event_type: str, seq: int, *, at: float = 101.0) -> InboxRow:
    return InboxRow(event_id, event_type, seq, at)


def consistent(
    membership: Sequence[OutboxRow], catalog: Sequence[OutboxRow], matching: Sequence[OutboxRow]
) -> EventObservation:
    """Every event in its stream once and read by every consumer of that stream."""
    outbox = {"membership": list(membership), "catalog": list(catalog), "matching": list(matching)}
    streams = {
        service: [StreamMessage(row.stream_seq or 0, row.event_id) for row in rows]
        for service, rows in outbox.items()
    }

    def inbox(*sources: str) -> list[InboxRow]:
        return [
            read(row.event_id, row.event_type, row.stream_seq or 0)
            for source in sources
            for row in outbox[source]
        ]

    return EventObservation(
        outbox=outbox,
        streams=streams,
        inbox={
            "catalog": inbox("membership"),
            "matching": inbox("catalog", "membership"),
            "reporting": inbox("membership", "catalog", "matching"),
        },
    )


def example() -> EventObservation:
    return consistent(
        [sent("m1", ADMITTED, 1), sent("m2", ADMITTED, 2)],
        [sent("c1", PUBLISHED, 1)],
        [sent("d1", SUBMITTED, 1)],
    )


def test_a_consistent_history_passes() -> None:
    verdict = check_events(example())
    assert verdict.ok
    assert (verdict.attempted, verdict.acknowledged, verdict.in_stream) == (4, 4, 4)
    assert verdict.read == {"catalog": 2, "matching": 3, "reporting": 4}
    assert verdict.lost.count == verdict.duplicated.count == verdict.unexpected.count == 0


def test_an_acknowledged_event_missing_from_the_stream_is_lost() -> None:
    observed = example()
    observed.streams = {**observed.streams, "catalog": []}
    observed.inbox = {
        consumer: [r for r in rows if r.event_id != "c1"]
        for consumer, rows in observed.inbox.items()
    }
    verdict = check_events(observed)
    assert not verdict.ok
    assert verdict.lost.count == 1
    assert "c1" in verdict.lost.sample[0] and "not in the stream" in verdict.lost.sample[0]


def test_an_event_a_consumer_never_read_is_lost_for_that_consumer() -> None:
    observed = example()
    observed.inbox = {
        **observed.inbox,
        "catalog": [r for r in observed.inbox["catalog"] if r.event_id != "m2"],
    }
    verdict = check_events(observed)
    assert verdict.lost.count == 1
    assert verdict.lost.sample == ["m2 of membership not read by catalog"]
    assert verdict.read["catalog"] == 1


def test_an_event_never_sent_is_lost_and_unsent() -> None:
    observed = example()
    stuck = OutboxRow("m3", ADMITTED, "subject-m3", 100.0, None, None)
    observed.outbox = {**observed.outbox, "membership": [*observed.outbox["membership"], stuck]}
    verdict = check_events(observed)
    assert verdict.attempted == 5 and verdict.acknowledged == 4
    assert verdict.unsent.count == 1 and verdict.lost.count == 1


def test_a_dead_lettered_event_fails_the_round_but_is_not_lost() -> None:
    observed = example()
    observed.inbox = {
        **observed.inbox,
        "reporting": [r for r in observed.inbox["reporting"] if r.event_id != "d1"],
    }
    observed.dead_letters = {"reporting": ["d1"]}
    verdict = check_events(observed)
    assert verdict.lost.count == 0
    assert verdict.dead_lettered.count == 1
    assert not verdict.ok


def test_an_event_twice_in_the_stream_is_duplicated() -> None:
    observed = example()
    observed.streams = {
        **observed.streams,
        "matching": [StreamMessage(1, "d1"), StreamMessage(2, "d1")],
    }
    verdict = check_events(observed)
    assert verdict.duplicated.count == 1
    assert verdict.duplicated.sample == ["d1 2x in the matching stream"]


def test_an_event_stored_elsewhere_than_acknowledged_is_duplicated() -> None:
    observed = example()
    observed.streams = {**observed.streams, "catalog": [StreamMessage(7, "c1")]}
    verdict = check_events(observed)
    assert verdict.duplicated.count == 1
    assert "acked at 1" in verdict.duplicated.sample[0]


def test_events_no_outbox_held_are_unexpected() -> None:
    observed = example()
    observed.streams = {
        **observed.streams,
        "membership": [*observed.streams["membership"], StreamMessage(3, "ghost")],
    }
    observed.inbox = {
        **observed.inbox,
        "reporting": [*observed.inbox["reporting"], read("phantom", ADMITTED, 9)],
    }
    verdict = check_events(observed)
    assert verdict.unexpected.count == 2
    # The ghost in the stream is not in the catalog's inbox either: it is unexpected, not lost.
    assert verdict.lost.count == 0


def op(
    marker: str, *, acknowledged: bool = True, creates: bool = True, event: str | None = None
) -> OperationRecord:
    expected = (event, f"id-{marker}") if event else None
    return OperationRecord(marker, "demand", acknowledged, creates, expected)


def test_operations_with_one_effect_each_pass() -> None:
    verdict = check_operations(
        [op("chaos-r-1", event=SUBMITTED), op("chaos-r-2", acknowledged=False)],
        {"chaos-r-1": 1},
        [(SUBMITTED, "id-chaos-r-1")],
    )
    assert verdict.ok and (verdict.attempted, verdict.acknowledged) == (2, 1)


def test_an_acknowledged_operation_without_effect_or_event_is_lost() -> None:
    verdict = check_operations(
        [op("chaos-r-1"), op("chaos-r-2", event=SUBMITTED)], {"chaos-r-2": 1}, []
    )
    assert verdict.lost.count == 2
    assert "chaos-r-1 acknowledged, not in the database" in verdict.lost.sample[0]
    assert f"no {SUBMITTED} event" in verdict.lost.sample[1]


def test_an_operation_applied_twice_is_duplicated_even_if_never_acknowledged() -> None:
    retried = OperationRecord("chaos-r-3", "demand", True, True, None, unknown_attempts=1)
    verdict = check_operations(
        [op("chaos-r-1"), op("chaos-r-2", acknowledged=False), retried],
        {"chaos-r-1": 2, "chaos-r-2": 3, "chaos-r-3": 2},
        [],
    )
    assert verdict.duplicated.count == 3
    assert "applied 2x" in verdict.duplicated.sample[0]
    # Only the third was retried after an attempt of unknown outcome.
    assert verdict.duplicated_after_unknown == 1


def test_an_effect_no_operation_made_is_unexpected() -> None:
    verdict = check_operations([op("chaos-r-1")], {"chaos-r-1": 1, "chaos-r-99": 1}, [])
    assert verdict.unexpected.count == 1
    assert verdict.unexpected.sample == ["chaos-r-99 in the database, never attempted"]


def test_kpis_must_equal_the_sources_of_truth() -> None:
    truth = {"demands_received": 10.0, "labs_published": 4.0}
    assert check_kpis({"demands_received": 10.0, "labs_published": 4.0, "other": 1.0}, truth) == []
    assert check_kpis({"demands_received": 11.0}, truth) == [
        KpiMismatch("demands_received", 11.0, 10.0),
        KpiMismatch("labs_published", None, 4.0),
    ]


def test_recovery_is_the_first_read_after_nats_came_back_for_consumers_with_pending_events() -> (
    None
):
    outbox = {
        "membership": [sent("m1", ADMITTED, 1, at=10.0), sent("m2", ADMITTED, 2, at=20.0)],
        "catalog": [sent("c1", PUBLISHED, 1, at=5.0)],
        "matching": [],
    }
    inbox = {
        # m1 was pending at 15 (created 10, read 18): first read after 15 is at 18.
        "catalog": [read("m1", ADMITTED, 1, at=18.0), read("m2", ADMITTED, 2, at=21.0)],
        # Nothing pending at 15 for reporting's streams? c1 was read at 6, m1 at 12.
        "reporting": [read("c1", PUBLISHED, 1, at=6.0), read("m1", ADMITTED, 1, at=12.0)],
        # m1 was pending and matching never read again.
        "matching": [read("c1", PUBLISHED, 1, at=6.0)],
    }
    assert recovery_seconds(15.0, outbox, inbox) == {"catalog": 3.0, "matching": None}
