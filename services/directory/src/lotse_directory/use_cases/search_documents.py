"""Build the search documents of offers from the directory, and find the offers a change affects."""

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from lotse_directory.adapters.geocoding.gazetteer import Gazetteer, fold
from lotse_directory.adapters.ports import Row, RowReader, StoreSession
from lotse_directory.domain.search.documents import Point, SearchDocument, weekly_intervals
from lotse_directory.domain.verification import verified_on

TOPIC, TARGET_GROUP = "topic", "target_group"
SEARCHABLE_STATUS = (None, "", "active")

# the fields a search document is made of (a large import reads a million rows back)
_SERVICE = ("organization_id", "status", "name", "alternate_name", "description", "legal_domains", "verified_at")
_ORGANIZATION = ("name", "alternate_name", "legal_domains")
_SAL = ("service_id", "location_id")
_LOCATION = ("latitude", "longitude")
_ADDRESS = ("location_id", "visibility", "country", "postal_code", "city")
_LANGUAGE = ("service_id", "code")
SCHEDULE_FIELDS = (
    "service_id",
    "location_id",
    "by_appointment",
    "freq",
    "byday",
    "opens_at",
    "closes_at",
    "valid_from",
    "valid_to",
    "closed_on_public_holidays",
    "closed",
    "description",
)
_ATTRIBUTE = ("link_id", "link_type", "taxonomy_term_id")
_CONTACT = ("service_id", "visibility", "title", "department")


class RowsInMemory:
    """An import's own rows answering ``select`` (see :class:`RowReader`) as the store answers it once they
    are written: the rows whose fields equal the values (a collection: one of them), ordered by id. Only for
    the selects :func:`build_documents` makes, which reads the asked-for fields of a row and nothing
    else: the rows are the import's own (not copies of the asked-for fields), and must not be changed."""

    def __init__(self, rows: Mapping[str, Mapping[str, Row]]) -> None:
        self.rows = rows
        self._by: dict[tuple[str, str], dict[str, list[Row]]] = {}

    def _having(self, entity: str, field: str, values: Iterable[Any]) -> list[Row]:
        table = self.rows.get(entity, {})
        wanted = {str(v) for v in values}
        if field == "id":
            return [table[i] for i in wanted if i in table]
        by = self._by.get((entity, field))
        if by is None:
            by = self._by[(entity, field)] = {}
            for row in table.values():
                if row.get(field) is not None:
                    by.setdefault(str(row[field]), []).append(row)
        return [row for value in wanted for row in by.get(value, ())]

    def select(
        self,
        entity: str,
        where: Mapping[str, Any] | None = None,
        *,
        order_by: str = "id",
        limit: int | None = None,
        offset: int = 0,
        fields: Sequence[str] | None = None,
    ) -> list[Row]:
        lists = [k for k, v in (where or {}).items() if isinstance(v, list | set | tuple | frozenset)]
        if order_by != "id" or limit is not None or offset or fields is None or len(lists) != 1:
            raise NotImplementedError("only selects by one list of values, with fields, in id order")
        exact = [(k, v) for k, v in (where or {}).items() if k != lists[0]]
        found = self._having(entity, lists[0], (where or {})[lists[0]])
        if exact:
            found = [row for row in found if all(row.get(k) == v for k, v in exact)]
        return sorted(found, key=itemgetter("id"))


def _ids(rows: Iterable[Mapping[str, Any]], name: str) -> set[str]:
    return {str(r[name]) for r in rows if r.get(name)}


def affected_services(session: StoreSession, touched: Iterable[tuple[str, Mapping[str, Any]]]) -> set[str]:
    """Offers whose search documents depend on these entries (as they were or are now), in a few queries."""
    by_entity: dict[str, list[Mapping[str, Any]]] = {}
    for entity, values in touched:  # grouped first: an import touches a million entries
        by_entity.setdefault(entity, []).append(values)
    found = _ids(by_entity.pop("service", []), "id")
    organizations = _ids(by_entity.pop("organization", []), "id")  # their offers carry its name and domains
    terms = _ids(by_entity.pop("taxonomy_term", []), "id")
    found |= {
        str(v["link_id"])
        for v in by_entity.pop("attribute", [])
        if v.get("link_entity") == "service" and v.get("link_id")
    }
    found |= _ids(by_entity.pop("service_at_location", []), "service_id")
    sal_ids: set[str] = set()
    location_ids = _ids(by_entity.pop("location", []), "id")
    for entity, rows in by_entity.items():
        found |= _ids(rows, "service_id")
        location_ids |= _ids(rows, "location_id")
        sal_ids |= _ids(rows, "service_at_location_id")
        if entity == "contact":
            organizations |= _ids(rows, "organization_id")
    if organizations:
        found |= _ids(session.select("service", {"organization_id": organizations}, fields=("id",)), "id")
    if terms:
        found |= _ids(
            session.select("attribute", {"taxonomy_term_id": terms, "link_entity": "service"}, fields=("link_id",)),
            "link_id",
        )
    if sal_ids:
        found |= _ids(session.select("service_at_location", {"id": sal_ids}, fields=_SAL), "service_id")
    if location_ids:
        found |= _ids(session.select("service_at_location", {"location_id": location_ids}, fields=_SAL), "service_id")
    found.discard("")
    return found


def _group(rows: Iterable[Row], key: str) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for r in rows:
        if r.get(key):
            out.setdefault(str(r[key]), []).append(r)
    return out


def _region_keys(gazetteer: Gazetteer, address: Row | None, latitude: float, longitude: float) -> frozenset[str]:
    if address and address.get("country") == "DE" and address.get("postal_code"):
        return _postal_region_keys(gazetteer, str(address["postal_code"]), str(address.get("city") or ""))
    nearest = gazetteer.nearest_postal_code(latitude, longitude)
    return frozenset({nearest.ags} if nearest and nearest.ags else ())


@lru_cache(maxsize=1 << 14)
def _postal_region_keys(gazetteer: Gazetteer, postal_code: str, city_name: str) -> frozenset[str]:
    places = gazetteer.places_for_postal_code(postal_code)
    city = fold(city_name)
    named = {p.ags for p in places if p.ags and city and fold(p.name).startswith(city)}
    return frozenset(named or {p.ags for p in places if p.ags})


def build_documents(
    session: RowReader, gazetteer: Gazetteer, service_ids: Iterable[str]
) -> dict[str, SearchDocument | None]:
    """The documents of these offers; None for offers that are gone or not searchable (inactive)."""
    ids = sorted(set(service_ids))
    result: dict[str, SearchDocument | None] = dict.fromkeys(ids)
    if not ids:
        return result
    services = [
        s for s in session.select("service", {"id": ids}, fields=_SERVICE) if s.get("status") in SEARCHABLE_STATUS
    ]
    if not services:
        return result
    ids = [str(s["id"]) for s in services]
    orgs = {
        str(o["id"]): o
        for o in session.select("organization", {"id": _ids(services, "organization_id")}, fields=_ORGANIZATION)
    }
    sals = _group(session.select("service_at_location", {"service_id": ids}, fields=_SAL), "service_id")
    location_ids = {str(r["location_id"]) for rows in sals.values() for r in rows if r.get("location_id")}
    locations = (
        {str(r["id"]): r for r in session.select("location", {"id": location_ids}, fields=_LOCATION)}
        if location_ids
        else {}
    )
    addresses = (
        _group(session.select("address", {"location_id": location_ids}, fields=_ADDRESS), "location_id")
        if location_ids
        else {}
    )
    languages = _group(session.select("language", {"service_id": ids}, fields=_LANGUAGE), "service_id")
    own_schedules = _group(session.select("schedule", {"service_id": ids}, fields=SCHEDULE_FIELDS), "service_id")
    location_schedules = (
        _group(session.select("schedule", {"location_id": location_ids}, fields=SCHEDULE_FIELDS), "location_id")
        if location_ids
        else {}
    )
    attributes = _group(
        session.select("attribute", {"link_id": ids, "link_entity": "service"}, fields=_ATTRIBUTE), "link_id"
    )
    term_ids = {str(a["taxonomy_term_id"]) for rows in attributes.values() for a in rows if a.get("taxonomy_term_id")}
    terms = (
        {str(t["id"]): t for t in session.select("taxonomy_term", {"id": term_ids}, fields=("name",))}
        if term_ids
        else {}
    )
    contacts = _group(session.select("contact", {"service_id": ids}, fields=_CONTACT), "service_id")

    for s in services:
        sid = str(s["id"])
        org = orgs.get(str(s.get("organization_id")), {})
        topics: list[str] = []
        groups: list[str] = []
        for a in attributes.get(sid, []):
            term = terms.get(str(a.get("taxonomy_term_id")))
            if term is None:
                continue
            (groups if a.get("link_type") == TARGET_GROUP else topics).append(str(term["name"]))
        points: list[Point] = []
        regions: set[str] = set()
        schedules = list(own_schedules.get(sid, []))
        for sal in sals.get(sid, []):
            location = locations.get(str(sal.get("location_id")))
            if location is None or location.get("latitude") is None or location.get("longitude") is None:
                continue
            address = next(iter(addresses.get(str(location["id"]), [])), None)
            visibility = (address or {}).get("visibility") or "public"
            if visibility == "internal":
                continue
            lat, lon = float(location["latitude"]), float(location["longitude"])
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # imported as given, but no point on earth
                continue
            points.append(Point(lat, lon, visibility == "public", str(location["id"])))
            if visibility == "public":
                regions |= _region_keys(gazetteer, address, lat, lon)
            if not own_schedules.get(sid):
                schedules += location_schedules.get(str(location["id"]), [])
        roles = [
            " ".join(str(c.get(k) or "") for k in ("title", "department"))
            for c in contacts.get(sid, [])
            if (c.get("visibility") or "public") == "public"
        ]
        result[sid] = SearchDocument(
            service_id=sid,
            organization_id=str(s.get("organization_id") or ""),
            texts={
                "name": " ".join(str(s.get(k) or "") for k in ("name", "alternate_name")).strip(),
                "organization": " ".join(str(org.get(k) or "") for k in ("name", "alternate_name")).strip(),
                "topics": " ".join([*topics, *groups]),
                "roles": " ".join(r for r in roles if r.strip()),
                "description": str(s.get("description") or ""),
            },
            legal_domains=sorted(set(s.get("legal_domains") or org.get("legal_domains") or [])),
            topics=sorted(set(topics)),
            target_groups=sorted(set(groups)),
            languages=sorted({str(lang["code"]) for lang in languages.get(sid, []) if lang.get("code")}),
            region_keys=sorted(regions),
            points=points,
            hours=weekly_intervals(schedules),
            closed_on_holidays=any(sc.get("closed_on_public_holidays") for sc in schedules),
            verified_on=verified_on("service", s),
        )
    return result
