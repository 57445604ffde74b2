"""JSON Schema validation that names each offending field (no web framework needed)."""

import json
import re
from collections.abc import Mapping
from functools import cache, partial
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from lotse_contracts.events import event_schema, schema_documents
from referencing import Registry, Resource


def make_validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(dict(schema), format_checker=FormatChecker())


@cache
def event_validator(event_type: str, version: int) -> Draft202012Validator:
    """A validator for a whole event (envelope included) of one type and version, from the contracts."""
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(doc)) for uri, doc in schema_documents().items()
    )
    return Draft202012Validator(event_schema(event_type, version), registry=registry, format_checker=FormatChecker())


def field_names(error: ValidationError) -> list[str]:
    """Dotted paths of the fields an error is about (``addresses.0.postal_code``)."""
    base = ".".join(str(p) for p in error.absolute_path)
    prefix = f"{base}." if base else ""
    if error.validator == "required" and isinstance(error.instance, Mapping):
        required: list[str] = list(error.validator_value)  # type: ignore[arg-type]
        return [f"{prefix}{n}" for n in required if n not in error.instance]
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        known = set(schema.get("properties", {}))
        extra = [k for k in error.instance if k not in known]
        return [f"{prefix}{k}" for k in extra] or [base or "body"]
    return [base or "body"]


def reason(error: ValidationError) -> str:
    if error.validator == "required":
        return "is required"
    if error.validator == "additionalProperties":
        return "is not a known field"
    if error.validator == "enum":
        options: list[Any] = list(error.validator_value)  # type: ignore[arg-type]
        return "must be one of " + ", ".join(json.dumps(v) for v in options)
    if error.validator == "anyOf" and error.context:
        # "X or null": report the reason of the non-null branch
        return reason(error.context[0])
    return error.message


def schema_errors(validator: Draft202012Validator, instance: Any) -> list[tuple[str, str]]:
    """(field, reason) for every way ``instance`` breaks the schema, in document order."""
    out: list[tuple[str, str]] = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path]):
        out.extend((name, reason(error)) for name in field_names(error))
    return out


class SchemaCheck:
    """Validation for every request body and bulk work: compiled code (fastjsonschema) answers "valid" fast,
    and only an instance it rejects is explained by jsonschema, so the reasons are the same as everywhere else.

    Formats are checked by jsonschema's own format checker in both (or, on the fast path, by a
    stricter and quicker test), so that what the fast path accepts, jsonschema accepts too. The
    schema may use only keywords that mean the same in draft 2020-12 and draft-07 (:data:`SAME_IN_BOTH`,
    ``items`` as one schema); another one is refused here, before it can be misread.
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        unlike = sorted(_unlike_in_draft07(schema))
        if unlike:
            raise ValueError(f"the fast check would read these keywords otherwise than jsonschema: {unlike}")
        self.validator = make_validator(schema)
        checker = self.validator.format_checker or FormatChecker()
        formats: dict[str, Any] = {name: partial(_conforms, checker, name) for name in checker.checkers}
        formats.update(_STRICTER)
        draft07 = {**schema, "$schema": "http://json-schema.org/draft-07/schema#"}
        self._fast = fastjsonschema.compile(draft07, formats=formats)

    def errors(self, instance: Any) -> list[tuple[str, str]]:
        try:
            self._fast(instance)
        except fastjsonschema.JsonSchemaValueException:
            return schema_errors(self.validator, instance)
        return []


_STRICTER = {
    # the canonical form only; jsonschema also takes the odd ones UUID() parses (then it decides)
    "uuid": re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}").fullmatch,
}


SAME_IN_BOTH = frozenset(
    {
        *("type", "enum", "const", "format", "pattern", "anyOf", "allOf", "oneOf", "not"),
        *("properties", "required", "additionalProperties", "minProperties", "maxProperties", "items"),
        *("minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "minimum", "maximum"),
        *("exclusiveMinimum", "exclusiveMaximum", "multipleOf", "$defs"),
        *("title", "description", "default", "examples", "readOnly", "writeOnly", "deprecated", "$schema"),
    }
)
"""JSON Schema keywords that draft-07 reads as draft 2020-12 does (``items`` only as one schema; no ``$ref``,
whose siblings draft-07 ignores)."""

_VALUES = frozenset({"enum", "const", "default", "examples"})
"""Keywords whose value is data, not a schema."""


def _unlike_in_draft07(schema: Any) -> set[str]:
    """The keywords of ``schema`` (and the schemas in it) that draft-07 reads otherwise."""
    if not isinstance(schema, Mapping):
        return set()
    found = {k for k in schema if k not in SAME_IN_BOTH}
    if isinstance(schema.get("items"), list):
        found.add("items (as a list)")
    for key, value in schema.items():
        if key in ("properties", "$defs") and isinstance(value, Mapping):
            for sub in value.values():
                found |= _unlike_in_draft07(sub)
        elif key in ("anyOf", "allOf", "oneOf") and isinstance(value, list):
            for sub in value:
                found |= _unlike_in_draft07(sub)
        elif key not in _VALUES and isinstance(value, Mapping):
            found |= _unlike_in_draft07(value)
    return found


def _conforms(checker: FormatChecker, name: str, value: Any) -> bool:
    return checker.conforms(value, name)
