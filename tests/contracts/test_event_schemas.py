"""Contract tests: the versioned event schemas in libs/contracts are valid and hold the line on personal data."""

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from lotse_contracts import EventEnvelope
from lotse_contracts.events import known_event_schemas, routing_key, schema_documents
from lotse_kit.schema_errors import event_validator


def test_every_schema_is_valid_json_schema_with_an_id() -> None:
    documents = schema_documents()
    assert "https://lotse.example/schemas/envelope.v1.json" in documents
    for uri, schema in documents.items():
        Draft202012Validator.check_schema(schema)
        assert uri.endswith(".json")
    assert ("directory.entity.changed", 1) in known_event_schemas()


def _changed(**data: object) -> dict[str, object]:
    base = {
        "entity": "service",
        "id": "s-1",
        "action": "updated",
        "fields": ["name"],
        "organization_ids": ["o-1"],
        "revision": 2,
    }
    return EventEnvelope(type="directory.service.changed", source="lotse.directory", data={**base, **data}).to_dict()


def test_directory_changed_v1_accepts_ids_and_rejects_anything_more() -> None:
    validator = event_validator("directory.service.changed", 1)
    validator.validate(_changed())
    with pytest.raises(ValidationError):
        validator.validate(_changed(name="Erika Mustermann"))  # no personal (or any other) data
    with pytest.raises(ValidationError):
        validator.validate({**_changed(), "id": "not-a-uuid"})
    with pytest.raises(ValidationError):
        validator.validate({**_changed(), "extra": 1})


def test_routing_keys_put_domain_in_lower_case_and_fill_gaps() -> None:
    assert routing_key("referral", "requested", "SGB_VIII", "05954036") == "referral.requested.sgb_viii.05954036"
    assert routing_key("directory", "service.changed", None, None) == "directory.service.changed.any.any"


def _imported(**data: object) -> dict[str, object]:
    base = {
        "organization_id": "o-1",
        "import_id": "5c1b1c8e-6d3f-4a36-9a53-8f4f8e0b2a10",
        "created": {"service": ["s-1", "s-2"], "location": ["l-1"]},
        "updated": {},
    }
    return EventEnvelope(
        type="directory.organization.imported", source="lotse.directory", data={**base, **data}
    ).to_dict()


def test_directory_organization_imported_v1_names_ids_by_entity_and_nothing_more() -> None:
    validator = event_validator("directory.organization.imported", 1)
    validator.validate(_imported())
    validator.validate(_imported(organization_id=None))  # entries nobody owns (taxonomies)
    with pytest.raises(ValidationError):
        validator.validate(_imported(created={"service": [{"id": "s-1", "name": "Erika Mustermann"}]}))
    with pytest.raises(ValidationError):
        validator.validate(_imported(import_id="not-a-uuid"))
    with pytest.raises(ValidationError):
        validator.validate(_imported(created={"Service!": ["s-1"]}))
    with pytest.raises(ValidationError):
        validator.validate(_imported(comment="x"))
