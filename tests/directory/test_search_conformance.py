"""The search conformance suite: the same cases, on data whose answers are known, against every backend.

``embedded``: SQLite FTS5 in the directory database. ``elasticsearch``: PostgreSQL, the index on an
Elasticsearch-API engine (osmem-server), kept current by a real Celery worker over RabbitMQ; each
search first waits until the worker has indexed every change."""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from lotse_contracts import Role
from lotse_directory import create_app
from lotse_directory.domain.search.documents import LOCAL, hours_on
from lotse_directory.use_cases.search_documents import build_documents
from sqlalchemy import text as sql_text

from tests.directory.conftest import Api, ScaleSearch, _reset

WITTEN = (51.4436, 7.3322)
FRESH = (datetime.now(UTC) - timedelta(days=10)).isoformat(timespec="seconds").replace("+00:00", "Z")
OLD = "2020-01-01T00:00:00Z"


def _offer(
    api: Api,
    org: dict[str, Any],
    name: str,
    *,
    description: str = "",
    lat: float,
    lon: float,
    languages: tuple[str, ...] = ("de",),
    domains: tuple[str, ...] = (),
    verified: str | None = FRESH,
    visibility: str = "public",
    plz: str = "58452",
    hours: tuple[str, str, str] | None = None,
    holidays_closed: bool = False,
) -> dict[str, Any]:
    service = api.create(
        "services",
        {
            "organization_id": org["id"],
            "name": name,
            "description": description,
            "status": "active",
            "legal_domains": list(domains) or None,
            "verified_at": verified,
        },
    )
    location = api.create(
        "locations",
        {"organization_id": org["id"], "location_type": "physical", "name": name, "latitude": lat, "longitude": lon},
    )
    api.create(
        "addresses",
        {
            "location_id": location["id"],
            "address_1": "Hauptstr. 1",
            "city": "Witten",
            "postal_code": plz,
            "country": "DE",
            "address_type": "physical",
            "state_province": "NW",
            "visibility": visibility,
        },
    )
    api.create("service_at_locations", {"service_id": service["id"], "location_id": location["id"]})
    for code in languages:
        api.create("languages", {"service_id": service["id"], "code": code, "name": code})
    if hours:
        api.create(
            "schedules",
            {
                "service_id": service["id"],
                "freq": "WEEKLY",
                "byday": hours[0],
                "opens_at": hours[1],
                "closes_at": hours[2],
                "closed_on_public_holidays": holidays_closed,
            },
        )
    return service


@dataclass
class SearchApi(Api):
    settle: Callable[[], None] = dataclasses.field(default=lambda: None)


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("elasticsearch", marks=[pytest.mark.postgres, pytest.mark.rabbitmq]),
    ]
)
def search_api(request: pytest.FixtureRequest) -> SearchApi:
    if request.param == "embedded":
        api: Api = request.getfixturevalue("sqlite_api")
        return SearchApi(api.client, api.container)
    if request.param == "postgresql":
        found = request.getfixturevalue("postgres_container")
        _reset(found)
        return SearchApi(create_app(found.settings, found).test_client(), found)
    scale: ScaleSearch = request.getfixturevalue("scale_search")
    scale.reset()
    container = scale.container
    return SearchApi(create_app(container.settings, container).test_client(), container, scale.settle)


@pytest.fixture
def data(search_api: SearchApi) -> dict[str, Any]:
    api = search_api
    caritas = api.create("organizations", {"name": "Caritas Mülheim (Test)", "description": "x"})
    vhs = api.create("organizations", {"name": "VHS Witten (Test)", "description": "x"})
    return {
        "kurs": _offer(
            api,
            vhs,
            "Integrationskurs für Frauen",
            description="Deutsch lernen mit Kinderbetreuung",
            lat=51.44,
            lon=7.33,
            languages=("de", "ar"),
            domains=("AUFENTHG",),
            hours=("MO,TU,WE,TH,FR", "09:00", "12:00"),
            holidays_closed=True,
        ),
        "beratung": _offer(
            api,
            caritas,
            "Beratungsstelle für Geflüchtete",
            description="Asyl und Aufenthalt",
            lat=51.43,
            lon=6.88,
            plz="45468",
            languages=("de", "ar", "fa"),
            domains=("AUFENTHG",),
            hours=("MO", "14:00", "18:00"),
        ),
        "alt": _offer(
            api,
            caritas,
            "Beratungsstelle Familie",
            description="Erziehungsberatung",
            lat=51.44,
            lon=7.34,
            verified=OLD,
            languages=("de", "tr"),
            domains=("SGB_VIII",),
        ),
        "schutz": _offer(
            api,
            caritas,
            "Schutzwohnung",
            description="Beratung für Frauen",
            lat=51.45,
            lon=7.35,
            visibility="case_managers",
            domains=("SGB_VIII",),
        ),
    }


def _search(api: SearchApi, headers: dict[str, str] | None = None, **params: Any) -> Any:
    api.settle()
    response = api.client.get("/api/v1/search", query_string=params, headers=headers or {})
    assert response.status_code == 200, response.json
    return response.json


def _names(result: Any) -> list[str]:
    return [hit["name"] for hit in result["contents"]]


def test_german_stemming_folding_synonyms_and_typos(search_api: SearchApi, data: dict[str, Any]) -> None:
    api = search_api
    assert set(_names(_search(api, q="Beratungsstellen"))) == {
        "Beratungsstelle für Geflüchtete",
        "Beratungsstelle Familie",
    }
    caritas = _names(_search(api, q="Muelheim"))  # the organisation's name; the stale offer ranks last
    assert set(caritas[:2]) == {"Beratungsstelle für Geflüchtete", "Schutzwohnung"}
    assert caritas[2:] == ["Beratungsstelle Familie"]
    assert _names(_search(api, q="Sprachkurs")) == ["Integrationskurs für Frauen"]  # synonym
    assert _names(_search(api, q="Integrationskrus")) == ["Integrationskurs für Frauen"]  # one typo
    assert _names(_search(api, q="Kurz")) == []  # short words get no typo tolerance
    assert _names(_search(api, q="Fluechtlinge")) == ["Beratungsstelle für Geflüchtete"]  # synonym, folded
    assert _names(_search(api, q="Geflüchtete Mülheim")) == ["Beratungsstelle für Geflüchtete"]


def test_filters_and_facets_under_the_other_filters(search_api: SearchApi, data: dict[str, Any]) -> None:
    api = search_api
    token = api.token(Role.CASE_MANAGER, "org")
    result = _search(api, token, language="ar", legal_domain="AUFENTHG")
    assert set(_names(result)) == {"Integrationskurs für Frauen", "Beratungsstelle für Geflüchtete"}
    languages = {f["value"]: f["count"] for f in result["facets"]["language"]}
    assert languages == {"ar": 2, "de": 2, "fa": 1}  # counted under legal_domain, not under language
    domains = {f["value"]: f["count"] for f in result["facets"]["legal_domain"]}
    assert domains == {"AUFENTHG": 2}  # under language=ar: the Familie offer (tr) does not count
    words_and_filters = _search(api, token, q="Beratungsstelle", language="ar", legal_domain="AUFENTHG")
    assert _names(words_and_filters) == ["Beratungsstelle für Geflüchtete"]  # the words hold beside the filters
    assert _names(_search(api, token, organization_id=data["kurs"]["organization_id"])) == [
        "Integrationskurs für Frauen"
    ]


def test_geo_distance_radius_and_sort(search_api: SearchApi, data: dict[str, Any]) -> None:
    api = search_api
    result = _search(api, near="58452", radius_km=5, sort="distance")
    assert _names(result) == ["Integrationskurs für Frauen", "Beratungsstelle Familie"]  # public places only
    assert all(0 <= hit["distance_km"] < 5 for hit in result["contents"])
    near_all = _search(api, api.token(Role.CASE_MANAGER, "org"), lat=WITTEN[0], lon=WITTEN[1], radius_km=50)
    assert "Schutzwohnung" in _names(near_all) and len(near_all["contents"]) == 4
    muelheim = _search(api, near="45468 Mülheim an der Ruhr", radius_km=3)
    assert _names(muelheim) == ["Beratungsstelle für Geflüchtete"]


def test_stale_offers_rank_below_verified_ones(search_api: SearchApi, data: dict[str, Any]) -> None:
    result = _search(search_api, q="Beratungsstelle")
    assert _names(result) == ["Beratungsstelle für Geflüchtete", "Beratungsstelle Familie"]
    assert [hit["stale"] for hit in result["contents"]] == [False, True]


def test_opening_hours_and_public_holidays(search_api: SearchApi, data: dict[str, Any]) -> None:
    api = search_api
    monday_ten = "2026-11-23T10:00:00+01:00"
    assert _names(_search(api, open_at=monday_ten)) == ["Integrationskurs für Frauen"]
    assert _names(_search(api, open_at="2026-11-23T15:00:00+01:00")) == ["Beratungsstelle für Geflüchtete"]
    assert _names(_search(api, open_at="2026-12-25T10:00:00+01:00")) == []  # Friday, Christmas Day
    assert _names(_search(api, open_at="2026-11-21T10:00:00+01:00")) == []  # Saturday
    today = datetime.now(LOCAL).date().isoformat()
    assert {hit["today"]["date"] for hit in _search(api)["contents"]} == {today}  # each result says today's hours


def test_a_result_says_what_the_schedules_mean_for_one_day() -> None:
    weekly = {"freq": "WEEKLY", "byday": "MO,TU,TH", "opens_at": "08:00", "closes_at": "12:00"}
    late = {"freq": "WEEKLY", "byday": "TH", "opens_at": "14:00", "closes_at": "18:30"}
    holidays_closed = {**weekly, "byday": "FR", "closed_on_public_holidays": True}
    appointments = {"by_appointment": True, "description": "Termine nach Vereinbarung"}
    summer = {**weekly, "byday": "WE", "valid_from": "2026-06-01", "valid_to": "2026-08-31"}
    schedules = [weekly, late, holidays_closed, appointments, summer]
    assert hours_on(schedules, date(2026, 12, 3)) == {  # a Thursday
        "date": "2026-12-03",
        "hours": ["08:00–12:00", "14:00–18:30"],
        "by_appointment": True,
        "closed_for_holiday": None,
        "closed_until": None,
        "closed_because": None,
    }
    assert hours_on(schedules, date(2026, 12, 25))["closed_for_holiday"] == "Erster Weihnachtstag"
    assert hours_on(schedules, date(2026, 12, 25))["hours"] == []
    assert hours_on([weekly], date(2026, 12, 25))["closed_for_holiday"] is None  # only where the schedule says so
    assert hours_on(schedules, date(2026, 12, 2))["hours"] == []  # a Wednesday, outside the summer hours
    assert hours_on(schedules, date(2026, 7, 1))["hours"] == ["08:00–12:00"]
    closure = {"closed": True, "valid_from": "2026-12-21", "valid_to": "2027-01-01", "description": "Betriebsferien"}
    assert hours_on([*schedules, closure], date(2026, 12, 22)) == {  # a Tuesday
        "date": "2026-12-22",
        "hours": [],
        "by_appointment": False,
        "closed_for_holiday": None,
        "closed_until": "2027-01-01",
        "closed_because": "Betriebsferien",
    }
    assert hours_on([*schedules, closure], date(2027, 1, 4))["hours"] == ["08:00–12:00"]  # the Monday after


def test_a_temporary_closure_closes_the_offer_in_the_open_at_filter(
    search_api: SearchApi, data: dict[str, Any]
) -> None:
    api = search_api
    kurs = data["kurs"]
    read = api.client.get(f"/api/v1/services/{kurs['id']}/opening_hours", headers=api.admin())
    assert read.status_code == 200, read.json
    assert read.json["weekly"] == [{"days": ["MO", "TU", "WE", "TH", "FR"], "opens_at": "09:00", "closes_at": "12:00"}]
    hours = {**read.json, "closures": [{"from": "2026-11-23", "to": "2026-11-27", "note": "Fortbildung"}]}
    del hours["service_id"], hours["service_name"], hours["kept"]
    changed = api.client.put(
        f"/api/v1/services/{kurs['id']}/opening_hours",
        json=hours,
        headers={**api.admin(), "If-Match": read.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.json
    assert _names(_search(api, open_at="2026-11-23T10:00:00+01:00")) == []  # the Monday of the closure
    assert _names(_search(api, open_at="2026-11-27T10:00:00+01:00")) == []  # its last day
    assert _names(_search(api, open_at="2026-11-30T10:00:00+01:00")) == ["Integrationskurs für Frauen"]
    assert _names(_search(api, open_at="2026-11-20T10:00:00+01:00")) == ["Integrationskurs für Frauen"]


def test_coverage_counts_offers_and_stale_ones_per_gemeinde(search_api: SearchApi, data: dict[str, Any]) -> None:
    api = search_api
    api.settle()
    coordinator = api.token(Role.COORDINATOR, "org")

    def coverage(**params: Any) -> Any:
        response = api.client.get("/api/v1/search/coverage", query_string=params, headers=coordinator)
        assert response.status_code == 200, response.json
        return response.json

    everywhere = coverage()
    assert everywhere["stale_after_days"] == 365
    assert everywhere["regions"] == [  # the shelter has no public place: it counts nowhere
        {"key": "05117000", "offers": 1, "stale": 0},
        {"key": "05954036", "offers": 2, "stale": 1},
    ]
    assert coverage(region="05954")["regions"] == [{"key": "05954036", "offers": 2, "stale": 1}]
    assert coverage(legal_domain="SGB_VIII")["regions"] == [{"key": "05954036", "offers": 1, "stale": 1}]
    assert _search(api, q="Integrationskurs")["facets"].keys() == {"legal_domain", "topic", "language", "target_group"}
    refused = api.client.get("/api/v1/search/coverage", headers=api.token(Role.CASE_MANAGER, "org"))
    assert refused.status_code == 403
    bad = api.client.get("/api/v1/search/coverage", query_string={"region": "NRW"}, headers=coordinator)
    assert bad.status_code == 400 and bad.json["errors"][0]["name"] == "region"


def test_public_callers_see_only_public_places(search_api: SearchApi, data: dict[str, Any]) -> None:
    api = search_api
    public = _search(api, q="Schutzwohnung")
    assert _names(public) == ["Schutzwohnung"] and public["contents"][0]["locations"] == []
    token = api.token(Role.CASE_MANAGER, "org")
    seen = _search(api, token, q="Schutzwohnung")["contents"][0]["locations"]
    assert seen[0]["address"]["postal_code"] == "58452"


def test_pagination_is_stable_and_bounded(search_api: SearchApi, data: dict[str, Any]) -> None:
    api = search_api
    pages = [_names(_search(api, page=p, per_page=1)) for p in (1, 2, 3, 4)]
    assert sorted(n for page in pages for n in page) == sorted(_names(_search(api, per_page=10)))
    for params, field in [
        ({"per_page": 101}, "per_page"),
        ({"page": 0}, "page"),
        ({"sort": "x"}, "sort"),
        ({"page": 200, "per_page": 100}, "page"),
        ({"near": "99999"}, "near"),
        ({"language": "deutsch"}, "language"),
        ({"open_at": "heute"}, "open_at"),
        ({"lat": 51.4}, "lon"),
        ({"sort": "distance"}, "sort"),
        ({"bogus": 1}, "bogus"),
    ]:
        response = api.client.get("/api/v1/search", query_string=params)
        assert response.status_code == 400, (params, response.json)
        assert response.mimetype == "application/problem+json"
        assert response.json["errors"][0]["name"] == field


def test_searches_that_find_nothing_are_counted_anonymously(search_api: SearchApi, data: dict[str, Any]) -> None:
    api = search_api
    coordinator = api.token(Role.COORDINATOR, "org")
    _search(api, q="Amina Beispiel", near="58452")  # a client's name, typed once or twice: not kept in the clear
    _search(api, q="amina beispiel", near="58452")
    for _ in range(2):
        _search(api, q="Hebamme Türkisch", near="58452", language="tr")
    misses = api.client.get("/api/v1/search/misses", headers=coordinator).json
    assert misses == [{"terms": None, "region_key": None, "count": 4, "last": misses[0]["last"]}]
    with api.container.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(sql_text("SELECT * FROM lotse_search_miss")) for v in row)
    assert "amina" not in stored.lower() and "hebamme" not in stored.lower()
    _search(api, q="hebamme türkisch", near="58452", language="tr")  # the third time: the words are kept
    misses = api.client.get("/api/v1/search/misses", headers=coordinator).json
    assert misses[0]["terms"] == "hebamme türkisch" and misses[0]["count"] == 3
    assert misses[0]["region_key"] == "05954036"
    assert misses[-1]["terms"] is None and misses[-1]["count"] == 2
    for _ in range(3):
        _search(api, q="Hebamme", lat=WITTEN[0], lon=WITTEN[1])  # coordinates: the Gemeinde is looked up on a miss
    by_terms = {m["terms"]: m for m in api.client.get("/api/v1/search/misses", headers=coordinator).json}
    assert by_terms["hebamme"]["region_key"] == "05954036"
    assert api.client.get("/api/v1/search/misses", headers=api.token(Role.CASE_MANAGER, "org")).status_code == 403


def test_documents_read_only_the_fields_they_are_made_of(search_api: SearchApi, data: dict[str, Any]) -> None:
    """Documents built from the few fields the index reads equal documents built from whole rows."""
    container = search_api.container
    with container.store.transaction() as session:
        ids = [str(s["id"]) for s in session.select("service")]
        narrow = build_documents(session, container.gazetteer, ids)
        whole_rows = _WholeRows(session)
        assert build_documents(whole_rows, container.gazetteer, ids) == narrow  # type: ignore[arg-type]
        assert whole_rows.asked, "the documents ask for fields"
    assert all(narrow.values()) and len(narrow) == len(data)


class _WholeRows:
    """A store session that answers every select with whole rows, whatever fields were asked for."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.asked = False

    def select(self, entity: str, where: Any = None, *, fields: Any = None, **more: Any) -> Any:
        self.asked = self.asked or fields is not None
        return self.session.select(entity, where, **more)


def test_a_search_counts_days_in_berlin(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 00:30 in Berlin the server's UTC date is yesterday; "verified within n days" counts from Berlin's."""
    from lotse_directory.domain.search import query

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return datetime(2026, 12, 3, 23, 30, tzinfo=UTC).astimezone(tz)

    monkeypatch.setattr(query, "datetime", Clock)
    assert query.SearchQuery().today == date(2026, 12, 4)
