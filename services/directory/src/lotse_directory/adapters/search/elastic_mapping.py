"""The Elasticsearch index of offers: its mapping, and a search document as the index stores it.

The one place that knows the index layout. Text is analysed by Elasticsearch's own ``german``
analyzer, which :mod:`lotse_directory.domain.search.analysis` reproduces term for term for the
embedded index; synonyms are expanded in the query (the shared list), not in the index.

Places are stored twice: as nested ``places`` (point and visibility together, for the radius
filter, which must test every place of an offer) and as plain ``points_public`` / ``points_all``
(for sorting by the nearest place). Nested geo sorting is not supported by every engine that speaks
this API (the test engine refuses it), and some test filters only the last value of a multi-valued
``geo_point``; the two shapes answer the same on Elasticsearch and on osmem-server.
"""

from typing import Any

from lotse_directory.domain.search.documents import SearchDocument
from lotse_directory.domain.search.plan import FIELDS
from lotse_directory.domain.search.query import FACETS

_TEXT = {"type": "text", "analyzer": "german"}
_KEYWORD = {"type": "keyword"}

SETTINGS: dict[str, Any] = {"number_of_shards": 1, "number_of_replicas": 0}
"""One shard: the directory of a Land fits in one; scores and facet counts need no cross-shard merge."""

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "service_id": _KEYWORD,
        "organization_id": _KEYWORD,
        **{name: _TEXT for name in FIELDS},
        **{facet: _KEYWORD for facet in FACETS},
        "region_keys": _KEYWORD,
        "places": {
            "type": "nested",
            "properties": {"point": {"type": "geo_point"}, "public": {"type": "boolean"}},
        },
        "points_public": {"type": "geo_point"},
        "points_all": {"type": "geo_point"},
        "hours": {
            "type": "nested",
            "properties": {
                "start": {"type": "integer"},
                "end": {"type": "integer"},
                "valid_from": {"type": "date", "format": "strict_date"},
                "valid_to": {"type": "date", "format": "strict_date"},
            },
        },
        "closed_on_holidays": {"type": "boolean"},
        "verified_on": {"type": "date", "format": "strict_date"},
    },
}


def _point(latitude: float, longitude: float) -> dict[str, float]:
    return {"lat": latitude, "lon": longitude}


def source(document: SearchDocument) -> dict[str, Any]:
    """The stored form of a search document."""
    return {
        "service_id": document.service_id,
        "organization_id": document.organization_id,
        **{name: document.texts.get(name, "") for name in FIELDS},
        **document.facet_values(),
        "region_keys": document.region_keys,
        "places": [{"point": _point(p.latitude, p.longitude), "public": p.public} for p in document.points],
        "points_public": [_point(p.latitude, p.longitude) for p in document.points if p.public],
        "points_all": [_point(p.latitude, p.longitude) for p in document.points],
        "hours": [
            {"start": h.start, "end": h.end, "valid_from": h.valid_from, "valid_to": h.valid_to} for h in document.hours
        ],
        "closed_on_holidays": document.closed_on_holidays,
        "verified_on": document.verified_on.isoformat() if document.verified_on else None,
    }
