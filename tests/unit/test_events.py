from __future__ import annotations

import json
from uuid import UUID

import pytest
from pydantic import ValidationError

from kernel.events import CloudEvent, EventData, EventRegistry, RawData, parse_type, subject_of


class ThingMade(EventData):
    """A thing was made."""

    event_type = "clock.testing.thing.made.v1"
    name: str


class ThingBroken(EventData):
    event_type = "clock.testing.thing.broken.v2"
    reason: str


@pytest.fixture
def events() -> EventRegistry:
    registry = EventRegistry()
    registry.register(ThingMade)
    registry.register(ThingBroken)
    return registry


def test_envelope_is_cloudevents_with_clock_extensions(events: EventRegistry) -> None:
    event = events.build(ThingMade(name="x"), subject="t-1", aggregate_version=3, request_id="r-1")
    document = json.loads(event.model_dump_json())
    assert document["specversion"] == "1.0"
    assert document["source"] == "/clock/testing"
    assert document["type"] == "clock.testing.thing.made.v1"
    assert document["subject"] == "t-1"
    assert document["datacontenttype"] == "application/json"
    assert document["aggregateversion"] == 3
    assert document["requestid"] == "r-1"
    assert document["data"] == {"name": "x"}
    assert UUID(document["id"]).version == 7
    assert document["time"].endswith("Z") or document["time"].endswith("+00:00")


def test_ids_sort_by_time(events: EventRegistry) -> None:
    ids = [
        events.build(ThingMade(name="x"), subject="s", aggregate_version=1).id for _ in range(50)
    ]
    assert ids == sorted(ids)


def test_parse_returns_the_typed_model(events: EventRegistry) -> None:
    raw = events.build(ThingBroken(reason="dropped"), subject="t", aggregate_version=1)
    parsed = events.parse(raw.model_dump_json())
    assert isinstance(parsed.data, ThingBroken)
    assert parsed.data.reason == "dropped"
    assert parsed == raw


def test_union_is_discriminated_by_type(events: EventRegistry) -> None:
    raw = events.build(ThingMade(name="y"), subject="t", aggregate_version=1).model_dump(
        mode="json"
    )
    parsed = events.union_adapter().validate_python(raw)
    assert isinstance(parsed.data, ThingMade)
    raw["type"] = "clock.testing.thing.broken.v2"
    with pytest.raises(ValidationError):
        events.union_adapter().validate_python(raw)  # data does not fit the named type


def test_unknown_type_parses_as_raw_data(events: EventRegistry) -> None:
    document = events.build(ThingMade(name="z"), subject="t", aggregate_version=1)
    raw = document.model_dump(mode="json") | {"type": "clock.other.thing.seen.v1"}
    parsed = events.parse(json.dumps(raw))
    assert isinstance(parsed, CloudEvent)
    assert isinstance(parsed.data, RawData)


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"{}", b'{"specversion": "0.3"}', b'{"data": {}, "type": "x"}'],
)
def test_malformed_documents_are_rejected(events: EventRegistry, payload: bytes) -> None:
    with pytest.raises(ValidationError):
        events.parse(payload)


def test_extra_data_fields_are_rejected(events: EventRegistry) -> None:
    document = events.build(ThingMade(name="z"), subject="t", aggregate_version=1)
    raw = document.model_dump(mode="json")
    raw["data"]["unexpected"] = 1
    with pytest.raises(ValidationError):
        events.parse(json.dumps(raw))


def test_type_names_and_subjects() -> None:
    assert parse_type("clock.catalog.lab.published.v2") == ("catalog", "lab", "published", 2)
    assert subject_of("clock.catalog.lab.published.v2") == "clock.catalog.lab.published"
    for bad in ("catalog.lab.published.v1", "clock.catalog.lab.published", "clock.Catalog.l.p.v1"):
        with pytest.raises(ValueError):
            parse_type(bad)


def test_a_type_cannot_be_registered_twice(events: EventRegistry) -> None:
    class Impostor(EventData):
        event_type = "clock.testing.thing.made.v1"

    with pytest.raises(ValueError):
        events.register(Impostor)


def test_unregistered_contract_cannot_be_built(events: EventRegistry) -> None:
    class Stray(EventData):
        event_type = "clock.testing.stray.seen.v1"

    with pytest.raises(LookupError):
        events.build(Stray(), subject="s", aggregate_version=1)
