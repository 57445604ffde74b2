"""Maintainers' API: CRUD, history, import and export for every entity of the directory."""

import json
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from lotse_contracts import Role
from lotse_kit.auth import current_claims, require_roles
from lotse_kit.openapi import ApiDoc, Param, json_body, query_args
from lotse_kit.problems import Problem, bad_request

from lotse_directory.bootstrap import container_of
from lotse_directory.domain.hsds import EntitySpec, entities, json_schema
from lotse_directory.use_cases.entries import Change, Entries, Entry
from lotse_directory.use_cases.exchange import ArchiveLimits, Exchange

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"

PAGING = (
    Param("page", {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}),
    Param("per_page", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
)

MAINTAINERS = (Role.MAINTAINER, Role.ADMIN)


def _entries() -> Entries:
    return container_of(current_app).entries


def _exchange() -> Exchange:
    return container_of(current_app).exchange


def check_id(ident: str) -> None:
    if not re.match(ID_PATTERN, ident):
        raise bad_request("id", "is not a valid id")


def entry_response(entry: Entry, status: int = 200) -> Response:
    response = jsonify(entry.values)
    response.status_code = status
    response.headers["ETag"] = entry.etag
    return response


def _filters(spec: EntitySpec) -> tuple[Param, ...]:
    return tuple(
        Param(
            f.name,
            {"type": "array", "items": {"type": "string", "pattern": ID_PATTERN}, "maxItems": 200},
            f"only entries whose {f.name} is one of these ids (comma-separated)",
        )
        for f in spec.reference_fields
    )


def register_entity_routes(bp: Blueprint, doc: ApiDoc) -> None:
    for spec in entities().values():
        _register(bp, doc, spec)


def _register(bp: Blueprint, doc: ApiDoc, spec: EntitySpec) -> None:
    name = spec.name
    create_schema = doc.add_schema(f"{name}", json_schema(spec))
    patch_schema = doc.add_schema(f"{name}_patch", json_schema(spec, for_patch=True))
    collection = f"/{spec.collection}"
    item = f"/{spec.collection}/<ident>"
    tags = [spec.collection]
    filters = _filters(spec)
    region = (
        (Param("region", {"type": "string", "pattern": "^[0-9]{2,12}$"}, "only those in this region (AGS prefix)"),)
        if name == "jurisdiction"
        else ()
    )
    params = (*PAGING, *filters, *region)

    def named(fn: Callable[..., Any], action: str) -> Callable[..., Any]:
        fn.__name__ = f"{name}_{action}"
        return fn

    @require_roles()
    def list_view() -> Response:
        args = query_args(params)
        where = {f.name: args[f.name] for f in filters if f.name in args}
        rows, total = _entries().page(current_claims(), name, where, args["page"], args["per_page"], args.get("region"))
        return jsonify(
            {
                "total_items": total,
                "page": args["page"],
                "per_page": args["per_page"],
                "total_pages": (total + args["per_page"] - 1) // args["per_page"],
                "contents": rows,
            }
        )

    doc.route(
        bp,
        collection,
        "GET",
        f"List {spec.collection}",
        tags=tags,
        params=params,
        responses={200: ("A page of entries", None)},
    )(named(list_view, "list"))

    if name != "metadata":

        @require_roles(*MAINTAINERS)
        def create_view() -> Response:
            body = json_body(create_schema)
            entry = _entries().create(current_claims(), name, body)
            response = entry_response(entry, 201)
            response.headers["Location"] = url_for(f".{name}_get", ident=entry.values["id"])
            return response

        doc.route(
            bp,
            collection,
            "POST",
            f"Create a {name}",
            tags=tags,
            body=create_schema,
            responses={201: ("Created; ETag header holds its revision", create_schema)},
        )(named(create_view, "create"))

        @require_roles(*MAINTAINERS)
        def update_view(ident: str) -> Response:
            check_id(ident)
            patch = json_body(patch_schema)
            entry = _entries().update(current_claims(), name, ident, patch, request.headers.get("If-Match"))
            return entry_response(entry)

        doc.route(
            bp,
            item,
            "PATCH",
            f"Change a {name} (JSON merge patch, If-Match required)",
            tags=tags,
            body=patch_schema,
            body_content_types=("application/merge-patch+json", "application/json"),
            params=(Param("If-Match", {"type": "string"}, "the ETag you read", True, "header"),),
            responses={
                200: ("Changed", create_schema),
                412: ("Changed meanwhile", None),
                428: ("If-Match missing", None),
            },
        )(named(update_view, "update"))

        @require_roles(*MAINTAINERS)
        def delete_view(ident: str) -> Response:
            check_id(ident)
            _entries().delete(current_claims(), name, ident, request.headers.get("If-Match"))
            return Response(status=204)

        doc.route(
            bp,
            item,
            "DELETE",
            f"Delete a {name} (If-Match required)",
            tags=tags,
            params=(Param("If-Match", {"type": "string"}, "the ETag you read", True, "header"),),
            responses={204: ("Deleted", None), 412: ("Changed meanwhile", None)},
        )(named(delete_view, "delete"))

    @require_roles()
    def get_view(ident: str) -> Response:
        check_id(ident)
        return entry_response(_entries().get(current_claims(), name, ident))

    doc.route(
        bp,
        item,
        "GET",
        f"Read a {name}",
        tags=tags,
        responses={200: ("The entry; ETag header holds its revision", create_schema)},
    )(named(get_view, "get"))

    @require_roles()
    def parts_view(ident: str) -> Response:
        check_id(ident)
        return jsonify(_entries().parts(current_claims(), name, ident))

    doc.route(
        bp,
        f"{item}/parts",
        "GET",
        f"The entries that point at a {name}, by collection (at most 200 of each)",
        tags=tags,
        responses={200: ("collection → entries", None)},
    )(named(parts_view, "parts"))

    @require_roles()
    def history_view(ident: str) -> Response:
        check_id(ident)
        return jsonify(_entries().history(current_claims(), name, ident))

    doc.route(
        bp,
        f"{item}/history",
        "GET",
        f"Change history of a {name} (HSDS metadata)",
        tags=tags,
        responses={200: ("Who changed which field when, oldest first", None)},
    )(named(history_view, "history"))


def register_change_routes(bp: Blueprint, doc: ApiDoc) -> None:
    writable = sorted(s.collection for s in entities().values() if s.name != "metadata")
    by_collection = {s.collection: s.name for s in entities().values()}
    schema = doc.add_schema(
        "changes",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["changes"],
            "properties": {
                "changes": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 100,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["op", "collection"],
                        "properties": {
                            "op": {"enum": ["create", "update", "delete"]},
                            "collection": {"enum": writable},
                            "id": {"type": "string", "pattern": ID_PATTERN},
                            "if_match": {"type": "string", "maxLength": 40},
                            "body": {"type": "object"},
                        },
                    },
                }
            },
        },
    )

    @require_roles(*MAINTAINERS)
    def changes_view() -> Response:
        given = json_body(schema)["changes"]
        changes = []
        for i, c in enumerate(given):
            if c["op"] != "create" and "id" not in c:
                raise bad_request(f"changes.{i}.id", "is required to update or delete")
            if c["op"] == "delete" and "body" in c:
                raise bad_request(f"changes.{i}.body", "is not taken by a deletion")
            if c["op"] != "delete" and "body" not in c:
                raise bad_request(f"changes.{i}.body", "is required to create or update")
            body = c.get("body")
            if c["op"] == "create" and "id" in c:
                body = {**(body or {}), "id": c["id"]}
            changes.append(Change(c["op"], by_collection[c["collection"]], c.get("id"), body, c.get("if_match")))
        done = _entries().apply(current_claims(), changes)
        return jsonify(
            {
                "results": [
                    {"id": c.ident, "deleted": True}
                    if entry is None
                    else {"id": entry.values["id"], "etag": entry.etag, "entry": entry.values}
                    for c, entry in zip(changes, done, strict=True)
                ]
            }
        )

    changes_view.__name__ = "changes_apply"
    doc.route(
        bp,
        "/changes",
        "POST",
        "Several creates, updates and deletes in one transaction: all or none (If-Match per update/delete as if_match)",
        tags=["changes"],
        body=schema,
        responses={
            200: ("Each change's entry (id, etag, entry) or {id, deleted}", None),
            412: ("An entry changed meanwhile: nothing was written", None),
            422: ("What is wrong, named changes.<position>.<field>: nothing was written", None),
        },
    )(changes_view)


def register_exchange_routes(bp: Blueprint, doc: ApiDoc) -> None:
    export_params = (
        Param("format", {"type": "string", "enum": ["json", "csv"], "default": "json"}),
        Param(
            "organization_id",
            {"type": "array", "items": {"type": "string", "pattern": ID_PATTERN}},
            "only these organisations (comma-separated)",
        ),
    )

    @require_roles(*MAINTAINERS)
    def export_view() -> Response:
        """HSDS 3.0 JSON (organizations and services fully nested) or the CSV data package as ZIP."""
        args = query_args(export_params)
        orgs = args.get("organization_id")
        if args["format"] == "csv":
            data = _exchange().export_csv_zip(current_claims(), orgs)
            return Response(
                data,
                mimetype="application/zip",
                headers={"Content-Disposition": "attachment; filename=lotse-directory-hsds.zip"},
            )
        return Response(
            json.dumps(_exchange().export_json(current_claims(), orgs), ensure_ascii=False), mimetype="application/json"
        )

    export_view.__name__ = "export"
    doc.route(
        bp,
        "/export",
        "GET",
        "Export the directory as HSDS 3.0",
        tags=["exchange"],
        params=export_params,
        response_content_type="application/json",
    )(export_view)

    @require_roles(*MAINTAINERS)
    def import_view() -> Response:
        """HSDS 3.0 JSON, or the HSDS CSV data package as a ZIP (application/zip). All or nothing."""
        claims = current_claims()
        if request.mimetype == "application/zip":
            settings = container_of(current_app).settings
            limits = ArchiveLimits(settings.max_import_files, settings.max_unpacked_bytes)
            report = _exchange().import_csv_zip(claims, request.get_data(), limits)
        else:
            report = _exchange().import_json(claims, json_body())
        return jsonify(report.to_dict())

    import_view.__name__ = "import_"
    doc.route(
        bp,
        "/import",
        "POST",
        "Import HSDS 3.0 JSON or a CSV data package (ZIP)",
        tags=["exchange"],
        body_content_types=("application/json", "application/zip"),
        responses={
            200: ("What was created, updated or left as it was", None),
            413: ("The body, or what its archive unpacks to, is too large", None),
            422: ("The problems found; nothing was imported", None),
        },
    )(import_view)


def check_body_size(max_body: int, max_import: int) -> Callable[[], None]:
    """Imports may be larger than other bodies."""

    def before() -> None:
        limit = max_import if request.path.endswith("/import") else max_body
        length = request.content_length
        if length is not None and length > limit:
            raise Problem(status=413, title="Content Too Large", detail=f"the body exceeds {limit} bytes", errors=[])
        request.max_content_length = limit

    return before
