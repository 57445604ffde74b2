"""The Elasticsearch search backend (scale mode), with the official client.

Searches go to an alias; the alias points at one concrete index. A rebuild fills a new index and
moves the alias in one atomic request. Every write carries the offer's indexing version
(``version_type=external``), so a slower worker can never overwrite a newer document with an older
one: Elasticsearch refuses the older version and the refusal is expected.

Scoring follows :mod:`lotse_directory.domain.search.plan` exactly: per term a ``dis_max`` over
``constant_score`` clauses (one per field and kind of match, boosted by twice its weight), summed
over the terms, plus 1 for a current (verified) offer — the same integers the embedded index computes.
"""

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from elastic_transport import ApiResponse, HttpHeaders, Urllib3HttpNode
from elastic_transport._node import NodeApiResponse
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError, TransportError, helpers

from lotse_directory.adapters.ports import BackendUnavailable
from lotse_directory.adapters.search.elastic_mapping import MAPPINGS, SETTINGS, source
from lotse_directory.domain.search.documents import SearchDocument
from lotse_directory.domain.search.plan import FIELDS, KINDS, WEIGHTS, Phrase, PlannedTerm
from lotse_directory.domain.search.query import Hit, SearchQuery, SearchResult

FACET_SIZE = 1000


class PlainJsonNode(Urllib3HttpNode):
    """Sends ``application/json`` instead of the client's versioned media type.

    Elasticsearch accepts both; engines that speak the API without the compatibility headers
    (osmem-server in the tests) accept only plain JSON."""

    def perform_request(  # type: ignore[override]
        self, method: str, target: str, body: bytes | None = None, headers: HttpHeaders | None = None, **kwargs: Any
    ) -> NodeApiResponse:
        plain = HttpHeaders(headers or {})
        for name in ("accept", "content-type"):
            value = plain.get(name)
            if value and "vnd.elasticsearch+" in value:
                plain[name] = "application/x-ndjson" if "ndjson" in value else "application/json"
        return super().perform_request(method, target, body=body, headers=plain, **kwargs)


def connect(url: str, timeout: float = 10.0) -> Elasticsearch:
    return Elasticsearch(url, node_class=PlainJsonNode, request_timeout=timeout, max_retries=2, retry_on_timeout=True)


VersionedDocuments = Mapping[str, tuple[int, SearchDocument | None]]
"""Per offer: its indexing version and its document (None: remove it from the index)."""


class ElasticIndex:
    """Writes to the offers' index behind ``alias``; creates and swaps concrete indices."""

    def __init__(self, client: Elasticsearch, alias: str) -> None:
        self.client = client
        self.alias = alias

    def ready(self) -> None:
        """Raise unless the engine answers and the alias searches use exists (readiness)."""
        if not self.client.indices.exists_alias(name=self.alias):
            raise LookupError(f"search index alias {self.alias!r} missing: run `lotse-directory search rebuild`")

    def current(self) -> list[str]:
        """The concrete indices the alias points at (none before the first rebuild)."""
        try:
            return sorted(self.client.indices.get_alias(name=self.alias).body)
        except NotFoundError:
            return []

    def create(self, name: str | None = None) -> str:
        name = name or f"{self.alias}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        self.client.indices.create(index=name, settings=SETTINGS, mappings=MAPPINGS)
        return name

    def ensure(self) -> None:
        """Create an empty index behind the alias if there is none (a rebuild fills it). Processes that
        start together (web, worker) may all call this: they agree on the first index's name."""
        if self.current():
            return
        first = f"{self.alias}-initial"
        try:
            self.create(first)
        except BadRequestError as error:
            if error.error != "resource_already_exists_exception":
                raise
        self.client.indices.update_aliases(actions=[{"add": {"index": first, "alias": self.alias}}])

    def swap(self, index: str) -> list[str]:
        """Point the alias at ``index`` only (one atomic request); returns the indices it left."""
        old = [name for name in self.current() if name != index]
        actions: list[dict[str, Any]] = [{"remove": {"index": name, "alias": self.alias}} for name in old]
        actions.append({"add": {"index": index, "alias": self.alias}})
        self.client.indices.update_aliases(actions=actions)
        return old

    def drop(self, indices: Iterable[str]) -> None:
        for name in indices:
            self.client.indices.delete(index=name, ignore_unavailable=True)

    def write(self, documents: VersionedDocuments, index: str | None = None, refresh: bool = False) -> None:
        """Index or delete these offers at their versions; an older version than the stored one is skipped."""
        actions = []
        for service_id, (version, document) in documents.items():
            action: dict[str, Any] = {
                "_index": index or self.alias,
                "_id": service_id,
                "version": version,
                "version_type": "external",
            }
            if document is None:
                action["_op_type"] = "delete"
            else:
                action["_source"] = source(document)
            actions.append(action)
        if not actions:
            return
        try:
            results = helpers.streaming_bulk(
                self.client, actions, raise_on_error=False, raise_on_exception=True, refresh=refresh, chunk_size=500
            )
            failures = [
                item
                for ok, item in results
                if not ok and next(iter(item.values())).get("status") not in (409, 404)  # older version / gone
            ]
        except TransportError as error:
            raise BackendUnavailable(str(error)) from error
        if failures:
            raise RuntimeError(f"Elasticsearch refused {len(failures)} documents, first: {failures[0]}")

    def refresh(self) -> None:
        self.client.indices.refresh(index=self.alias)


def _clause(kind: str, field: str, phrase: Phrase) -> dict[str, Any]:
    if kind == "fuzzy":
        match: dict[str, Any] = {
            "match": {field: {"query": phrase.text, "fuzziness": 1, "prefix_length": 0, "max_expansions": 1000}}
        }
    else:
        match = {"match_phrase": {field: {"query": phrase.text}}}
    return {"constant_score": {"filter": match, "boost": 2 * WEIGHTS[kind][field]}}


def _term_query(term: PlannedTerm) -> dict[str, Any]:
    alternatives = {
        "exact": [term.exact],
        "synonym": list(term.synonyms),
        "fuzzy": [term.exact] if term.fuzzy else [],
    }
    queries = [_clause(kind, field, p) for kind in KINDS for field in FIELDS for p in alternatives[kind]]
    return {"dis_max": {"queries": queries, "tie_breaker": 0}}


def _open_ended_or(field: str, bound: dict[str, str]) -> dict[str, Any]:
    """The field is absent (no limit) or within the bound."""
    return {"bool": {"should": [{"bool": {"must_not": [{"exists": {"field": field}}]}}, {"range": {field: bound}}]}}


def _places(query: SearchQuery) -> str:
    return "points_public" if query.public else "points_all"


class ElasticSearch:
    """Answers searches from the index behind ``alias``."""

    def __init__(self, client: Elasticsearch, alias: str) -> None:
        self.client = client
        self.alias = alias

    def warm(self) -> None:
        """Nothing to load: the engine holds the index."""

    def search(self, query: SearchQuery) -> SearchResult:
        body = self._body(query)
        try:
            response = self.client.search(index=self.alias, **body)
        except (TransportError, ApiError) as error:
            raise BackendUnavailable(str(error)) from error
        return self._result(query, response)

    def _body(self, query: SearchQuery) -> dict[str, Any]:
        facet_filters = {facet: {"terms": {facet: list(values)}} for facet, values in query.facets.items() if values}
        body: dict[str, Any] = {
            "query": {
                "bool": {
                    "must": [_term_query(t) for t in query.terms],
                    "filter": [{"match_all": {}}, *self._filters(query)],
                    "should": [
                        {
                            "constant_score": {
                                "filter": {"range": {"verified_on": {"gte": query.fresh_from.isoformat()}}},
                                "boost": 1,
                            }
                        }
                    ],
                    "minimum_should_match": 0,
                }
            },
            "post_filter": {"bool": {"filter": list(facet_filters.values())}},
            "aggs": {
                **{
                    facet: {
                        "filter": {"bool": {"filter": [f for name, f in facet_filters.items() if name != facet]}},
                        "aggs": {"values": {"terms": {"field": facet, "size": FACET_SIZE}}},
                    }
                    for facet in query.counted
                },
                **{
                    f"{facet}__fresh": {
                        "filter": {
                            "bool": {
                                "filter": [
                                    *(f for name, f in facet_filters.items() if name != facet),
                                    {"range": {"verified_on": {"gte": query.fresh_from.isoformat()}}},
                                ]
                            }
                        },
                        "aggs": {"values": {"terms": {"field": facet, "size": FACET_SIZE}}},
                    }
                    for facet in query.counted_fresh
                },
            },
            "sort": self._sort(query),
            "track_scores": True,
            "track_total_hits": True,
            "from_": query.offset,
            "size": query.per_page,
            "source": False,
        }
        return body

    @staticmethod
    def _filters(query: SearchQuery) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if query.organization_ids:
            out.append({"terms": {"organization_id": list(query.organization_ids)}})
        if query.region_keys:
            out.append({"bool": {"should": [{"prefix": {"region_keys": key}} for key in query.region_keys]}})
        moment = query.moment
        if moment is not None:
            minute, day = moment.minute_of_week, moment.day
            open_then = [
                {"range": {"hours.start": {"lte": minute}}},
                {"range": {"hours.end": {"gt": minute}}},
                _open_ended_or("hours.valid_from", {"lte": day}),
                _open_ended_or("hours.valid_to", {"gte": day}),
            ]
            out.append({"nested": {"path": "hours", "query": {"bool": {"filter": open_then}}}})
            if moment.holiday:
                out.append({"bool": {"must_not": [{"term": {"closed_on_holidays": True}}]}})
        if query.verified_from is not None:
            out.append({"range": {"verified_on": {"gte": query.verified_from.isoformat()}}})
        near = query.near
        if near is not None and near.radius_km is not None:
            within: list[dict[str, Any]] = [
                {
                    "geo_distance": {
                        "distance": f"{near.radius_km}km",
                        "places.point": {"lat": near.latitude, "lon": near.longitude},
                    }
                }
            ]
            if query.public:
                within.append({"term": {"places.public": True}})
            out.append({"nested": {"path": "places", "query": {"bool": {"filter": within}}}})
        return out

    @staticmethod
    def _sort(query: SearchQuery) -> list[dict[str, Any]]:
        score = {"_score": {"order": "desc"}}
        last = {"service_id": {"order": "asc"}}
        if query.near is None:
            return [score, last]
        distance = {
            "_geo_distance": {
                _places(query): {"lat": query.near.latitude, "lon": query.near.longitude},
                "order": "asc",
                "unit": "km",
                "mode": "min",
                "distance_type": "arc",
            }
        }
        return [distance, score, last] if query.sort == "distance" else [score, distance, last]

    @staticmethod
    def _result(query: SearchQuery, response: ApiResponse[Any]) -> SearchResult:
        distance_at = None
        if query.near is not None:
            distance_at = 0 if query.sort == "distance" else 1
        hits = []
        for hit in response["hits"]["hits"]:
            distance = None
            if distance_at is not None:
                value = hit["sort"][distance_at]
                distance = None if value is None or math.isinf(float(value)) else float(value)  # no place: Infinity
            hits.append(Hit(str(hit["_id"]), round(hit["_score"] or 0), distance))
        facets = {
            facet: {str(b["key"]): int(b["doc_count"]) for b in response["aggregations"][facet]["values"]["buckets"]}
            for facet in (*query.counted, *(f"{f}__fresh" for f in query.counted_fresh))
        }
        return SearchResult(total=int(response["hits"]["total"]["value"]), hits=hits, facets=facets)
