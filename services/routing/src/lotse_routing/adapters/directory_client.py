"""The directory over HTTP (a typed client), and a cache in front of it that directory events invalidate."""

import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from urllib.parse import quote

import urllib3
from lotse_contracts import EventEnvelope, LegalDomain

from lotse_routing.adapters.ports import DirectoryUnavailable
from lotse_routing.domain.decision import Jurisdiction, Place
from lotse_routing.domain.offices import Authority, FoundPlace, Offer, Office

PAGE = 200


class HttpDirectory:
    """The directory's API: ``/api/v1/geocode``, ``/api/v1/jurisdictions``, ``/hsds/organizations/<id>`` and
    ``/hsds/services/<id>``.

    ``token`` is called for each request and returns the bearer token to send (routing's own, role
    ``service``). Connections are kept open and shared by threads.
    """

    def __init__(self, base_url: str, token: Callable[[], str], pool_size: int = 8, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = urllib3.PoolManager(
            maxsize=pool_size,
            block=False,
            timeout=urllib3.Timeout(connect=2.0, read=timeout),
            retries=urllib3.Retry(total=2, backoff_factor=0.1, status_forcelist=(502, 503, 504)),
        )

    def _get(self, path: str, fields: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
        try:
            response = self._http.request("GET", f"{self.base_url}{path}", fields=fields, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise DirectoryUnavailable(f"the directory at {self.base_url} did not answer: {exc}") from exc
        if response.status == 404:
            return None
        if response.status != 200:
            raise DirectoryUnavailable(f"the directory answered {response.status} to GET {path}")
        return json.loads(response.data)

    def places(self, location: str) -> list[FoundPlace]:
        """The gazetteer's places for what was typed; where it knows only the Kreis, the Kreis's key. A large
        recipient's PLZ beside areas where people live weighs nothing: nobody is likely to live there."""
        found = self._get("/api/v1/geocode", {"q": location}) or []
        areas = any(not p.get("large_recipient") for p in found)
        return [
            FoundPlace(
                place=Place(
                    region_key=str(p.get("ags") or p["kreis_key"]),
                    postal_code=p.get("postal_code"),
                    name=str(p.get("name", "")),
                    weight=0 if areas and p.get("large_recipient") else int(p.get("rows", 1)),
                ),
                latitude=float(p["latitude"]),
                longitude=float(p["longitude"]),
                label=str(p.get("address", "")),
            )
            for p in found
        ]

    def all_jurisdictions(self) -> list[Jurisdiction]:
        found: list[Jurisdiction] = []
        page = 1
        while True:
            body = self._get("/api/v1/jurisdictions", {"page": page, "per_page": PAGE})
            for row in body["contents"]:
                if row.get("status", "confirmed") == "confirmed":  # a proposal waits for its second person
                    found.append(_jurisdiction(row))
            if page >= body["total_pages"]:
                return found
            page += 1

    def authority(self, organization_id: str) -> Authority | None:
        body = self._get(f"/hsds/organizations/{quote(organization_id, safe='')}")
        if body is None:
            return None
        return Authority(
            id=str(body["id"]),
            name=str(body["name"]),
            email=body.get("email"),
            offices=tuple(_office(loc) for loc in body.get("locations", []) if loc.get("location_type") != "virtual"),
        )

    def offer(self, service_id: str) -> Offer | None:
        body = self._get(f"/hsds/services/{quote(service_id, safe='')}")
        organization = (body or {}).get("organization_id") or ((body or {}).get("organization") or {}).get("id")
        if body is None or not organization:
            return None
        domains = tuple(str(d) for d in body.get("legal_domains") or ())
        return Offer(str(body["id"]), str(body["name"]), str(organization), domains)


def _jurisdiction(row: dict[str, Any]) -> Jurisdiction:
    verified = row.get("verified_on")
    return Jurisdiction(
        id=str(row["id"]),
        authority_id=str(row["organization_id"]),
        legal_domain=LegalDomain(row["legal_domain"]),
        region_key=str(row["region_key"]),
        postal_codes=frozenset(row.get("postal_codes") or ()),
        source=str(row.get("source") or ""),
        verified_on=date.fromisoformat(verified) if verified else None,
        location_id=row.get("location_id"),
        declared_by=str(row.get("declared_by_name") or ""),
        confirmed_by=str(row.get("confirmed_by_name") or ""),
    )


_DAYS = {"MO": "Mo", "TU": "Di", "WE": "Mi", "TH": "Do", "FR": "Fr", "SA": "Sa", "SU": "So"}


def _hours(schedule: dict[str, Any]) -> str:
    days = ", ".join(_DAYS.get(d, d) for d in (schedule.get("byday") or "").split(",") if d)
    text = f"{days} {schedule.get('opens_at', '')}–{schedule.get('closes_at', '')}".strip()
    if schedule.get("by_appointment"):
        text += " (nach Vereinbarung)"
    return text


def _office(location: dict[str, Any]) -> Office:
    addresses = [a for a in location.get("addresses", []) if a.get("address_type", "physical") == "physical"]
    address = ""
    if addresses:
        a = addresses[0]
        address = f"{a.get('address_1', '')}, {a.get('postal_code', '')} {a.get('city', '')}".strip(", ")
    phones = location.get("phones") or []
    return Office(
        location_id=str(location["id"]),
        name=str(location.get("name") or ""),
        address=address,
        latitude=location.get("latitude"),
        longitude=location.get("longitude"),
        opening_hours=tuple(_hours(s) for s in location.get("schedules", [])),
        phone=phones[0].get("number") if phones else None,
    )


_AUTHORITY_PARTS = ("organization", "location", "address", "schedule", "phone")
_REGION_KEY_LENGTHS = (2, 3, 5, 8, 9, 12)
"""The lengths a region key may have (the directory checks it): Land, Regierungsbezirk, Kreis, Gemeinde
(AGS), Gemeindeverband and Gemeinde (ARS). A key applies where it is a prefix of the place's key."""


class CachedDirectory:
    """Keeps the directory's answers for up to ``max_age`` seconds, and drops them when the directory says
    they changed (:meth:`on_event`, subscribed to ``directory.#``).

    Jurisdictions are kept whole, grouped by legal domain: a decision then needs no call. An answer
    fetched while an event dropped the cache is used once but not kept (it may predate the change).
    """

    def __init__(
        self, origin: HttpDirectory, max_age: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._origin = origin
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._generation = 0
        self._jurisdictions: tuple[float, dict[tuple[LegalDomain, str], tuple[Jurisdiction, ...]]] | None = None
        """By legal domain and region key."""
        self._places: dict[str, tuple[float, tuple[FoundPlace, ...]]] = {}
        self._authorities: dict[str, tuple[float, Authority | None]] = {}

    def _fresh(self, stamp: float) -> bool:
        return self._clock() - stamp < self._max_age

    def places(self, location: str) -> Sequence[FoundPlace]:
        key = " ".join(location.split()).casefold()
        hit = self._places.get(key)
        if hit is not None and self._fresh(hit[0]):
            return hit[1]
        stamp = self._clock()
        found = tuple(self._origin.places(location))
        with self._lock:
            if len(self._places) >= 50_000:  # places come from the gazetteer: a bound, not invalidation
                self._places.clear()
            self._places[key] = (stamp, found)
        return found

    def _index(self) -> dict[tuple[LegalDomain, str], tuple[Jurisdiction, ...]]:
        held = self._jurisdictions
        if held is None or not self._fresh(held[0]):
            generation, stamp = self._generation, self._clock()
            grouped: dict[tuple[LegalDomain, str], list[Jurisdiction]] = {}
            for j in self._origin.all_jurisdictions():
                grouped.setdefault((j.legal_domain, j.region_key), []).append(j)
            held = (stamp, {key: tuple(js) for key, js in grouped.items()})
            with self._lock:
                if generation == self._generation:
                    self._jurisdictions = held
        return held[1]

    def holds_jurisdiction(self, legal_domain: LegalDomain, organization_id: str) -> bool:
        return any(
            j.authority_id == organization_id
            for (domain, _), js in self._index().items()
            if domain is legal_domain
            for j in js
        )

    def jurisdictions(self, legal_domain: LegalDomain, places: Sequence[str]) -> Sequence[Jurisdiction]:
        index = self._index()
        found: dict[str, Jurisdiction] = {}
        for place in places:
            for length in _REGION_KEY_LENGTHS:
                if length > len(place):
                    break
                for j in index.get((legal_domain, place[:length]), ()):
                    found[j.id] = j
            if len(place) < 8:  # known only by its Kreis: a Gemeinde's jurisdiction inside it may apply
                for (domain, key), js in index.items():
                    if domain is legal_domain and key.startswith(place):
                        found.update((j.id, j) for j in js)
        return list(found.values())

    def authority(self, organization_id: str) -> Authority | None:
        hit = self._authorities.get(organization_id)
        if hit is not None and self._fresh(hit[0]):
            return hit[1]
        generation, stamp = self._generation, self._clock()
        found = self._origin.authority(organization_id)
        with self._lock:
            if generation == self._generation:
                self._authorities[organization_id] = (stamp, found)
        return found

    def offer(self, service_id: str) -> Offer | None:
        return self._origin.offer(service_id)  # read when a referral is made: no cache needed

    def forget(self) -> None:
        """Drop every answer (e.g. after the events that say what changed may have been missed)."""
        with self._lock:
            self._jurisdictions = None
            self._authorities.clear()
            self._generation += 1

    def on_event(self, event: EventEnvelope, _routing_key: str) -> None:
        """A directory event: drop what it may have changed."""
        parts = event.type.split(".")
        if len(parts) != 3 or parts[0] != "directory":
            return
        entity, what = parts[1], parts[2]
        with self._lock:
            if entity == "jurisdiction" or what == "imported":
                self._jurisdictions = None
                self._generation += 1
            if entity in _AUTHORITY_PARTS or what == "imported":
                self._authorities.clear()
                self._generation += 1
