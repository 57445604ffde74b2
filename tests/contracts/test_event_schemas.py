"""Contract tests: the versioned event schemas in libs/contracts are valid and hold the line on personal data."""

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from lotse_contracts import DeclineReason, EventEnvelope, ReferralEvent
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


def _referral(event: ReferralEvent = ReferralEvent.DECLINED, **data: object) -> dict[str, object]:
    base = {
        "referral_id": "0b6f3a52-52c6-4d0e-9d7b-4a35c2f1e001",
        "legal_domain": "SGB_VIII",
        "region_key": "05954036",
        "status": "declined",
        "previous_status": "acknowledged",
        "sender_organization_id": "kim-en",
        "recipient_organization_id": "jugendamt-witten",
        "reason_code": "oertlich_unzustaendig",
        "first_received_on": "2026-11-20",
    }
    return EventEnvelope(type=event.event_type, source="lotse.routing", data={**base, **data}).to_dict()


def test_every_referral_event_has_the_one_referral_schema() -> None:
    for event in ReferralEvent:
        event_validator(event.event_type, 1).validate(_referral(event))
    assert ("referral.event", 1) in known_event_schemas()
    forwarded = _referral(
        ReferralEvent.FORWARDED,
        status="forwarded",
        reason_code=None,
        forwarded_to_referral_id="0b6f3a52-52c6-4d0e-9d7b-4a35c2f1e002",
    )
    event_validator("referral.forwarded", 1).validate(forwarded)
    key = routing_key("referral", ReferralEvent.REQUESTED, "SGB_VIII", "05954036")
    assert key == "referral.requested.sgb_viii.05954036"  # what an institution binds its queue to


@pytest.mark.parametrize(
    "change",
    [
        {"client_name": "Erika Mustermann"},  # personal data has no field to go in
        {"reason_text": "Familie ist verzogen nach Bochum"},  # free texts stay in the routing service
        {"reason_code": "weil"},  # only the fixed list
        {"legal_domain": "sgb_viii"},  # the code, not the routing-key spelling
        {"region_key": "Witten"},
        {"status": "archived"},
        {"referral_id": "r-1"},
        {"first_received_on": "20.11.2026"},
    ],
)
def test_a_referral_event_carries_coded_facts_only(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        event_validator("referral.declined", 1).validate(_referral(**change))


def test_an_unknown_referral_event_type_is_refused() -> None:
    with pytest.raises(ValidationError):
        event_validator("referral.archived", 1).validate({**_referral(), "type": "referral.archived"})
    assert DeclineReason.KLIENT_LEHNT_AB.label_de == "Klient*in lehnt ab"
    assert {r.value for r in DeclineReason} >= {"sonstiges", "duplikat"} and len(DeclineReason) == 10


def test_a_legal_domain_is_read_from_the_spellings_people_use() -> None:
    from lotse_contracts import LegalDomain

    assert LegalDomain("AufenthG") is LegalDomain.AUFENTHG
    assert LegalDomain("SGB XII") is LegalDomain.SGB_XII and LegalDomain("sgb12") is LegalDomain.SGB_XII
    assert LegalDomain("StAG") is LegalDomain.STAG and LegalDomain("AsylbLG") is LegalDomain.ASYLBLG
    with pytest.raises(ValueError):
        LegalDomain("SGB")
