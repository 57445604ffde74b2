"""The event envelope (CloudEvents-like), routing keys and versioned event schemas."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

EXCHANGE = "lotse.events"
"""The one durable topic exchange every service publishes to."""

DEAD_LETTERS = "lotse.dead"
"""The durable topic exchange a service's queue sends the messages it could not process to, under the
queue's own name as routing key: they wait in ``<queue>.dead`` for an operator."""

ANY = "any"
"""Routing-key segment for events that concern no single legal domain or region."""


def routing_key(aggregate: str, event: str, legal_domain: str | None, region_key: str | None) -> str:
    """``<aggregate>.<event>.<legal domain>.<region key>``, e.g. ``referral.requested.sgb_viii.05954036``."""
    domain = (legal_domain or ANY).lower()
    region = region_key or ANY
    return f"{aggregate}.{event}.{domain}.{region}"


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    """A fact one service tells the others; ``id`` is the idempotency key.

    Events carry no personal data: ids, domain, region, recipient and status only.
    """

    type: str
    source: str
    data: dict[str, Any]
    version: int = 1
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))
    requestid: str | None = None
    """Extension attribute (CloudEvents style): the id of the request that caused the event, so that its
    handling can be followed through every service's logs."""

    def to_dict(self) -> dict[str, Any]:
        found = {
            "id": self.id,
            "type": self.type,
            "version": self.version,
            "source": self.source,
            "time": self.time,
            "data": self.data,
        }
        if self.requestid:
            found["requestid"] = self.requestid
        return found

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "EventEnvelope":
        return cls(
            id=str(raw["id"]),
            type=str(raw["type"]),
            version=int(raw["version"]),
            source=str(raw["source"]),
            time=str(raw["time"]),
            data=dict(raw["data"]),
            requestid=str(raw["requestid"]) if raw.get("requestid") else None,
        )


def schema_name(event_type: str) -> str:
    """The schema an event type is checked against; ``directory.<entity>.changed`` share one, and so do
    the ``referral.<event>`` types and the two ``notification.*`` reports."""
    parts = event_type.split(".")
    if len(parts) == 3 and parts[0] == "directory" and parts[2] == "changed":
        return "directory.entity.changed"
    if len(parts) == 2 and parts[0] == "referral":
        return "referral.event"
    if event_type in ("notification.delivered", "notification.failed"):
        return "notification.delivery"
    return event_type


@cache
def event_schema(event_type: str, version: int) -> dict[str, Any]:
    """The JSON Schema (2020-12) of an event's whole envelope for one type and version."""
    name = f"{schema_name(event_type)}.v{version}.json"
    text = resources.files("lotse_contracts").joinpath("schemas", name).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_documents() -> dict[str, dict[str, Any]]:
    """Every schema of this package (envelope and events) by its ``$id``, for resolving references."""
    found = {}
    for entry in resources.files("lotse_contracts").joinpath("schemas").iterdir():
        if entry.name.endswith(".json"):
            schema: dict[str, Any] = json.loads(entry.read_text("utf-8"))
            found[str(schema["$id"])] = schema
    return found


def known_event_schemas() -> list[tuple[str, int]]:
    """Every (schema name, version) that has a schema in this package."""
    found = []
    for entry in resources.files("lotse_contracts").joinpath("schemas").iterdir():
        stem = entry.name.removesuffix(".json")
        if stem == entry.name or ".v" not in stem or stem.startswith("envelope"):
            continue
        event_type, _, version = stem.rpartition(".v")
        found.append((event_type, int(version)))
    return sorted(found)
