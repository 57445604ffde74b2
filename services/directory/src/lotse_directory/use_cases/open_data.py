"""The HSDS 3.0 read API: the public part of the directory, as other directories and apps consume it.

Only public data: contacts, phones and addresses whose visibility is not ``public`` are left out
(with everything nested in them), entries marked internal too; change history (``metadata``, which
names staff) and who verified an entry are not published. Lists are paged in the HSDS envelope.
"""

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lotse_kit.errors import NotFound

from lotse_directory.adapters.geocoding.gazetteer import Gazetteer
from lotse_directory.adapters.ports import AtLeast, DirectoryStore, Row, StoreSession
from lotse_directory.domain.hsds import JURISDICTION, PROFILE_FIELDS, PROFILE_URI, VISIBILITIES, entities
from lotse_directory.domain.search.query import MAX_WINDOW, SearchQuery, km_between
from lotse_directory.use_cases.search import SearchBackend

HSDS_VERSION = "3.0"
NOT_PUBLISHED = frozenset({"metadata"})
"""Nested entities the public API leaves out (change history names staff)."""
PRIVATE_FIELDS = frozenset({"verified_by"})
NDJSON_PAGE = 500


def _hidden_locations(session: StoreSession, among: list[str] | None = None) -> set[str]:
    """Places whose address is not public (shelters and similar): not even their coordinates are published.
    ``among``: only these places are asked about (by the indexed ``location_id``, not every address)."""
    where: dict[str, Any] = {"visibility": [v for v in VISIBILITIES if v != "public"]}
    if among is not None:
        where["location_id"] = among
    hidden = session.select("address", where)
    return {str(a["location_id"]) for a in hidden if a.get("location_id")}


@dataclass(frozen=True, slots=True)
class Listing:
    """What a list endpoint was asked for (validated by the web layer)."""

    page: int = 1
    per_page: int = 50
    search: str | None = None
    organization_id: str | None = None
    taxonomy_term_id: str | None = None
    taxonomy_id: str | None = None
    modified_after: datetime | None = None
    postcode: str | None = None
    proximity_m: float | None = None
    parent_id: str | None = None
    top_only: bool = False


def _public(row: Mapping[str, Any]) -> bool:
    return (row.get("visibility") or "public") == "public"


def _fields(entity: str, row: Row) -> dict[str, Any]:
    spec = entities()[entity]
    out = {n: row[n] for n in spec.field_names if row.get(n) is not None and n not in PRIVATE_FIELDS}
    if entity == "service" and row.get("lotse_updated_at") is not None:
        out["last_modified"] = row["lotse_updated_at"].isoformat()
    return out


def nest(
    session: StoreSession, entity: str, rows: list[Row], path: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Public rows of ``entity`` with their public children nested (HSDS JSON). Parents (a service's
    organisation, a term's taxonomy) appear with their own fields; a service at a location shows its
    location and service in full. An entity never nests inside itself."""
    rows = [r for r in rows if _public(r)]
    if entity in ("location", "service_at_location"):
        key = "id" if entity == "location" else "location_id"
        hidden = _hidden_locations(session, [str(r[key]) for r in rows if r.get(key)])
        rows = [r for r in rows if str(r.get(key)) not in hidden]
    out = [_fields(entity, r) for r in rows]
    if not rows:
        return out
    ids = [str(r["id"]) for r in rows]
    inside = path | {entity}
    for nesting in entities()[entity].nestings:
        if nesting.entity in NOT_PUBLISHED or nesting.entity in inside:
            continue
        if nesting.many:
            key = nesting.child_key or ""
            where: dict[str, Any] = {key: ids}
            if key == "link_id":
                where["link_entity"] = entity
            kids = {str(k["id"]): k for k in session.select(nesting.entity, where)}
            by_parent: dict[str, list[dict[str, Any]]] = {}
            for shown in nest(session, nesting.entity, list(kids.values()), inside):
                by_parent.setdefault(str(kids[str(shown["id"])][key]), []).append(shown)
            for row, item in zip(rows, out, strict=True):
                item[nesting.prop] = by_parent.get(str(row["id"]), [])
        else:
            key = nesting.parent_key or ""
            parent_ids = {str(r[key]) for r in rows if r.get(key)}
            parents = session.select(nesting.entity, {"id": parent_ids}) if parent_ids else []
            if entity == "service_at_location":  # the point of the join: location and service in full
                shown_parents = {str(p["id"]): p for p in nest(session, nesting.entity, parents, inside)}
            else:
                shown_parents = {str(p["id"]): _fields(nesting.entity, p) for p in parents if _public(p)}
            for row, item in zip(rows, out, strict=True):
                if row.get(key) and str(row[key]) in shown_parents:
                    item[nesting.prop] = shown_parents[str(row[key])]
    return out


def _envelope(total: int, listing: Listing, contents: list[dict[str, Any]]) -> dict[str, Any]:
    pages = math.ceil(total / listing.per_page) if total else 0
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": listing.page,
        "size": len(contents),
        "first_page": listing.page == 1,
        "last_page": listing.page >= pages,
        "empty": total == 0,
        "contents": contents,
    }


class OpenData:
    def __init__(self, store: DirectoryStore, search: SearchBackend, gazetteer: Gazetteer) -> None:
        self.store = store
        self.search = search
        self.gazetteer = gazetteer

    @staticmethod
    def info(openapi_url: str, profile_url: str) -> dict[str, Any]:
        return {"version": HSDS_VERSION, "profile": profile_url, "openapi_url": openapi_url}

    @staticmethod
    def profile() -> dict[str, Any]:
        """Our HSDS profile: the fields we add to HSDS tables and the table of our own."""
        return {
            "uri": PROFILE_URI,
            "title": "Lotse: HSDS 3.0 profile for cross-domain referral work (KIM, Nordrhein-Westfalen)",
            "hsds_version": HSDS_VERSION,
            "extensions": {
                entity: {f.name: {"type": f.type, "description": f.description} for f in fields}
                for entity, fields in PROFILE_FIELDS.items()
            },
            "tables": {
                JURISDICTION.name: {
                    "description": "Zuständigkeit: which authority is responsible for which legal domain where",
                    "fields": {f.name: {"type": f.type, "description": f.description} for f in JURISDICTION.fields},
                }
            },
            "published": "only entries and fields whose visibility is public; no change history",
        }

    # -- filters ------------------------------------------------------------------------
    def _service_ids(self, session: StoreSession, listing: Listing) -> set[str] | None:
        """Offers the taxonomy and text filters allow (None: no such filter)."""
        found: set[str] | None = None
        term_ids: set[str] = set()
        if listing.taxonomy_term_id:
            term_ids.add(listing.taxonomy_term_id)
        if listing.taxonomy_id:
            terms = session.select("taxonomy_term", {"taxonomy_id": listing.taxonomy_id})
            term_ids |= {str(t["id"]) for t in terms} or {"-"}
        if listing.taxonomy_term_id or listing.taxonomy_id:
            links = session.select("attribute", {"taxonomy_term_id": term_ids, "link_entity": "service"})
            found = {str(a["link_id"]) for a in links}
        if listing.search:
            hits: set[str] = set()
            page, per_page = 1, 100
            while (page - 1) * per_page < MAX_WINDOW:
                result = self.search.search(SearchQuery(text=listing.search, page=page, per_page=per_page))
                hits |= {h.service_id for h in result.hits}
                if page * per_page >= result.total:
                    break
                page += 1
            found = hits if found is None else found & hits
        return found

    def _where(self, listing: Listing) -> dict[str, Any]:
        where: dict[str, Any] = {}
        if listing.organization_id:
            where["organization_id"] = listing.organization_id
        if listing.modified_after:
            where["lotse_updated_at"] = AtLeast(listing.modified_after)
        return where

    def _page(
        self, session: StoreSession, entity: str, where: dict[str, Any], ids: set[str] | None, listing: Listing
    ) -> tuple[int, list[Row]]:
        if ids is not None:
            rows = [r for r in session.select(entity, where) if str(r["id"]) in ids and _public(r)]
            return len(rows), rows[(listing.page - 1) * listing.per_page : listing.page * listing.per_page]
        total = session.count(entity, where)
        return total, session.select(
            entity, where, limit=listing.per_page, offset=(listing.page - 1) * listing.per_page
        )

    # -- services -------------------------------------------------------------------------
    def services(self, listing: Listing, *, full: bool = False, minimal: bool = False) -> dict[str, Any]:
        with self.store.transaction() as session:
            total, rows = self._page(
                session, "service", self._where(listing), self._service_ids(session, listing), listing
            )
            if minimal:
                contents = [{"id": r["id"], "last_modified": r["lotse_updated_at"].isoformat()} for r in rows]
            elif full:
                contents = nest(session, "service", rows)
            else:
                contents = self._with_organization(session, rows)
            return _envelope(total, listing, contents)

    @staticmethod
    def _with_organization(session: StoreSession, rows: list[Row]) -> list[dict[str, Any]]:
        orgs = {
            str(o["id"]): o for o in session.select("organization", {"id": {str(r["organization_id"]) for r in rows}})
        }
        out = []
        for row in rows:
            item = _fields("service", row)
            org = orgs.get(str(row.get("organization_id")))
            if org is not None:
                item["organization"] = _fields("organization", org)
            out.append(item)
        return out

    def service(self, ident: str) -> dict[str, Any]:
        return self._one("service", ident)

    def _one(self, entity: str, ident: str) -> dict[str, Any]:
        with self.store.transaction() as session:
            row = session.get(entity, ident)
            shown = nest(session, entity, [row]) if row is not None else []
            if not shown:
                raise NotFound(entity, ident)
            return shown[0]

    # -- organisations ------------------------------------------------------------------
    def organizations(self, listing: Listing, *, full: bool = False, full_service: bool = False) -> dict[str, Any]:
        with self.store.transaction() as session:
            ids = None
            if listing.search:
                services = self._service_ids(session, listing) or set()
                ids = {str(s["organization_id"]) for s in session.select("service", {"id": services})}
            total, rows = self._page(session, "organization", {}, ids, listing)
            if full or full_service:
                contents = [self._organization(session, r, full_service) for r in rows]
            else:
                contents = [_fields("organization", r) for r in rows]
            return _envelope(total, listing, contents)

    def organization(self, ident: str, *, full_service: bool = False) -> dict[str, Any]:
        with self.store.transaction() as session:
            row = session.get("organization", ident)
            if row is None or not _public(row):
                raise NotFound("organization", ident)
            return self._organization(session, row, full_service)

    @staticmethod
    def _organization(session: StoreSession, row: Row, full_service: bool) -> dict[str, Any]:
        """An organisation fully nested; its services in full or with their own fields only."""
        shown = nest(session, "organization", [row])[0]
        if not full_service:
            shown["services"] = [
                _fields("service", s) for s in session.select("service", {"organization_id": row["id"]})
            ]
        return shown

    # -- taxonomies -------------------------------------------------------------------------
    def taxonomies(self, listing: Listing) -> dict[str, Any]:
        with self.store.transaction() as session:
            total, rows = self._page(session, "taxonomy", {}, self._named(session, "taxonomy", listing), listing)
            return _envelope(total, listing, nest(session, "taxonomy", rows))

    def taxonomy(self, ident: str) -> dict[str, Any]:
        return self._one("taxonomy", ident)

    def taxonomy_terms(self, listing: Listing) -> dict[str, Any]:
        with self.store.transaction() as session:
            where: dict[str, Any] = {}
            if listing.taxonomy_id:
                where["taxonomy_id"] = listing.taxonomy_id
            if listing.parent_id:
                where["parent_id"] = listing.parent_id
            ids = self._named(session, "taxonomy_term", listing)
            if listing.top_only:
                parents = {str(t["parent_id"]) for t in session.select("taxonomy_term") if t.get("parent_id")}
                leaves = {str(t["id"]) for t in session.select("taxonomy_term", where) if str(t["id"]) not in parents}
                ids = leaves if ids is None else ids & leaves
            total, rows = self._page(session, "taxonomy_term", where, ids, listing)
            return _envelope(total, listing, nest(session, "taxonomy_term", rows))

    def taxonomy_term(self, ident: str) -> dict[str, Any]:
        return self._one("taxonomy_term", ident)

    @staticmethod
    def _named(session: StoreSession, entity: str, listing: Listing) -> set[str] | None:
        """Entries whose name or description contains the search words (taxonomies are short lists)."""
        if not listing.search:
            return None
        words = listing.search.casefold().split()
        return {
            str(r["id"])
            for r in session.select(entity)
            if all(w in f"{r.get('name') or ''} {r.get('description') or ''}".casefold() for w in words)
        }

    # -- services at locations --------------------------------------------------------------
    def service_at_locations(self, listing: Listing, *, full: bool = False) -> dict[str, Any]:
        with self.store.transaction() as session:
            services = self._service_ids(session, listing)
            if listing.organization_id or listing.modified_after:
                chosen = {str(s["id"]) for s in session.select("service", self._where(listing))}
                services = chosen if services is None else services & chosen
            ids = None
            if services is not None:
                ids = {str(r["id"]) for r in session.select("service_at_location", {"service_id": services})}
            if listing.postcode:
                near = self._near_postcode(session, listing)
                ids = near if ids is None else ids & near
            hidden = _hidden_locations(session)
            if ids is None and hidden:
                every = session.select("service_at_location")
                ids = {str(r["id"]) for r in every if str(r["location_id"]) not in hidden}
            total, rows = self._page(session, "service_at_location", {}, ids, listing)
            contents = nest(session, "service_at_location", rows)
            if not full:
                for item in contents:
                    for key in ("location", "service"):
                        if key in item:
                            item[key] = {k: v for k, v in item[key].items() if not isinstance(v, list)}
            return _envelope(total, listing, contents)

    def _near_postcode(self, session: StoreSession, listing: Listing) -> set[str]:
        """Services at locations with this PLZ, or within ``proximity`` metres of its centre."""
        assert listing.postcode is not None
        places = self.gazetteer.places_for_postal_code(listing.postcode)
        if not places:
            return set()
        if listing.proximity_m is None:
            addresses = session.select("address", {"postal_code": listing.postcode})
            location_ids = {str(a["location_id"]) for a in addresses if _public(a) and a.get("location_id")}
        else:
            centre = (places[0].latitude, places[0].longitude)
            locations = session.select("location")
            hidden = _hidden_locations(session)
            location_ids = {
                str(loc["id"])
                for loc in locations
                if str(loc["id"]) not in hidden
                and loc.get("latitude") is not None
                and loc.get("longitude") is not None
                and km_between(*centre, float(loc["latitude"]), float(loc["longitude"])) * 1000 <= listing.proximity_m
            }
        return {str(r["id"]) for r in session.select("service_at_location", {"location_id": location_ids})}

    def service_at_location(self, ident: str) -> dict[str, Any]:
        return self._one("service_at_location", ident)

    def ndjson(self, kind: str, listing: Listing, **options: Any) -> Iterator[dict[str, Any]]:
        """Every result of a list, without paging (``format=ndjson``), read page by page."""
        lister = getattr(self, kind)
        page = 1
        while True:
            result = lister(replace(listing, page=page, per_page=NDJSON_PAGE), **options)
            yield from result["contents"]
            if result["last_page"]:
                return
            page += 1
