"""An offer's opening hours, read and replaced as one thing: the editor's form becomes the offer's own schedules
in one transaction, guarded by the offer's revision (a change of the hours is a change of the offer, its
``last_modified``), so two maintainers editing the same hours conflict instead of doubling them."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lotse_contracts import TokenClaims
from lotse_kit.errors import Invalid, parse_if_match

from lotse_directory.adapters.ports import DirectoryStore
from lotse_directory.domain import opening_hours
from lotse_directory.domain.verification import utc_stamp
from lotse_directory.use_cases.entries import Entries, Entry


@dataclass(frozen=True, slots=True)
class Hours:
    service: Entry
    hours: dict[str, Any]
    kept: list[dict[str, Any]]
    """The offer's schedules the editor cannot show; a change of the hours leaves them as they are."""


class OpeningHours:
    def __init__(self, store: DirectoryStore, entries: Entries) -> None:
        self.store = store
        self.entries = entries

    def get(self, claims: TokenClaims, service_id: str) -> Hours:
        service = self.entries.get(claims, "service", service_id)
        with self.store.transaction() as session:
            found = opening_hours.split(session.select("schedule", {"service_id": service_id}))
        return Hours(service, found.hours, [_public(r) for r in found.kept])

    def replace(self, claims: TokenClaims, service_id: str, hours: Mapping[str, Any], if_match: str | None) -> Hours:
        expected = parse_if_match(if_match)
        problems = opening_hours.violations(hours)
        if problems:
            raise Invalid(problems)
        with self.store.transaction() as session:
            stamp = {"last_modified": utc_stamp(datetime.now(UTC))}
            service = self.entries.update_in(session, claims, "service", service_id, stamp, expected)
            found = opening_hours.split(session.select("schedule", {"service_id": service_id}))
            for row in found.editable:
                self.entries.delete_in(session, claims, "schedule", str(row["id"]), None)
            for row in opening_hours.schedules(hours, service_id):
                self.entries.create_in(session, claims, "schedule", row)
            now = opening_hours.split(session.select("schedule", {"service_id": service_id}))
        return Hours(service, now.hours, [_public(r) for r in now.kept])


def _public(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("lotse_")}
