"""Typed clients of the three services' HTTP APIs, called with the signed-in user's token. The web application
holds no domain data: every page is built from these answers."""

import contextvars
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlencode

import urllib3
from lotse_kit.logs import REQUEST_ID_HEADER, current_request_id

from lotse_web.settings import Settings

LONG = urllib3.Timeout(connect=3, read=300)
"""An import or export of a whole directory may take minutes."""


class TokenRejected(Exception):
    """A service no longer accepts the user's token (401: it expired or was revoked); the session ends."""


class ApiError(Exception):
    """A service answered with a problem (4xx/5xx) or not at all; ``status`` 0 for no answer."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}")
        self.status = status
        self.problem = problem

    @property
    def fields(self) -> dict[str, str]:
        """The offending fields the problem names, with their reasons."""
        return {str(e.get("name")): str(e.get("reason")) for e in self.problem.get("errors", [])}


_CALLS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lotse-web-call")


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Independent calls to the services made at once, each answer in the order given (a page that needs
    several lists waits for the slowest, not for all of them in a row). Each runs with the caller's context
    variables (the request id); the calls must get everything else (the token) from their arguments."""
    running = [_CALLS.submit(contextvars.copy_context().run, call) for call in calls]
    return [r.result() for r in running]


@dataclass(frozen=True)
class Hit:
    """One offer of a search's page, as the search list shows it."""

    id: str
    name: str
    organization: str
    description: str
    distance_km: float | None
    languages: list[str]
    legal_domains: list[str]
    places: list[str]
    verified_at: str | None
    stale: bool
    today: str
    """Today's opening hours in German, e.g. ``08:00–12:00 und 14:00–18:30 Uhr``."""


@dataclass(frozen=True)
class SearchPage:
    hits: list[Hit]
    total: int
    page: int
    pages: int
    near: str | None
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class SignedIn:
    token: str
    user_id: str
    name: str
    role: str
    organization_id: str | None
    regions: tuple[str, ...] = ()
    """Region keys whose jurisdictions the user keeps (a Kreis's KIM coordination)."""


class Api:
    def __init__(self, settings: Settings, pool: urllib3.PoolManager | None = None) -> None:
        self.settings = settings
        self.pool = pool or urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3, read=settings.api_timeout_seconds), retries=False
        )

    def _call(
        self,
        method: str,
        url: str,
        token: str | None = None,
        body: Any = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        return self._send(method, url, token, body, fields, headers)[0]

    def _send(
        self,
        method: str,
        url: str,
        token: str | None = None,
        body: Any = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Any, str]:
        """The answer's JSON and its ETag (empty when it has none)."""
        headers = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if fields:
            url = f"{url}?{urlencode(fields, doseq=True)}"
        data = json.dumps(body).encode() if body is not None else None
        answer = self._request(method, url, token, data, headers)
        return (json.loads(answer.data) if answer.data else None), str(answer.headers.get("ETag", ""))

    def _request(
        self,
        method: str,
        url: str,
        token: str | None,
        data: bytes | None,
        headers: dict[str, str],
        timeout: urllib3.Timeout | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """One request with the user's token and this page's request id (which the services log and pass
        on); a problem answer as ApiError, a refused token as TokenRejected."""
        headers = dict(headers)
        request_id = current_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            if timeout is None:  # the pool's (passing None would mean no timeout at all)
                answer = self.pool.request(method, url, headers=headers, body=data)
            else:
                answer = self.pool.request(method, url, headers=headers, body=data, timeout=timeout)
        except urllib3.exceptions.HTTPError as error:
            raise ApiError(0, {"title": "Service Unavailable", "detail": str(error)}) from error
        if answer.status == 401 and token:
            raise TokenRejected(answer.data.decode(errors="replace"))
        if answer.status >= 400:
            try:
                problem = json.loads(answer.data) if answer.data else None
            except ValueError:
                problem = None
            raise ApiError(answer.status, problem if isinstance(problem, dict) else {"title": str(answer.status)})
        return answer

    # -- directory ----------------------------------------------------------------------------
    def log_in(self, login: str, password: str) -> SignedIn:
        found = self._call(
            "POST", f"{self.settings.directory_url}/api/v1/login", body={"login": login, "password": password}
        )
        user = found["user"]
        regions = tuple(user.get("regions") or ())
        return SignedIn(found["token"], user["id"], user["name"], user["role"], user["organization_id"], regions)

    def who_is(self, token: str) -> SignedIn:
        """Who the token names, as the services read it (after an OIDC login: the provider's token)."""
        found = self._call("GET", f"{self.settings.directory_url}/api/v1/me", token)
        regions = tuple(found.get("regions") or ())
        return SignedIn(token, found["id"], found["name"], found["role"], found["organization_id"], regions)

    def search(self, token: str | None, query: dict[str, Any]) -> SearchPage:
        fields = {k: v for k, v in query.items() if v not in (None, "", [])}
        found = self._call("GET", f"{self.settings.directory_url}/api/v1/search", token, fields=fields)
        hits = [
            Hit(
                id=item["id"],
                name=item["name"],
                organization=(item.get("organization") or {}).get("name", ""),
                description=item.get("description") or "",
                distance_km=item.get("distance_km"),
                languages=list(item.get("languages") or []),
                legal_domains=list(item.get("legal_domains") or []),
                places=[_place(loc) for loc in item.get("locations") or [] if loc.get("address")],
                verified_at=item.get("verified_at"),
                stale=bool(item.get("stale")),
                today=today_in_german(item.get("today") or {}),
            )
            for item in found["contents"]
        ]
        facets = {
            name: [(f["value"], int(f["count"])) for f in values] for name, values in found.get("facets", {}).items()
        }
        near = (found.get("near") or {}).get("label")
        return SearchPage(hits, found["total_items"], found["page"], found["total_pages"], near, facets)

    def offer(self, ident: str) -> dict[str, Any]:
        """An offer with its organisation, places, opening hours, languages and contacts (the directory's HSDS
        read API: what is public)."""
        found: dict[str, Any] = self._call("GET", f"{self.settings.directory_url}/hsds/services/{ident}")
        return found

    def for_staff(self, token: str, offer: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """What of an offer only staff see (visibility ``case_managers``; ``internal`` for its maintainers):
        its contacts with their phones, its own and its places' phones, and its places' addresses, read with
        the user's token."""
        base = f"{self.settings.directory_url}/api/v1"

        def hidden(collection: str, **where: str) -> list[dict[str, Any]]:
            found = self._call("GET", f"{base}/{collection}", token, fields={**where, "per_page": 50})
            return [row for row in found["contents"] if (row.get("visibility") or "public") != "public"]

        parts = self.parts(token, "services", offer["id"])  # its contacts and phones, in one read
        contacts = [c for c in parts.get("contacts", []) if (c.get("visibility") or "public") != "public"]
        phones = [p for p in parts.get("phones", []) if (p.get("visibility") or "public") != "public"]
        places = {
            str(loc["id"]): loc
            for loc in ((sal.get("location") or {}) for sal in offer.get("service_at_locations") or [])
            if loc.get("id")
        }
        ids = ",".join(list(places)[:50])
        contact_ids = ",".join(c["id"] for c in contacts[:50])
        none: Callable[[], list[dict[str, Any]]] = list
        contact_phones, place_addresses, place_phones = together(
            partial(self.entries, token, "phones", contact_id=contact_ids) if contacts else none,
            partial(hidden, "addresses", location_id=ids) if places else none,
            partial(hidden, "phones", location_id=ids) if places else none,
        )
        for contact in contacts:
            contact["phones"] = [p for p in contact_phones if p.get("contact_id") == contact["id"]]
        addresses = [a | {"place": places[str(a["location_id"])].get("name")} for a in place_addresses]
        phones += [
            p | {"description": p.get("description") or places[str(p["location_id"])].get("name")} for p in place_phones
        ]
        return {"contacts": contacts, "phones": phones, "addresses": addresses}

    def channels(self, token: str, organization_id: str) -> list[dict[str, Any]]:
        url = f"{self.settings.directory_url}/api/v1/organizations/{organization_id}/notification_channels"
        found: dict[str, Any] = self._call("GET", url, token)
        return list(found["contents"])

    def add_channel(self, token: str, organization_id: str, kind: str, target: str) -> dict[str, Any]:
        url = f"{self.settings.directory_url}/api/v1/organizations/{organization_id}/notification_channels"
        found: dict[str, Any] = self._call("POST", url, token, body={"kind": kind, "target": target})
        return found

    def _revision(self, token: str, url: str) -> str:
        """The ETag of an entry, for a change guarded by If-Match."""
        return self._send("GET", url, token)[1]

    # -- directory: maintaining entries ---------------------------------------------------------
    def entry(self, token: str, collection: str, ident: str) -> tuple[dict[str, Any], str]:
        """A directory entry as its maintainers see it, and its ETag."""
        found, etag = self._send("GET", f"{self.settings.directory_url}/api/v1/{collection}/{ident}", token)
        return dict(found), etag

    def parts(self, token: str, collection: str, ident: str) -> dict[str, list[dict[str, Any]]]:
        """The entries that point at an entry, by collection (its places, contacts, topics, documents …)."""
        return dict(self._call("GET", f"{self.settings.directory_url}/api/v1/{collection}/{ident}/parts", token))

    def change_entry(
        self, token: str, collection: str, ident: str, patch: dict[str, Any], etag: str
    ) -> tuple[dict[str, Any], str]:
        """A JSON merge patch guarded by the ETag read (ApiError 412 when it changed meanwhile)."""
        url = f"{self.settings.directory_url}/api/v1/{collection}/{ident}"
        found, new_etag = self._send("PATCH", url, token, body=patch, headers={"If-Match": etag})
        return dict(found), new_etag

    def entries(self, token: str, collection: str, **where: str | None) -> list[dict[str, Any]]:
        """The entries of a collection the caller sees (``where``: the list's filters), up to five pages of
        200."""
        url = f"{self.settings.directory_url}/api/v1/{collection}"
        found: list[dict[str, Any]] = []
        for page in range(1, 6):
            fields = {"page": page, "per_page": 200, **{k: v for k, v in where.items() if v}}
            answer = self._call("GET", url, token, fields=fields)
            found += answer["contents"]
            if page >= answer["total_pages"]:
                break
        return found

    def maintained(self, token: str) -> list[dict[str, Any]]:
        """The organisations the caller maintains (``id``, ``name``, ``verified_at``), by name."""
        found = self._call("GET", f"{self.settings.directory_url}/api/v1/maintained_organizations", token)
        return list(found["contents"])

    def apply(self, token: str, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Several directory changes in one transaction, all or none (``op``, ``collection``, ``id``, ``body``,
        ``if_match``): each one's ``id`` and ``etag``; ApiError 412 when an entry changed meanwhile, 422 naming
        ``changes.<position>.<field>``."""
        found = self._call("POST", f"{self.settings.directory_url}/api/v1/changes", token, body={"changes": changes})
        return list(found["results"])

    def authorities(self, token: str) -> list[dict[str, Any]]:
        """The organisations a jurisdiction may name: ``id``, ``name``, ``authority_for`` (legal domains)."""
        found = self._call("GET", f"{self.settings.directory_url}/api/v1/authorities", token)
        return list(found["contents"])

    def create_entry(self, token: str, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        """A new directory entry as stored (ApiError 422 names the fields, 403 without the right)."""
        found: dict[str, Any] = self._call(
            "POST", f"{self.settings.directory_url}/api/v1/{collection}", token, body=body
        )
        return found

    def import_file(self, token: str, data: bytes, zipped: bool) -> dict[str, Any]:
        """Import an HSDS JSON file or a CSV data package (ZIP), all or nothing: the report (``created``,
        ``updated``, ``unchanged``, ``warnings``), or ApiError 422 naming every problem (nothing imported)."""
        content_type = "application/zip" if zipped else "application/json"
        return self._upload(f"{self.settings.directory_url}/api/v1/import", token, data, content_type)

    def export(self, token: str, kind: str, organization_id: str | None) -> bytes:
        """The directory (or one organisation's entries) as HSDS JSON or the CSV data package (ZIP)."""
        fields = {"format": kind, **({"organization_id": organization_id} if organization_id else {})}
        url = f"{self.settings.directory_url}/api/v1/export?{urlencode(fields)}"
        return bytes(self._request("GET", url, token, None, {}, LONG).data)

    def _upload(self, url: str, token: str, data: bytes, content_type: str) -> dict[str, Any]:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        answer = self._request("POST", url, token, data, headers, LONG)
        found: dict[str, Any] = json.loads(answer.data)
        return found

    def confirm_proposal(self, token: str, ident: str) -> dict[str, Any]:
        """A second person who keeps the region confirms a proposed jurisdiction (ApiError 403 for the one who
        proposed it)."""
        url = f"{self.settings.directory_url}/api/v1/jurisdictions/{ident}"
        found: dict[str, Any] = self._call(
            "POST", f"{url}/confirm", token, body={}, headers={"If-Match": self._revision(token, url)}
        )
        return found

    def directory_schemas(self) -> dict[str, Any]:
        """The directory's JSON schemas of its entries (``<entity>`` and ``<entity>_patch``)."""
        return dict(self._call("GET", f"{self.settings.directory_url}/openapi.json")["components"]["schemas"])

    # -- directory: users (embedded mode) --------------------------------------------------------
    def users(self, token: str) -> list[dict[str, Any]]:
        """Every user (admins): id (the login), name, role, organization_id, regions, email, active, invited."""
        return list(self._call("GET", f"{self.settings.directory_url}/api/v1/users", token)["contents"])

    def invite_user(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        """A new user without a password: ``user``, and the link's ``token`` and ``expires_at``."""
        return dict(self._call("POST", f"{self.settings.directory_url}/api/v1/users", token, body=body))

    def change_user(self, token: str, login: str, patch: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("PATCH", f"{self.settings.directory_url}/api/v1/users/{login}", token, body=patch))

    def reset_password(self, token: str, login: str) -> dict[str, Any]:
        """The user's password stops working: a new link's ``token`` and ``expires_at``."""
        url = f"{self.settings.directory_url}/api/v1/users/{login}/password_link"
        return dict(self._call("POST", url, token, body={}))

    def password_link(self, link: str) -> dict[str, Any]:
        """Whose password a link sets (no account): ``id``, ``name``; ApiError 404 / 410."""
        return dict(self._call("GET", f"{self.settings.directory_url}/api/v1/password_links/{link}"))

    def set_password(self, link: str, password: str) -> None:
        url = f"{self.settings.directory_url}/api/v1/password_links/{link}"
        self._call("POST", url, None, body={"password": password})

    def confirmation_link(self, token: str, service_id: str) -> dict[str, Any]:
        """A new signed, expiring link the offer's provider confirms or corrects it with: ``token``,
        ``expires_at``."""
        url = f"{self.settings.directory_url}/api/v1/services/{service_id}/confirmation_links"
        return dict(self._call("POST", url, token, body={}))

    def provider_confirmation(self, link: str) -> dict[str, Any]:
        """What a provider's link shows (no account): ``service`` (public), ``expires_at``, ``answer``;
        ApiError 404 for a link the directory did not make, 410 for an expired one."""
        return dict(self._call("GET", f"{self.settings.directory_url}/api/v1/provider_confirmations/{link}"))

    def answer_provider_confirmation(self, link: str, body: dict[str, Any]) -> dict[str, Any]:
        """The provider's one answer: ``{"still_right": true}`` or ``{"correction": text}`` (409: answered)."""
        url = f"{self.settings.directory_url}/api/v1/provider_confirmations/{link}"
        return dict(self._call("POST", url, None, body=body))

    def provider_replies(self, token: str, service_id: str | None = None, open_only: bool = False) -> list[Any]:
        """What providers answered about the offers the caller maintains, newest first."""
        fields = {k: v for k, v in (("service_id", service_id), ("open", "true" if open_only else None)) if v}
        found = self._call("GET", f"{self.settings.directory_url}/api/v1/provider_replies", token, fields=fields)
        return list(found["contents"])

    def close_provider_reply(self, token: str, link_id: str) -> None:
        self._call("POST", f"{self.settings.directory_url}/api/v1/provider_replies/{link_id}/done", token, body={})

    def history(self, token: str, collection: str, ident: str) -> list[dict[str, Any]]:
        """Who changed which field of the entry when, oldest first."""
        found = self._call("GET", f"{self.settings.directory_url}/api/v1/{collection}/{ident}/history", token)
        return list(found)

    def due(self, token: str) -> dict[str, Any]:
        """Entries of the caller's organisations whose confirmation is due (``stale_after_days``, ``contents``)."""
        found: dict[str, Any] = self._call("GET", f"{self.settings.directory_url}/api/v1/verification/due", token)
        return found

    def confirm(self, token: str, collection: str, ident: str) -> None:
        """Confirm an entry as current, as it is now."""
        url = f"{self.settings.directory_url}/api/v1/{collection}/{ident}"
        self._call("POST", f"{url}/verify", token, body={}, headers={"If-Match": self._revision(token, url)})

    def opening_hours(self, token: str, service_id: str) -> tuple[dict[str, Any], str]:
        """An offer's own opening hours as the editor shows them, and the offer's ETag."""
        url = f"{self.settings.directory_url}/api/v1/services/{service_id}/opening_hours"
        found, etag = self._send("GET", url, token)
        return dict(found), etag

    def save_opening_hours(self, token: str, service_id: str, hours: dict[str, Any], etag: str) -> str:
        """Replace the offer's hours (ApiError 412 when the offer changed meanwhile); its new ETag."""
        url = f"{self.settings.directory_url}/api/v1/services/{service_id}/opening_hours"
        return self._send("PUT", url, token, body=hours, headers={"If-Match": etag})[1]

    def rotate_channel_secret(self, token: str, channel_id: str) -> dict[str, Any]:
        """A new webhook secret (the old one signs along for a day)."""
        url = f"{self.settings.directory_url}/api/v1/notification_channels/{channel_id}"
        headers = {"If-Match": self._revision(token, url)}
        found: dict[str, Any] = self._call("POST", f"{url}/rotate_secret", token, body={}, headers=headers)
        return found

    def remove_entry(self, token: str, collection: str, ident: str) -> None:
        """Delete a directory entry as it is now (a notification channel, a jurisdiction)."""
        url = f"{self.settings.directory_url}/api/v1/{collection}/{ident}"
        self._call("DELETE", url, token, headers={"If-Match": self._revision(token, url)})

    def geocode(self, token: str, q: str) -> list[dict[str, Any]]:
        """The gazetteer's places for a PLZ, Gemeinde or Kreis name or key: ``name``, ``ags``, ``kreis_key``."""
        found = self._call("GET", f"{self.settings.directory_url}/api/v1/geocode", token, fields={"q": q})
        return list(found)

    def search_misses(self, token: str, since: str | None) -> list[dict[str, Any]]:
        """Searches that found nothing (coordinators): words (None: searched too rarely to show), Gemeinde, count."""
        fields = {"since": since} if since else {}
        found = self._call("GET", f"{self.settings.directory_url}/api/v1/search/misses", token, fields=fields)
        return list(found)

    def coverage(self, token: str, legal_domain: str | None, region: str | None) -> dict[str, Any]:
        """Offers per Gemeinde and how many of them are long unconfirmed (``stale_after_days``, ``regions``)."""
        fields = {k: v for k, v in (("legal_domain", legal_domain), ("region", region)) if v}
        return dict(self._call("GET", f"{self.settings.directory_url}/api/v1/search/coverage", token, fields=fields))

    # -- notify ---------------------------------------------------------------------------------
    def test_channel(self, token: str, channel_id: str) -> dict[str, Any]:
        """A test message over the channel, now: ``delivered``, ``status`` and ``detail`` (what came back)."""
        url = f"{self.settings.notify_url}/api/v1/notification_channels/{channel_id}/test"
        found: dict[str, Any] = self._call("POST", url, token, body={})
        return found

    def dead_deliveries(self, token: str, page: int) -> dict[str, Any]:
        """Deliveries notify gave up on, newest first (admins): a page of them."""
        url = f"{self.settings.notify_url}/api/v1/deliveries/dead"
        found: dict[str, Any] = self._call("GET", url, token, fields={"page": page, "per_page": 25})
        return found

    def paused_endpoints(self, token: str) -> list[dict[str, Any]]:
        """Webhook endpoints that gave no answer, and until when deliveries to them wait (admins)."""
        found = self._call("GET", f"{self.settings.notify_url}/api/v1/endpoints/paused", token)
        return list(found["contents"])

    def redrive(self, token: str, delivery_id: str) -> None:
        """Try a dead delivery again from the start (ApiError 409 when it is not dead)."""
        self._call("POST", f"{self.settings.notify_url}/api/v1/deliveries/{delivery_id}/redrive", token, body={})

    def unread(self, token: str) -> dict[str, list[str]]:
        """The organisation's unread notifications (the newest 200), their ids by referral."""
        url = f"{self.settings.notify_url}/api/v1/inbox"
        found = self._call("GET", url, token, fields={"unread": "true", "per_page": 200})
        by_referral: dict[str, list[str]] = {}
        for item in found["contents"]:
            by_referral.setdefault(item["referral_id"], []).append(item["id"])
        return by_referral

    def mark_read(self, token: str, ids: list[str]) -> None:
        self._call("POST", f"{self.settings.notify_url}/api/v1/inbox/read", token, body={"ids": ids})

    # -- routing --------------------------------------------------------------------------------
    def responsible(self, token: str, legal_domain: str, location: str, residence_of: str | None) -> dict[str, Any]:
        """Routing's answer to "who is responsible?" as it gives it: ``outcome``, ``candidates`` (each with its
        office, opening hours and the explanation), ``decides``, ``likely_organization_id``, ``places``."""
        fields = {"legal_domain": legal_domain, "location": location, "residence_of": residence_of}
        found: dict[str, Any] = self._call(
            "GET",
            f"{self.settings.routing_url}/api/v1/responsible",
            token,
            fields={k: v for k, v in fields.items() if v},
        )
        return found

    def figures(self, token: str, query: dict[str, str]) -> dict[str, Any]:
        """The coordinators' figures for ``legal_domain``, ``region``, ``from`` and ``to`` (small cells suppressed)."""
        found: dict[str, Any] = self._call("GET", f"{self.settings.routing_url}/api/v1/figures", token, fields=query)
        return found

    def referrals(
        self, token: str, status: str | None, page: int, sort: str = "changed", overdue: bool = False
    ) -> dict[str, Any]:
        """The caller's referrals (sent by their organisation, or addressed to it), a page of summaries."""
        fields = {"status": status, "page": page, "per_page": 25, "sort": sort, "overdue": "true" if overdue else None}
        found: dict[str, Any] = self._call(
            "GET", f"{self.settings.routing_url}/api/v1/referrals", token, fields={k: v for k, v in fields.items() if v}
        )
        return found

    def referral(self, token: str, ident: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"{self.settings.routing_url}/api/v1/referrals/{ident}", token)
        return found

    def audit_log(self, token: str, ident: str) -> list[dict[str, Any]]:
        """Who read, changed or was refused the referral, oldest first (admins; reading it is logged too)."""
        found = self._call("GET", f"{self.settings.routing_url}/api/v1/referrals/{ident}/audit", token)
        return list(found["contents"])

    def subject_access(self, token: str, name: str, birth_date: str) -> dict[str, Any]:
        """Everything routing holds about one person (DSGVO Art. 15; admins; the search is audited)."""
        url = f"{self.settings.routing_url}/api/v1/subject-access"
        found: dict[str, Any] = self._call("POST", url, token, body={"name": name, "birth_date": birth_date})
        return found

    def erase_subject(self, token: str, name: str, birth_date: str, referral_ids: list[str]) -> list[str]:
        """Erase the person's data from these closed referrals about them, on their request (DSGVO Art. 17)."""
        url = f"{self.settings.routing_url}/api/v1/subject-access/erase"
        body = {"name": name, "birth_date": birth_date, "referral_ids": referral_ids}
        found: dict[str, Any] = self._call("POST", url, token, body=body)
        return list(found["erased"])

    def act(self, token: str, ident: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """One step of the lifecycle (``acknowledge``, ``accept``, ``decline`` …) as the caller's side."""
        url = f"{self.settings.routing_url}/api/v1/referrals/{ident}/{action}"
        found: dict[str, Any] = self._call("POST", url, token, body=body)
        return found

    def create_referral(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        """A referral with the client's consent (``draft`` to keep it as the sender's draft)."""
        found: dict[str, Any] = self._call("POST", f"{self.settings.routing_url}/api/v1/referrals", token, body=body)
        return found

    def revise_referral(self, token: str, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        """A draft written anew (``revision``: as read); sent at once unless ``draft``."""
        url = f"{self.settings.routing_url}/api/v1/referrals/{ident}"
        found: dict[str, Any] = self._call("PUT", url, token, body=body)
        return found

    def withdraw_consent(self, token: str, consent_id: str) -> list[str]:
        """Record that the client withdrew consent; the referrals that were cancelled with it."""
        url = f"{self.settings.routing_url}/api/v1/consents/{consent_id}/withdraw"
        found: dict[str, Any] = self._call("POST", url, token, body={})
        return list(found["cancelled_referrals"])


def today_in_german(day: dict[str, Any]) -> str:
    """The directory's ``today`` of a search result in German."""
    if day.get("closed_for_holiday"):
        return f"geschlossen ({day['closed_for_holiday']})"
    if day.get("closed_until"):
        until = str(day["closed_until"])
        why = f", {day['closed_because']}" if day.get("closed_because") else ""
        return f"vorübergehend geschlossen bis {until[8:10]}.{until[5:7]}.{until[:4]}{why}"
    hours = [h.replace("–", " bis ") for h in day.get("hours") or []]
    said = f"{' und '.join(hours)} Uhr" if hours else ""
    if day.get("by_appointment"):
        return f"{said}, sonst nach Vereinbarung" if said else "nach Vereinbarung"
    return said or "keine Öffnungszeiten angegeben"


def _place(location: dict[str, Any]) -> str:
    address = location["address"]
    street = ", ".join(part for part in (address.get("address_1"), address.get("address_2")) if part)
    return f"{street}, {address.get('postal_code', '')} {address.get('city', '')}".strip(", ")
