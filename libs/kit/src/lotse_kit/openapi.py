"""OpenAPI 3.1 generated from the routes the code registers, and request parsing by the same schemas.

A view is declared once with :meth:`ApiDoc.route`: its path, body schema, query
parameters and responses. The same declaration validates the request and feeds
``/openapi.json``, so the document cannot drift from the code.
"""

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_from_directory

from lotse_kit.input_text import MAX_DEPTH, TooDeep, clean_json, clean_text, text_problem
from lotse_kit.problems import FieldError, Problem, bad_request, validation_problem
from lotse_kit.schema_errors import SchemaCheck, make_validator, schema_errors

JSON_TYPES = ("application/json", "application/merge-patch+json")

_CONVERTER = re.compile(r"<(?:[a-z_]+:)?([a-zA-Z_][a-zA-Z0-9_]*)>")


@dataclass(frozen=True)
class Param:
    """A query (or header) parameter: its JSON Schema is used for parsing and for the document."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False
    location: str = "query"
    parse: Callable[[str], Any] | None = None
    """Turns what was sent into the canonical value before it is checked (e.g. ``LegalDomain``: any common
    spelling); a ValueError is a 400 naming the parameter."""


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    tags: list[str]
    body: str | None
    params: list[Param]
    responses: dict[int, tuple[str, str | None]]
    secured: bool
    roles: tuple[str, ...] = ()
    description: str = ""
    body_content_types: tuple[str, ...] = ("application/json",)
    response_content_type: str = "application/json"
    extra: dict[str, Any] = field(default_factory=dict)


class ApiDoc:
    """Registry of a service's operations and schemas; serves ``/openapi.json`` and ``/docs``."""

    def __init__(self, title: str, version: str, description: str = "") -> None:
        self.title = title
        self.version = version
        self.description = description
        self.schemas: dict[str, dict[str, Any]] = {}
        self.operations: list[Operation] = []
        self._checks: dict[str, SchemaCheck] = {}

    # -- schemas -----------------------------------------------------------------
    def add_schema(self, name: str, schema: dict[str, Any]) -> str:
        self.schemas[name] = schema
        self._checks.pop(name, None)
        return name

    def check(self, name: str) -> SchemaCheck:
        found = self._checks.get(name)
        if found is None:
            found = self._checks[name] = SchemaCheck(self.schemas[name])
        return found

    def validate(self, name: str, instance: Any) -> list[FieldError]:
        return [FieldError(n, r) for n, r in self.check(name).errors(instance)]

    # -- routes ------------------------------------------------------------------
    def route(
        self,
        bp: Blueprint,
        rule: str,
        method: str,
        summary: str,
        *,
        tags: Sequence[str] = (),
        body: str | None = None,
        params: Sequence[Param] = (),
        responses: Mapping[int, tuple[str, str | None]] | None = None,
        secured: bool = True,
        description: str = "",
        body_content_types: tuple[str, ...] = ("application/json",),
        response_content_type: str = "application/json",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        prefix = bp.url_prefix or ""

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            bp.add_url_rule(rule, view_func=view, methods=[method], endpoint=f"{view.__name__}")
            self.operations.append(
                Operation(
                    method=method.lower(),
                    path=_CONVERTER.sub(r"{\1}", prefix + rule),
                    summary=summary,
                    tags=list(tags),
                    body=body,
                    params=list(params),
                    responses=dict(responses or {200: ("OK", None)}),
                    secured=secured,
                    roles=tuple(r.value for r in view.__dict__.get("lotse_roles", ())),
                    description=description or (view.__doc__ or "").strip(),
                    body_content_types=body_content_types,
                    response_content_type=response_content_type,
                )
            )
            return view

        return decorate

    # -- the document ------------------------------------------------------------
    def spec(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            entry: dict[str, Any] = {"summary": op.summary, "operationId": f"{op.method}_{op.path}"}
            entry["operationId"] = re.sub(r"[^a-zA-Z0-9_]+", "_", entry["operationId"]).strip("_")
            if op.description:
                entry["description"] = op.description
            if op.roles:
                entry["description"] = (entry.get("description", "") + f"\n\nRoles: {', '.join(op.roles)}.").strip()
            if op.tags:
                entry["tags"] = op.tags
            parameters = [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                for n in re.findall(r"{([^}]+)}", op.path)
            ]
            parameters += [
                {
                    "name": p.name,
                    "in": p.location,
                    "required": p.required,
                    "schema": p.schema,
                    **({"description": p.description} if p.description else {}),
                }
                for p in op.params
            ]
            if parameters:
                entry["parameters"] = parameters
            if op.body:
                ref = {"$ref": f"#/components/schemas/{op.body}"}
                entry["requestBody"] = {
                    "required": True,
                    "content": {ct: {"schema": ref} for ct in op.body_content_types},
                }
            responses: dict[str, Any] = {}
            for status, (desc, schema) in sorted(op.responses.items()):
                resp: dict[str, Any] = {"description": desc}
                if schema:
                    resp["content"] = {op.response_content_type: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
                responses[str(status)] = resp
            responses.setdefault(
                "4XX",
                {
                    "description": "Problem (RFC 9457)",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                },
            )
            entry["responses"] = responses
            if op.secured:
                entry["security"] = [{"bearer": []}]
            paths.setdefault(op.path, {})[op.method] = entry
        schemas = {name: _rewrite_refs(s) for name, s in self.schemas.items()}
        schemas["Problem"] = PROBLEM_SCHEMA
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            },
        }

    def install(self, app: Flask) -> None:
        """Serve ``/openapi.json`` and the interactive docs page at ``/docs``."""
        docs = Blueprint("lotse_docs", __name__, template_folder="templates")

        @docs.get("/openapi.json")
        def openapi_json() -> Response:
            return jsonify(self.spec())

        @docs.get("/docs")
        def docs_page() -> Response:
            html = (_TEMPLATE_DIR / "docs.html").read_text("utf-8").replace("{{title}}", self.title)
            return Response(html, mimetype="text/html")

        @docs.get("/docs/static/<path:filename>")
        def docs_static(filename: str) -> Response:
            return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)

        app.register_blueprint(docs)
        app.extensions["lotse.apidoc"] = self


def _rewrite_refs(schema: Any) -> Any:
    """Internal ``#/$defs/X`` references become ``#/components/schemas/X`` in the document."""
    if isinstance(schema, dict):
        return {
            k: (
                v.replace("#/$defs/", "#/components/schemas/")
                if k == "$ref" and isinstance(v, str)
                else _rewrite_refs(v)
            )
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rewrite_refs(v) for v in schema]
    return schema


_TEMPLATE_DIR = Path(__file__).parent / "templates"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `errors` names each offending field.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "reason"],
                "properties": {"name": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}


def register_health(bp: Blueprint, doc: ApiDoc) -> None:
    """``GET /health``: liveness, unauthenticated (every service has it)."""

    def health() -> Response:
        return jsonify({"status": "ok"})

    schema = doc.add_schema(
        "health", {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
    )
    doc.route(bp, "/health", "GET", "Liveness", tags=["meta"], secured=False, responses={200: ("Alive", schema)})(
        health
    )


# -- answers' schemas ----------------------------------------------------------------
def answer_object(properties: dict[str, Any], required: Sequence[str] | None = None) -> dict[str, Any]:
    """The schema of an object an answer holds: these properties, all required unless named; more may come
    (answers grow)."""
    return {"type": "object", "required": list(properties if required is None else required), "properties": properties}


def paged_answer(item: dict[str, Any]) -> dict[str, Any]:
    """The schema of a page of a list: ``total_items``, ``page``, ``per_page``, ``total_pages``, ``contents``."""
    count = {"type": "integer", "minimum": 0}
    return answer_object(
        {
            "total_items": count,
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "total_pages": count,
            "contents": {"type": "array", "items": item},
        }
    )


# -- request parsing -----------------------------------------------------------------
def json_body(schema: str | None = None) -> Any:
    """The request's JSON body, validated against the named schema; 4xx problems otherwise."""
    mimetype = request.mimetype or ""
    if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
        raise Problem(
            status=415,
            title="Unsupported Media Type",
            detail="send the body as application/json",
            errors=[FieldError("Content-Type", f"is {mimetype or 'missing'}, expected application/json")],
        )
    raw = request.get_data(cache=True)
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request("body", f"is not valid JSON: {exc}") from None
    except RecursionError:
        raise bad_request("body", f"nests deeper than {MAX_DEPTH} levels") from None
    problems: list[FieldError] = []
    try:
        value = clean_json(value, lambda name, reason: problems.append(FieldError(name, reason)))
    except TooDeep as exc:
        raise bad_request("body", str(exc)) from None
    if problems:
        raise validation_problem(problems)
    if schema is not None:
        doc: ApiDoc = current_app.extensions["lotse.apidoc"]
        errors = doc.validate(schema, value)
        if errors:
            raise validation_problem(errors)
    return value


def query_args(params: Sequence[Param]) -> dict[str, Any]:
    """Query parameters parsed by their schemas (integer, number, boolean, string, enum, array)."""
    parsed: dict[str, Any] = {}
    known = {p.name for p in params}
    for name in request.args:
        if name not in known:
            raise bad_request(name, "is not a known query parameter; known: " + ", ".join(sorted(known)))
    for p in params:
        values = request.args.getlist(p.name)
        if not values:
            if p.required:
                raise bad_request(p.name, "is required")
            if "default" in p.schema:
                parsed[p.name] = p.schema["default"]
            continue
        if p.schema.get("type") == "array":
            items = [_canonical(p, v) for raw in values for v in raw.split(",") if v != ""]
            parsed[p.name] = [_coerce(p.name, p.schema.get("items", {}), v) for v in items]
        else:
            parsed[p.name] = _coerce(p.name, p.schema, _canonical(p, values[-1]))
    return parsed


def _canonical(p: Param, raw: str) -> str:
    if p.parse is None:
        return raw
    try:
        return str(p.parse(raw))
    except ValueError:
        options = p.schema.get("enum") or p.schema.get("items", {}).get("enum") or []
        raise bad_request(p.name, f"is not one of: {', '.join(options)}") from None


_INT64 = 2**63 - 1


def _coerce(name: str, schema: Mapping[str, Any], raw: str) -> Any:
    kind = schema.get("type", "string")
    why = text_problem(raw)
    if why:
        raise bad_request(name, why)
    value: Any = clean_text(raw)
    try:
        if kind == "integer":
            value = int(raw)
            if not -_INT64 <= value <= _INT64:  # what a database column holds
                raise bad_request(name, f"must lie between {-_INT64} and {_INT64}")
        elif kind == "number":
            value = float(raw)
            if not math.isfinite(value):
                raise bad_request(name, "must be a finite number")
        elif kind == "boolean":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            value = raw.lower() in ("true", "1")
    except ValueError:
        raise bad_request(name, f"must be a {kind}, got {raw!r}") from None
    errors = schema_errors(make_validator(schema), value)
    if errors:
        raise bad_request(name, errors[0][1])
    return value
