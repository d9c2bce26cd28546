from __future__ import annotations

from pathlib import Path

import yaml

import kernel.contracts
from kernel.asyncapi import asyncapi_document, render_yaml
from kernel.events import EventRegistry
from tests.unit.test_events import ThingBroken, ThingMade

CHECKED_IN = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def test_checked_in_asyncapi_document_is_current() -> None:
    expected = render_yaml(asyncapi_document(kernel.contracts.registry))
    assert CHECKED_IN.read_text() == expected, "docs/asyncapi.yaml is stale: run `make asyncapi`"


def test_document_describes_each_contract() -> None:
    events = EventRegistry()
    events.register(ThingMade)
    events.register(ThingBroken)
    document = yaml.safe_load(render_yaml(asyncapi_document(events)))
    assert document["asyncapi"] == "3.0.0"
    channel = document["channels"]["testingThingMade"]
    assert channel["address"] == "clock.testing.thing.made"
    message = document["components"]["messages"]["ThingMadeEvent"]
    assert message["name"] == "clock.testing.thing.made.v1"
    schema = document["components"]["schemas"]["ThingMadeEvent"]
    assert schema["properties"]["type"]["const"] == "clock.testing.thing.made.v1"
    assert "aggregateversion" in schema["required"]
    data_ref = schema["properties"]["data"]["$ref"].rsplit("/", 1)[1]
    assert document["components"]["schemas"][data_ref]["required"] == ["name"]
    operation = document["operations"]["publishTestingThingBrokenV2"]
    assert operation["action"] == "send"
