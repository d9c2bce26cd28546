"""CloudEvents 1.0 envelope and the registry of typed event contracts.

A contract is a pydantic model of the event's `data`, registered with its CloudEvents `type`
(`clock.<service>.<aggregate>.<event>.v<N>`). The registry builds, for every contract, an
envelope model whose `type` is a literal, and a union of them discriminated by `type`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar, Union, cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model
from uuid6 import uuid7

TYPE_PATTERN = re.compile(r"^clock\.([a-z]+)\.([a-z_]+)\.([a-z_]+)\.v([1-9][0-9]*)$")


class EventData(BaseModel):
    """Base of every event contract (the CloudEvents `data`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    """Full CloudEvents type, e.g. `clock.membership.member.suspended.v1`."""


DataT = TypeVar("DataT", bound=BaseModel)
ContractT = TypeVar("ContractT", bound=type[EventData])


def now_utc() -> datetime:
    return datetime.now(UTC)


class CloudEvent(BaseModel, Generic[DataT]):
    """CloudEvents 1.0, structured JSON mode, with CLOCK's extension attributes."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: UUID = Field(default_factory=uuid7, description="Time-sortable UUIDv7.")
    source: str = Field(pattern=r"^/clock/[a-z]+$")
    type: str
    subject: str = Field(min_length=1, description="The aggregate id.")
    time: datetime = Field(default_factory=now_utc)
    datacontenttype: Literal["application/json"] = "application/json"
    aggregateversion: int = Field(ge=1, description="Increments per aggregate.")
    traceparent: str | None = None
    requestid: str | None = None
    data: DataT


class RawData(BaseModel):
    """Data of an event whose type this process does not know."""

    model_config = ConfigDict(extra="allow")


def parse_type(event_type: str) -> tuple[str, str, str, int]:
    """(`service`, `aggregate`, `event`, `version`) of a CloudEvents type."""
    match = TYPE_PATTERN.match(event_type)
    if match is None:
        raise ValueError(f"not a CLOCK event type: {event_type!r}")
    service, aggregate, name, version = match.groups()
    return service, aggregate, name, int(version)


def subject_of(event_type: str) -> str:
    """The NATS subject of a type: the type without its version."""
    return event_type.rsplit(".", 1)[0]


def stream_of(service: str) -> str:
    return f"CLOCK_{service.upper()}"


class EventRegistry:
    """Contracts by type. The kernel's `registry` holds every contract of the platform."""

    def __init__(self) -> None:
        self._contracts: dict[str, type[EventData]] = {}
        self._envelopes: dict[str, type[CloudEvent[Any]]] = {}
        self._adapter: TypeAdapter[Any] | None = None

    def register(self, contract: ContractT) -> ContractT:
        event_type = contract.event_type
        parse_type(event_type)
        if event_type in self._contracts and self._contracts[event_type] is not contract:
            raise ValueError(f"event type registered twice: {event_type}")
        self._contracts[event_type] = contract
        envelope = cast(
            "type[CloudEvent[Any]]",
            create_model(
                f"{contract.__name__}Event",
                __base__=CloudEvent[contract],  # type: ignore[valid-type]
                type=(Literal[event_type], event_type),  # type: ignore[arg-type]
            ),
        )
        envelope.__doc__ = contract.__doc__
        self._envelopes[event_type] = envelope
        self._adapter = None
        return contract

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._contracts

    def __iter__(self) -> Iterator[type[EventData]]:
        return iter(sorted(self._contracts.values(), key=lambda c: c.event_type))

    def envelope(self, event_type: str) -> type[CloudEvent[Any]]:
        return self._envelopes[event_type]

    def union_adapter(self) -> TypeAdapter[Any]:
        """A TypeAdapter for the union of all envelopes, discriminated by `type`."""
        if self._adapter is None:
            envelopes = tuple(self._envelopes[t] for t in sorted(self._envelopes))
            if not envelopes:
                raise LookupError("no event contracts registered")
            if len(envelopes) == 1:
                self._adapter = TypeAdapter(envelopes[0])
            else:
                self._adapter = TypeAdapter(
                    Annotated[Union[envelopes], Field(discriminator="type")]  # type: ignore[arg-type]  # noqa: UP007
                )
        return self._adapter

    def parse(self, raw: bytes | str) -> CloudEvent[Any]:
        """Typed event for a known type; `CloudEvent[RawData]` for an unknown one.

        Raises pydantic.ValidationError when the document is not a valid event.
        """
        envelope = CloudEvent[RawData].model_validate_json(raw)
        if envelope.type not in self._envelopes:
            return envelope
        return self._envelopes[envelope.type].model_validate_json(raw)

    def build(
        self,
        data: EventData,
        *,
        subject: str,
        aggregate_version: int,
        traceparent: str | None = None,
        request_id: str | None = None,
        time: datetime | None = None,
    ) -> CloudEvent[Any]:
        event_type = type(data).event_type
        if event_type not in self._contracts:
            raise LookupError(f"unregistered event type: {event_type}")
        service, _, _, _ = parse_type(event_type)
        return self._envelopes[event_type](
            source=f"/clock/{service}",
            type=event_type,
            subject=subject,
            aggregateversion=aggregate_version,
            traceparent=traceparent,
            requestid=request_id,
            data=data,
            **({"time": time} if time else {}),
        )


registry = EventRegistry()
"""Every contract of the platform; `kernel.contracts` fills it at import."""


def event(contract: ContractT) -> ContractT:
    """Class decorator: register a contract in the platform registry."""
    return registry.register(contract)
