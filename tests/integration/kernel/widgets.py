"""A throwaway 'testing' service for the kernel tests: one event contract and one projection."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table

from kernel.events import EventData, EventRegistry

metadata = MetaData()

applied_events = Table(
    "applied_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("widget_id", String(36), nullable=False),
    Column("n", Integer, nullable=False),
)


class WidgetChanged(EventData):
    """A widget changed; `n` counts changes across all widgets of a test."""

    event_type = "clock.testing.widget.changed.v1"
    n: int


events = EventRegistry()
events.register(WidgetChanged)
