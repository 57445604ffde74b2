"""The directory model: HSDS 3.0 tables derived from the packaged schemas, plus the Lotse profile.

Every HSDS table becomes an :class:`EntitySpec` whose scalar properties are its
fields and whose array / object properties say how entries nest in the HSDS
JSON form. The Lotse profile adds fields (legal domains, verification,
visibility, deputies, holidays) and one entity of its own, ``jurisdiction``
(Zuständigkeit: which authority is responsible for which legal domain where).
"""

import dataclasses
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from lotse_contracts import LegalDomain

VISIBILITIES = ("public", "case_managers", "internal")

PROFILE_URI = "https://lotse.example/hsds-profile/v1"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: str  # string | number | boolean | array
    format: str | None = None
    enum: tuple[str, ...] | None = None
    required: bool = False
    references: str | None = None  # entity an *_id field points at ("*" for any)
    extension: bool = False  # part of the Lotse profile, not of HSDS
    default: Any = None
    description: str = ""
    read_only: bool = False  # set by the directory itself; writers may not give it


@dataclass(frozen=True, slots=True)
class Nesting:
    """How entries of ``entity`` appear inside a parent in the HSDS JSON form.

    ``many``: an array property whose entries point at the parent through ``child_key``.
    Otherwise a single object the parent points at through ``parent_key``.
    """

    prop: str
    entity: str
    many: bool
    child_key: str | None = None
    parent_key: str | None = None


@dataclass(frozen=True, slots=True)
class EntitySpec:
    name: str
    collection: str  # URL collection and CSV file stem
    csv_file: str
    order: int
    fields: tuple[FieldSpec, ...]
    nestings: tuple[Nesting, ...]
    tabular_required: tuple[str, ...] = ()
    hsds: bool = True
    field_names: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)
    reference_fields: tuple[FieldSpec, ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # derived once: looked up for every row of an import
        object.__setattr__(self, "field_names", tuple(f.name for f in self.fields))
        object.__setattr__(self, "reference_fields", tuple(f for f in self.fields if f.references))

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


_REFERENCES = {
    "organization_id": "organization",
    "parent_organization_id": "organization",
    "service_id": "service",
    "location_id": "location",
    "contact_id": "contact",
    "service_at_location_id": "service_at_location",
    "phone_id": "phone",
    "program_id": "program",
    "taxonomy_term_id": "taxonomy_term",
    "taxonomy_id": "taxonomy",
    "parent_id": "taxonomy_term",
    "link_id": "*",
    "resource_id": "*",
    "deputy_contact_id": "contact",
}

_COLLECTIONS = {
    "service_at_location": "service_at_locations",
    "accessibility": "accessibility",
    "funding": "funding",
    "metadata": "metadata",
    "address": "addresses",
    "taxonomy": "taxonomies",
    "jurisdiction": "jurisdictions",
}

_VERIFICATION = (
    FieldSpec(
        "verified_at",
        "string",
        format="date-time",
        extension=True,
        description="When a maintainer last confirmed this entry.",
    ),
    FieldSpec("verified_by", "string", extension=True, description="Who confirmed it (user id)."),
)
_VISIBILITY = (
    FieldSpec(
        "visibility",
        "string",
        enum=VISIBILITIES,
        extension=True,
        default="public",
        description="Who may see this entry: public, case_managers, or internal "
        "(maintainers of the organisation only; shelters and similar).",
    ),
)
_LEGAL_DOMAINS = FieldSpec(
    "legal_domains",
    "array",
    extension=True,
    default=None,
    description="Legal domains (Rechtskreise) this entry belongs to: " + ", ".join(d.value for d in LegalDomain),
)
_AUTHORITY_FOR = FieldSpec(
    "authority_for",
    "array",
    extension=True,
    default=None,
    description="Legal domains in which this organisation is a public body with local jurisdiction (Jobcenter, "
    "Agentur für Arbeit, Jugendamt, Ausländerbehörde, Einbürgerungsbehörde): only for these may it be declared "
    "responsible. Set by admins and by maintainers who keep a region's jurisdictions.",
)
_DEMO = FieldSpec(
    "demo", "boolean", extension=True, default=None, description="True for entries of the demo data set (no real data)."
)

PROFILE_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "organization": (_LEGAL_DOMAINS, _AUTHORITY_FOR, *_VERIFICATION, _DEMO),
    "service": (_LEGAL_DOMAINS, *_VERIFICATION, _DEMO),
    "location": (*_VERIFICATION,),
    "address": _VISIBILITY,
    "phone": _VISIBILITY,
    "contact": (
        *_VISIBILITY,
        FieldSpec(
            "deputy_contact_id",
            "string",
            format="uuid",
            references="contact",
            extension=True,
            description="The contact who stands in (Vertretung) when this one is away.",
        ),
    ),
    "schedule": (
        FieldSpec(
            "by_appointment",
            "boolean",
            extension=True,
            default=None,
            description="Only by appointment (nach Vereinbarung).",
        ),
        FieldSpec(
            "closed_on_public_holidays",
            "boolean",
            extension=True,
            default=None,
            description="Closed on public holidays of Nordrhein-Westfalen.",
        ),
        FieldSpec(
            "closed",
            "boolean",
            extension=True,
            default=None,
            description="A temporary closure (Betriebsferien, Umbau): closed on every day from valid_from to "
            "valid_to, whatever the weekly hours say; description says why.",
        ),
    ),
}

JURISDICTION = EntitySpec(
    name="jurisdiction",
    collection="jurisdictions",
    csv_file="x_jurisdictions.csv",
    order=100,
    hsds=False,
    fields=(
        FieldSpec("id", "string", format="uuid", required=True),
        FieldSpec(
            "organization_id",
            "string",
            format="uuid",
            required=True,
            references="organization",
            description="The responsible authority.",
        ),
        FieldSpec(
            "location_id",
            "string",
            format="uuid",
            references="location",
            description="The authority's office for this jurisdiction, if one is meant.",
        ),
        FieldSpec("legal_domain", "string", enum=tuple(d.value for d in LegalDomain), required=True),
        FieldSpec(
            "region_key",
            "string",
            required=True,
            description="AGS/ARS prefix: 2 digits Land, 3 Regierungsbezirk, 5 Kreis, 8 or 12 Gemeinde.",
        ),
        FieldSpec("postal_codes", "array", description="Optional PLZ list that narrows the region."),
        FieldSpec("role", "string", description="Optional role, e.g. 'Leistungsgewährung' or 'Einbürgerung'."),
        FieldSpec("unit", "string", description="Optional unit of the authority (Fachbereich, Abteilung)."),
        FieldSpec("source", "string", required=True, description="Where the rule comes from (law, statute, URL)."),
        FieldSpec("verified_on", "string", format="date", required=True),
        FieldSpec("verified_by", "string"),
        FieldSpec("description", "string"),
        FieldSpec(
            "status",
            "string",
            enum=("confirmed", "proposed"),
            read_only=True,
            description="confirmed: routing uses it. proposed: it would take over where another body is "
            "responsible, and waits for a second person who keeps the region to confirm it.",
        ),
        FieldSpec("declared_by", "string", read_only=True, description="Who declared it (user id)."),
        FieldSpec("declared_by_name", "string", read_only=True, description="Who declared it (name)."),
        FieldSpec("confirmed_by", "string", read_only=True, description="Who confirmed a proposal (user id)."),
        FieldSpec("confirmed_by_name", "string", read_only=True, description="Who confirmed a proposal (name)."),
        FieldSpec("confirmed_at", "string", format="date-time", read_only=True),
    ),
    nestings=(),
)


def _field_from_schema(name: str, prop: dict[str, Any], required: bool) -> FieldSpec:
    kind = prop.get("type", "string")
    enum = tuple(prop["enum"]) if "enum" in prop else None
    return FieldSpec(
        name=name,
        type=kind,
        format=prop.get("format"),
        enum=enum,
        required=required,
        references=_REFERENCES.get(name),
        description=str(prop.get("description", "")),
    )


def _load(name: str) -> dict[str, Any]:
    text = resources.files("lotse_directory").joinpath("data", "hsds", "schema", f"{name}.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


_HSDS_TABLES = (
    "organization",
    "program",
    "service",
    "attribute",
    "service_at_location",
    "location",
    "phone",
    "contact",
    "address",
    "schedule",
    "funding",
    "service_area",
    "required_document",
    "language",
    "accessibility",
    "taxonomy_term",
    "metadata",
    "meta_table_description",
    "cost_option",
    "organization_identifier",
    "taxonomy",
)


@cache
def entities() -> dict[str, EntitySpec]:
    """Every entity of the directory, by name, in the HSDS data-package order."""
    specs: dict[str, EntitySpec] = {}
    for table in _HSDS_TABLES:
        schema = _load(table)
        required = set(schema.get("required", []))
        fields: list[FieldSpec] = []
        nestings: list[Nesting] = []
        for prop_name, prop in schema["properties"].items():
            items = prop.get("items", {}) if prop.get("type") == "array" else {}
            if "$ref" in items:
                child = items["$ref"].removesuffix(".json")
                key = {"attribute": "link_id", "metadata": "resource_id"}.get(child, f"{table}_id")
                nestings.append(Nesting(prop_name, child, many=True, child_key=key))
            elif "$ref" in prop:
                target = prop["$ref"].removesuffix(".json")
                key = "taxonomy_id" if prop_name == "taxonomy_detail" else f"{target}_id"
                nestings.append(Nesting(prop_name, target, many=False, parent_key=key))
            else:
                fields.append(_field_from_schema(prop_name, prop, prop_name in required))
        fields.extend(PROFILE_FIELDS.get(table, ()))
        meta = schema.get("datapackage_metadata", {})
        nests = tuple(nestings)
        if table == "service_at_location":  # as in the HSDS API's compiled schema
            nests = (*nests, Nesting("service", "service", many=False, parent_key="service_id"))
        if table == "organization":
            # the HSDS API nests an organisation's services in it; jurisdictions are the Lotse profile's
            nests = (
                *nests,
                Nesting("services", "service", many=True, child_key="organization_id"),
                Nesting("jurisdictions", "jurisdiction", many=True, child_key="organization_id"),
            )
        specs[table] = EntitySpec(
            name=table,
            collection=_COLLECTIONS.get(table, f"{table}s"),
            csv_file=str(schema.get("path", f"{table}s.csv")),
            order=int(meta.get("order", 50)),
            fields=tuple(fields),
            nestings=nests,
            tabular_required=tuple(schema.get("tabular_required", [])),
        )
    specs["jurisdiction"] = JURISDICTION
    return dict(sorted(specs.items(), key=lambda kv: kv[1].order))


def by_collection(collection: str) -> EntitySpec | None:
    for spec in entities().values():
        if spec.collection == collection:
            return spec
    return None


def json_schema(spec: EntitySpec, *, for_patch: bool = False) -> dict[str, Any]:
    """JSON Schema (2020-12) of one entry in flat form, used by the API and by imports."""
    props: dict[str, Any] = {}
    for f in spec.fields:
        prop: dict[str, Any]
        if f.type == "array":
            item: dict[str, Any] = {"type": "string"}
            if f.name in ("legal_domains", "authority_for"):
                item["enum"] = [d.value for d in LegalDomain]
            prop = {"type": "array", "items": item}
        else:
            prop = {"type": f.type}
            if f.format in ("uuid", "email", "uri", "date", "date-time"):
                prop["format"] = f.format
            if f.enum:
                prop["enum"] = list(f.enum)
        if f.description:
            prop["description"] = f.description
        if f.read_only:
            prop["readOnly"] = True
        if for_patch or not f.required:
            prop = {"anyOf": [prop, {"type": "null"}], **({"description": f.description} if f.description else {})}
            prop["anyOf"][0].pop("description", None)
        props[f.name] = prop
    schema: dict[str, Any] = {
        "type": "object",
        "title": spec.name,
        "properties": props,
        "additionalProperties": False,
    }
    if not for_patch:
        schema["required"] = sorted(f.name for f in spec.fields if f.required and f.name != "id")
    return schema
