"""Every change to the directory leaves a trace: HSDS ``metadata`` rows and a ``directory.<entity>.changed``
event, or, for an import, a ``directory.organization.imported`` event per organisation it touched."""

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lotse_contracts import EventEnvelope, routing_key

from lotse_directory.adapters.ports import StoreSession

SOURCE = "lotse.directory"

ACTIONS = {"create": "created", "update": "updated", "delete": "deleted"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    if not old:  # a creation
        return [n for n, v in new.items() if v is not None]
    names = dict.fromkeys([*old, *new])
    return [n for n in names if old.get(n) != new.get(n)]


def _history(
    entity: str,
    ident: str,
    action: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    fields: list[str],
    updated_by: str,
) -> list[dict[str, Any]]:
    """One HSDS metadata row per changed field (one ``*`` row for a deletion)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows = [
        {
            "id": str(uuid.uuid4()),
            "resource_id": ident,
            "resource_type": entity,
            "last_action_date": now,
            "last_action_type": action,
            "field_name": name,
            "previous_value": _text(old.get(name)),
            "replacement_value": _text(new.get(name)),
            "updated_by": updated_by,
        }
        for name in fields
        if name != "id"
    ]
    if action == "delete":
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "resource_id": ident,
                "resource_type": entity,
                "last_action_date": now,
                "last_action_type": "delete",
                "field_name": "*",
                "previous_value": "",
                "replacement_value": "",
                "updated_by": updated_by,
            }
        )
    return rows


def record_change(
    session: StoreSession,
    *,
    entity: str,
    ident: str,
    action: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    updated_by: str,
    owner_ids: set[str],
    revision: int,
    event: bool = True,
) -> None:
    """Write one history row per changed field and the change event, in the caller's transaction.

    ``event=False``: no event of its own (an import reports its entries with :class:`ImportEvents`).
    """
    fields = changed_fields(old, new) if action != "delete" else []
    session.insert("metadata", _history(entity, ident, action, old, new, fields, updated_by))
    if old:
        session.touch(entity, old)
    if new:
        session.touch(entity, new)
    if not event:
        return
    current = new if action != "delete" else old
    legal_domain = current.get("legal_domain") if entity == "jurisdiction" else None
    region_key = current.get("region_key") if entity == "jurisdiction" else None
    add_change_event(session, entity, ident, action, fields, owner_ids, revision, legal_domain, region_key)


def add_change_event(
    session: StoreSession,
    entity: str,
    ident: str,
    action: str,
    fields: list[str],
    owner_ids: set[str],
    revision: int,
    legal_domain: str | None = None,
    region_key: str | None = None,
) -> None:
    """The ``directory.<entity>.changed`` event (names of the changed fields, never their values)."""
    envelope = EventEnvelope(
        type=f"directory.{entity}.changed",
        source=SOURCE,
        data={
            "entity": entity,
            "id": ident,
            "action": ACTIONS[action],
            "fields": [f for f in fields if f != "id"],
            "organization_ids": sorted(owner_ids),
            "legal_domain": legal_domain,
            "region_key": region_key,
            "revision": revision,
        },
    )
    session.add_event(envelope, routing_key(f"directory.{entity}", "changed", legal_domain, region_key))


class ImportEvents:
    """What one import created and updated, by owning organisation. :meth:`write` adds one
    ``directory.organization.imported`` event per organisation (an import of 100,000 offers touches
    a million entries: a million events would flood every consumer and cost the import a quarter of
    its time); entries no organisation owns (taxonomies and their terms) go under ``None``."""

    def __init__(self) -> None:
        self.import_id = str(uuid.uuid4())
        self._by_org: dict[str | None, dict[str, dict[str, list[str]]]] = {}

    def add(self, entity: str, ident: str, action: str, owner_ids: set[str]) -> None:
        owners: set[str | None] = set(owner_ids) or {None}
        for org in owners:
            entries = self._by_org.setdefault(org, {"created": {}, "updated": {}})
            entries[ACTIONS[action]].setdefault(entity, []).append(ident)

    def write(self, session: StoreSession) -> None:
        key = routing_key("directory.organization", "imported", None, None)
        for org, entries in sorted(self._by_org.items(), key=lambda item: item[0] or ""):
            data = {"organization_id": org, "import_id": self.import_id, **entries}
            session.add_event(EventEnvelope(type="directory.organization.imported", source=SOURCE, data=data), key)
