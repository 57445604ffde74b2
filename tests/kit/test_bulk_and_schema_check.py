"""Fast paths for bulk work must store and decide exactly what the ordinary paths do."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import FormatChecker
from lotse_kit.bulk import insert_many
from lotse_kit.schema_errors import SchemaCheck, make_validator, schema_errors
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'bulk.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    made = create_engine(url)
    yield made
    made.dispose()


def _tables(name: str) -> tuple[MetaData, Table]:
    metadata = MetaData()
    table = Table(
        name,
        metadata,
        Column("id", String(64), primary_key=True),
        Column("name", Text),
        Column("codes", JSON),
        Column("amount", Float),
        Column("flag", Boolean),
        Column("revision", Integer, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    return metadata, table


ROWS: list[dict[str, Any]] = [
    {"id": "a", "name": "Beratung für Familien", "codes": ["de", "ar"], "amount": 1.5, "flag": True},
    {"id": "b", "name": None, "codes": None, "amount": None, "flag": False},
    {"id": "c", "codes": [], "flag": None},  # missing keys are NULL
]


def test_insert_many_stores_what_sqlalchemy_stores(engine: Engine) -> None:
    meta_a, plain = _tables("bulk_plain")
    meta_b, fast = _tables("bulk_fast")
    for metadata in (meta_a, meta_b):
        metadata.drop_all(engine)
        metadata.create_all(engine)
    now = datetime(2026, 11, 21, 12, 30, 15, 123456, tzinfo=UTC)
    columns = ["id", "name", "codes", "amount", "flag"]
    with engine.begin() as conn:
        conn.execute(
            insert(plain), [{**{c: r.get(c) for c in columns}, "revision": 1, "created_at": now} for r in ROWS]
        )
        insert_many(conn, fast, ROWS, columns, {"revision": 1, "created_at": now})
        insert_many(conn, fast, [], columns)  # nothing to do
    with engine.connect() as conn:
        # as the driver returns them (the stored text on SQLite), and as SQLAlchemy reads them
        raw = [conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY id").all() for t in ("bulk_plain", "bulk_fast")]
        typed = [conn.execute(select(t).order_by(t.c.id)).all() for t in (plain, fast)]
    assert raw[0] == raw[1]
    assert typed[0] == typed[1]
    assert typed[1][0].codes == ["de", "ar"] and typed[1][0].created_at.replace(tzinfo=UTC) == now
    for metadata in (meta_a, meta_b):
        metadata.drop_all(engine)


SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "email": {"anyOf": [{"type": "string", "format": "email"}, {"type": "null"}]},
        "day": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
        "status": {"type": "string", "enum": ["active", "inactive"]},
        "codes": {"type": "array", "items": {"type": "string"}},
        "age": {"anyOf": [{"type": "number"}, {"type": "null"}]},
    },
    "required": ["id", "status"],
    "additionalProperties": False,
}
ID = "6c1b8a52-3f55-4d8e-9a39-2f9d1f0c5a11"


@pytest.mark.parametrize(
    "instance",
    [
        {"id": ID, "status": "active"},
        {"id": ID, "status": "active", "email": "a@b.de", "day": "2026-11-21", "codes": ["de"], "age": 3},
        {"id": ID.upper(), "status": "inactive", "email": None, "day": None, "age": None},
        {"id": "{" + ID + "}", "status": "active"},  # UUID() parses it; jsonschema's positions reject it
        {"id": ID.replace("-", ""), "status": "active"},
        {"id": ID, "status": "active", "codes": ["de", 3]},
        {"id": ID, "status": "closed"},
        {"id": ID, "status": "active", "email": "kein-at-zeichen"},
        {"id": ID, "status": "active", "day": "21.11.2026"},
        {"id": ID, "status": "active", "age": True},
        {"id": ID, "status": "active", "extra": 1},
        {"status": "active"},
        {"id": 5, "status": "active"},
        [],
    ],
)
def test_schema_check_decides_as_jsonschema(instance: Any) -> None:
    expected = schema_errors(make_validator(SCHEMA), instance)
    assert SchemaCheck(SCHEMA).errors(instance) == expected


def test_schema_check_formats_are_jsonschemas() -> None:
    check = SchemaCheck({"type": "string", "format": "email"})
    assert "email" in FormatChecker().checkers
    assert check.errors("a@b.de") == []
    assert check.errors("nobody") != []


REQUEST = {  # the other keywords the services' request bodies use
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[A-Z]"},
        "count": {"type": "integer", "minimum": 1, "maximum": 9},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2, "uniqueItems": True},
        "kind": {"const": "x"},
        "extra": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}},
    },
}


@pytest.mark.parametrize(
    "instance",
    [
        {"name": "Anna", "count": 3, "tags": ["a"], "kind": "x", "extra": {"a": "b"}},
        {"count": 3.0},
        {"name": ""},
        {"name": "Annabel"},
        {"name": "anna"},
        {"count": 0},
        {"count": 10},
        {"count": 2.5},
        {"count": True},
        {"tags": []},
        {"tags": ["a", "b", "c"]},
        {"tags": ["a", "a"]},
        {"kind": "y"},
        {"extra": {}},
        {"extra": {"a": 1}},
    ],
)
def test_schema_check_decides_as_jsonschema_on_the_request_keywords(instance: Any) -> None:
    assert SchemaCheck(REQUEST).errors(instance) == schema_errors(make_validator(REQUEST), instance)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/b"}}, "$defs": {"b": {"type": "string"}}},
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"type": "array", "items": [{"type": "string"}]},
        {"anyOf": [{"type": "object", "dependentRequired": {"a": ["b"]}}]},
    ],
)
def test_schema_check_refuses_keywords_draft07_reads_otherwise(schema: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="otherwise than jsonschema"):
        SchemaCheck(schema)
