"""Bulk import and export of the directory as HSDS 3.0 JSON and as the HSDS CSV data package.

Imports are all-or-nothing: every row is checked first (schema, rules, gazetteer), each
broken one is reported with where it stands (JSON path, or CSV file, line and field),
and only a clean file is written, in one transaction.
"""

import csv
import io
import json
import math
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from typing import IO, Any

from lotse_contracts import Role, TokenClaims
from lotse_kit.alongside import alongside
from lotse_kit.errors import Forbidden, Invalid, TooLarge
from lotse_kit.input_text import clean_text, text_problem

from lotse_directory.adapters.geocoding.gazetteer import Gazetteer
from lotse_directory.adapters.ports import DirectoryStore, Row, StoreSession
from lotse_directory.adapters.storage.tables import REVISION
from lotse_directory.domain.hsds import PROFILE_URI, EntitySpec, FieldSpec, Nesting, entities
from lotse_directory.domain.rules import Violation, check_entry, inside_germany
from lotse_directory.domain.search.documents import SearchDocument
from lotse_directory.use_cases import access, jurisdictions
from lotse_directory.use_cases.changes import ImportEvents, record_change
from lotse_directory.use_cases.entries import gazetteer_violations, schema_violations
from lotse_directory.use_cases.search_documents import RowsInMemory, build_documents

TOP_LEVEL = {
    "organizations": "organization",
    "services": "service",
    "service_at_locations": "service_at_location",
    "locations": "location",
    "taxonomies": "taxonomy",
    "taxonomy_terms": "taxonomy_term",
}


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    warnings: list[Violation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "warnings": [{"name": w.field, "reason": w.reason} for w in self.warnings],
        }


def _clean_number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# -- JSON: nested objects to rows and back ------------------------------------------------
class _Flattener:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Row]] = defaultdict(dict)
        self.where: dict[tuple[str, str], str] = {}
        self.errors: list[Violation] = []

    @staticmethod
    @cache
    def _shape(entity: str) -> tuple[EntitySpec, frozenset[str], dict[str, Nesting]]:
        """The entity, its field names and its nestings by property (looked up for every object of a file)."""
        spec = entities()[entity]
        return spec, frozenset(spec.field_names), {n.prop: n for n in spec.nestings}

    def add(self, entity: str, obj: Any, path: str, link: Mapping[str, Any]) -> None:
        if not isinstance(obj, dict):
            self.errors.append(Violation(path, f"must be an object ({entity})"))
            return
        spec, names, nests = self._shape(entity)
        for key in obj:
            if key not in names and key not in nests:
                self.errors.append(Violation(f"{path}.{key}", f"is not a field of {entity}"))
        ident = obj.get("id")
        if not isinstance(ident, str) or not ident:
            self.errors.append(Violation(f"{path}.id", "is required"))
            return
        row: Row = {k: clean_text(v) if isinstance(v, str) else v for k, v in obj.items() if k in names}
        for key, value in link.items():
            if key in names and row.get(key) is None:
                row[key] = value
        for nest in spec.nestings:
            value = obj.get(nest.prop)
            if value is None:
                continue
            if nest.many:
                if not isinstance(value, list):
                    self.errors.append(Violation(f"{path}.{nest.prop}", "must be an array"))
                    continue
                child_link: dict[str, Any] = {nest.child_key or "": ident}
                if nest.entity == "metadata":
                    child_link["resource_type"] = entity
                for i, child in enumerate(value):
                    self.add(nest.entity, child, f"{path}.{nest.prop}[{i}]", child_link)
            else:
                if isinstance(value, dict) and nest.parent_key and row.get(nest.parent_key) is None:
                    row[nest.parent_key] = value.get("id")
                self.add(nest.entity, value, f"{path}.{nest.prop}", {})
        self._merge(entity, ident, row, path)

    def _merge(self, entity: str, ident: str, row: Row, path: str) -> None:
        known = self.rows[entity].get(ident)
        if known is None:
            self.rows[entity][ident] = row
            self.where[(entity, ident)] = path
            return
        for key, value in row.items():
            if value is None:
                continue
            if known.get(key) is None:
                known[key] = value
            elif known[key] != value:
                first = self.where[(entity, ident)]
                self.errors.append(Violation(f"{path}.{key}", f"differs from the same {entity} at {first}"))


_PAGE = frozenset({"total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty", "contents"})
"""The paged envelope of an HSDS API's list responses (``/services``, ``/organizations`` …)."""
_API_ROOT = frozenset({"version", "profile", "openapi_url"})
"""An HSDS API's root (``/``): what it serves, no entries."""
_GUESS_ORDER = ("organization", "service", "service_at_location", "location", "taxonomy_term", "taxonomy")
"""Where an object's fields fit several entities equally, the first of these is taken."""


def flatten_json(document: Any) -> tuple[dict[str, dict[str, Row]], dict[tuple[str, str], str], list[Violation]]:
    """Rows per entity from an HSDS JSON document: our export, one object of any top-level type, a list of
    them, a page of an HSDS API's list (``contents``), an API root (no entries) or the tabular form (an
    object of CSV file names, each with an array of rows)."""
    if _tabular(document):
        return read_tables(
            {name: (_columns(records), _json_records(name, records)) for name, records in document.items()},
            at=lambda place, column: f"{place}.{column}",
            table=lambda name: f"$['{name}']",
        )
    flat = _Flattener()
    if isinstance(document, dict) and "id" not in document and "contents" in document and set(document) <= _PAGE:
        contents = document["contents"]
        if not isinstance(contents, list):
            flat.errors.append(Violation("$.contents", "must be an array"))
            contents = []
        for i, obj in enumerate(contents):
            flat.add(entity_of(obj), obj, f"$.contents[{i}]", {})
    elif isinstance(document, dict) and "version" in document and set(document) <= _API_ROOT:
        pass  # an HSDS API's root: it holds no entries
    elif isinstance(document, dict) and "id" not in document and any(k in TOP_LEVEL for k in document):
        for key, value in document.items():
            if key in ("profile", "generated_at"):
                continue
            entity = TOP_LEVEL.get(key)
            if entity is None or not isinstance(value, list):
                flat.errors.append(Violation(key, "expected one of " + ", ".join(TOP_LEVEL) + " with an array"))
                continue
            for i, obj in enumerate(value):
                flat.add(entity, obj, f"{key}[{i}]", {})
    else:
        items = document if isinstance(document, list) else [document]
        for i, obj in enumerate(items):
            path = f"[{i}]" if isinstance(document, list) else "$"
            flat.add(entity_of(obj), obj, path, {})
    return flat.rows, flat.where, flat.errors


def json_remarks(document: Any) -> list[Violation]:
    """What an importer should know about a JSON document beyond its problems: a page of a longer list
    brings only its own entries; an API root brings none."""
    if not isinstance(document, dict) or "id" in document:
        return []
    if "contents" in document and set(document) <= _PAGE:
        pages, page = document.get("total_pages"), document.get("page_number")
        if isinstance(pages, int) and pages > 1:
            return [
                Violation(
                    "$.contents",
                    f"page {page} of {pages}: only this page's entries were read; fetch and import the others too",
                )
            ]
    elif "version" in document and set(document) <= _API_ROOT:
        return [Violation("$", f"describes an HSDS {document['version']} API and holds no entries; nothing to import")]
    return []


def entity_of(obj: Any) -> str:
    """The HSDS object type an object is, by its shape: the entity whose fields and nested properties hold
    all of its keys (the one with most of them, in ``_GUESS_ORDER``, where several or none do)."""
    if not isinstance(obj, dict):
        return "organization"
    keys = set(obj)

    def fit(entity: str) -> tuple[bool, int]:
        spec = entities()[entity]
        known = set(spec.field_names) | {n.prop for n in spec.nestings}
        return keys <= known, len(keys & known)

    return max(_GUESS_ORDER, key=lambda e: (*fit(e), -_GUESS_ORDER.index(e)))


def _tabular(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and bool(document)
        and all(isinstance(k, str) and k.endswith(".csv") and isinstance(v, list) for k, v in document.items())
    )


def _columns(records: list[Any]) -> list[str]:
    return list(dict.fromkeys(k for r in records if isinstance(r, dict) for k in r))


def _json_records(name: str, records: list[Any]) -> Iterator[tuple[str, dict[str, str]]]:
    for i, record in enumerate(records):
        yield f"$['{name}'][{i}]", _cells(record)


def _csv_records(name: str, reader: "csv.DictReader[str]") -> Iterator[tuple[str, dict[str, str]]]:
    try:
        for record in reader:
            yield f"{name}:{reader.line_num}", record
    except (csv.Error, UnicodeDecodeError) as exc:
        raise Invalid([Violation(f"{name}:{reader.line_num + 1}", _unreadable(exc))]) from None


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "is not UTF-8 text"
    if "field larger than field limit" in str(exc):
        return f"holds a field longer than {csv.field_size_limit():,} characters"
    return f"cannot be read as CSV: {exc}"


def _cells(record: Any) -> dict[str, str]:
    """A row of the tabular JSON form as the CSV form writes it, so that both are read alike."""
    if not isinstance(record, dict):
        return {}
    out = {}
    for key, value in record.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list):
            out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return out


# -- CSV data package --------------------------------------------------------------------
EMPTY_TEXT_IN_CSV = {("metadata", "previous_value"), ("metadata", "replacement_value")}
"""Required texts that may be empty, which a CSV cell cannot tell from none: a history row of a field that was
empty before, or is after (as the export writes it), reads back as an empty text."""


def _parse_cell(f: FieldSpec, raw: str) -> Any:
    if raw.strip() == "":  # a cell of spaces is an empty one
        return None
    if f.type == "number":
        try:
            number = float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        return _clean_number(number)
    if f.type == "boolean":
        if raw.lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return raw.lower() == "true"
    if f.type == "array":
        return [clean_text(part.strip()) for part in raw.split(",") if part.strip()]
    why = text_problem(raw)
    if why:
        raise ValueError(why)
    return clean_text(raw)


def _format_cell(f: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    if f.type == "array":
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(_clean_number(value))


def read_csv_package(
    files: Mapping[str, str | IO[str]],
) -> tuple[dict[str, dict[str, Row]], dict[tuple[str, str], str], list[Violation]]:
    """Rows from the CSV files of a package, as text or as streams read row by row."""
    tables: dict[str, tuple[list[str], Iterable[tuple[str, Mapping[str, Any]]]]] = {}
    for name, text in files.items():
        if name.endswith(".csv"):
            reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")) if isinstance(text, str) else text)
            try:
                columns = list(reader.fieldnames or [])
            except (csv.Error, UnicodeDecodeError) as exc:
                raise Invalid([Violation(f"{name}:1", _unreadable(exc))]) from None
            tables[name] = (columns, _csv_records(name, reader))
    return read_tables(tables, at=lambda place, column: f"{place}:{column}", header=lambda name: f"{name}:1")


def read_tables(
    tables: Mapping[str, tuple[list[str], Iterable[tuple[str, Mapping[str, Any]]]]],
    at: Callable[[str, str], str],
    table: Callable[[str], str] = str,
    header: Callable[[str], str] | None = None,
) -> tuple[dict[str, dict[str, Row]], dict[tuple[str, str], str], list[Violation]]:
    """Rows per entity from the tables of the HSDS tabular form: per file name its columns and its records
    (each with where it stands), cells as text. ``at`` names a cell, ``table`` a table and ``header`` its
    column line (the table itself if not given)."""
    rows: dict[str, dict[str, Row]] = defaultdict(dict)
    where: dict[tuple[str, str], str] = {}
    errors: list[Violation] = []
    by_file = {spec.csv_file: spec for spec in entities().values()}
    for name in tables:
        if name not in by_file:
            errors.append(Violation(table(name), "is not a table of HSDS 3.0 or the Lotse profile"))
    for file_name, spec in by_file.items():
        if file_name not in tables:
            continue
        columns, records = tables[file_name]
        for column in columns:
            if column not in spec.field_names:
                errors.append(Violation(at((header or table)(file_name), column), f"is not a field of {spec.name}"))
        for place, record in records:
            row: Row = {}
            for column, raw in record.items():
                if column is None or column not in spec.field_names:
                    continue
                try:
                    row[column] = _parse_cell(spec.field(column), raw or "")
                    if row[column] is None and (spec.name, column) in EMPTY_TEXT_IN_CSV:
                        row[column] = ""
                except ValueError as exc:
                    errors.append(Violation(at(place, column), str(exc) or "not a number"))
            for required in spec.tabular_required:
                if row.get(required) in (None, ""):
                    errors.append(Violation(at(place, required), "is required in the CSV format"))
            ident = row.get("id")
            if not ident:
                errors.append(Violation(at(place, "id"), "is required"))
                continue
            if ident in rows[spec.name]:
                errors.append(Violation(at(place, "id"), f"{ident} appears twice"))
                continue
            rows[spec.name][str(ident)] = {k: v for k, v in row.items() if v is not None}
            where[(spec.name, str(ident))] = place
    return rows, where, errors


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """How much a CSV package may hold once unpacked (an upload's few KB may unpack to gigabytes)."""

    max_files: int = 64
    max_unpacked_bytes: int = 50_000_000


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit


class _Capped(io.RawIOBase):
    """A ZIP member read as far as the archive's budget of unpacked bytes allows."""

    def __init__(self, member: IO[bytes], budget: _Budget) -> None:
        self._member = member
        self._budget = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            chunk = self._member.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a damaged or forged member
            raise Invalid([Violation("body", f"is not a sound ZIP archive: {exc}")]) from None
        self._budget.left -= len(chunk)
        if self._budget.left < 0:
            raise TooLarge("body", f"the archive unpacks to more than {self._budget.limit} bytes")
        buffer[: len(chunk)] = chunk
        return len(chunk)


@contextmanager
def _zip_members(data: bytes, limits: ArchiveLimits | None) -> Iterator[dict[str, IO[str]]]:
    """The CSV files of a ZIP archive as text streams, read (and unpacked) only as the CSV reader asks."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise Invalid([Violation("body", f"is not a ZIP archive: {exc}")]) from None
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        budget = _Budget(limits.max_unpacked_bytes if limits else 1 << 62)
        if limits and len(members) > limits.max_files:
            raise Invalid([Violation("body", f"holds {len(members)} files; at most {limits.max_files} are read")])
        if sum(info.file_size for info in members) > budget.limit:
            raise TooLarge("body", f"the archive unpacks to more than {budget.limit} bytes")
        files: dict[str, IO[str]] = {}
        for info in members:
            base = info.filename.rsplit("/", 1)[-1]
            if base.endswith(".csv"):
                raw = io.BufferedReader(_Capped(archive.open(info), budget))
                files[base] = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        yield files


Progress = Callable[[int, int], None]
"""Told ``(done, total)`` as a long step goes on (a command's progress bar)."""


def _quiet(_done: int, _total: int) -> None:
    pass


class Exchange:
    """Import and export of the whole directory (or the part a maintainer may maintain)."""

    def __init__(
        self,
        store: DirectoryStore,
        gazetteer: Gazetteer,
        fork_from: int = 100_000,
        documents_in_transaction: bool = False,
    ) -> None:
        self.store = store
        self.gazetteer = gazetteer
        self.fork_from = fork_from
        """Files of this many rows or more are checked in a forked child (where this process may fork)."""
        self.documents_in_transaction = documents_in_transaction
        """The store writes the search index in the change's transaction (embedded mode)."""

    # -- import ------------------------------------------------------------------------
    def import_json(self, claims: TokenClaims, document: Any, progress: Progress = _quiet) -> ImportReport:
        rows, where, errors = flatten_json(document)
        report = self._import(claims, rows, where, errors, progress)
        report.warnings[:0] = json_remarks(document)
        return report

    def import_csv(self, claims: TokenClaims, files: Mapping[str, str], progress: Progress = _quiet) -> ImportReport:
        rows, where, errors = read_csv_package(files)
        return self._import(claims, rows, where, errors, progress)

    def import_csv_zip(
        self, claims: TokenClaims, data: bytes, limits: ArchiveLimits | None = None, progress: Progress = _quiet
    ) -> ImportReport:
        """A CSV package as a ZIP archive; ``limits`` for archives from the network (the CLI's are trusted)."""
        with _zip_members(data, limits) as files:
            rows, where, errors = read_csv_package(files)
        return self._import(claims, rows, where, errors, progress)

    def _import(
        self,
        claims: TokenClaims,
        rows: dict[str, dict[str, Row]],
        where: dict[tuple[str, str], str],
        errors: list[Violation],
        progress: Progress = _quiet,
    ) -> ImportReport:
        if claims.role not in (Role.ADMIN, Role.MAINTAINER):
            raise Forbidden(f"role {claims.role.value} cannot import")
        if errors:  # the file's shape is broken: report everything, write nothing
            self._raise_if_invalid(errors + self._violations(rows, where))
        report = ImportReport()
        # A large file is checked by a forked child while its rows are written (both cost seconds of
        # CPU), and where the search index is written in the transaction, the child also builds the
        # documents of the file's new offers from the file's rows; an invalid file is rolled back
        # before any document is written.
        fork = self._fork(rows)
        documents = fork and self.documents_in_transaction
        with alongside(partial(self._check, rows, where, documents), fork=fork) as checking:
            if not checking.running:  # checked here already: write only a valid file
                self._raise_if_invalid(checking.result()[0])
            try:
                with self.store.transaction(bulk=True) as session:
                    referred = _referred_before(session) if documents else _ReferredBefore()
                    held = self._store(session, claims, rows, where, report, progress)
                    found, built = checking.result()
                    self._raise_if_invalid(found)
                    session.use_documents(_self_contained(built, rows, held, referred))
            except Invalid:
                raise
            except Exception:
                self._raise_if_invalid(checking.result()[0])  # a broken file explains a failed write best
                raise
        return report

    def _check(
        self, rows: Mapping[str, Mapping[str, Row]], where: Mapping[tuple[str, str], str], documents: bool
    ) -> tuple[list[Violation], dict[str, SearchDocument | None]]:
        """The file's problems; if it has none and ``documents``, the search documents of its offers whose
        every source row is in it (see :func:`_file_only_offers`), built from its rows."""
        found = self._violations(rows, where)
        built: dict[str, SearchDocument | None] = {}
        if documents and not found:
            source = RowsInMemory(rows)
            for chunk in _chunks(sorted(_file_only_offers(rows)), 1_000):
                built.update(build_documents(source, self.gazetteer, chunk))
        return found, built

    def _fork(self, rows: Mapping[str, Mapping[str, Row]]) -> bool:
        return sum(len(by_id) for by_id in rows.values()) >= self.fork_from

    @staticmethod
    def _raise_if_invalid(errors: list[Violation]) -> None:
        if errors:
            raise Invalid(errors, detail=f"{len(errors)} problem(s); nothing was imported")

    def _violations(
        self, rows: Mapping[str, Mapping[str, Row]], where: Mapping[tuple[str, str], str]
    ) -> list[Violation]:
        """Every row checked against the schema, the rules and the gazetteer, each problem named by its place."""
        errors: list[Violation] = []
        addresses_by_location = _addresses_by_location(rows)
        for entity, by_id in rows.items():
            spec = entities()[entity]
            for ident, row in by_id.items():
                place = where.get((entity, ident), ident)
                german = _german(entity, row, addresses_by_location)
                found = schema_violations(entity, row)
                if not found:
                    found = check_entry(spec, row, german=german) + gazetteer_violations(self.gazetteer, spec, row)
                errors.extend(Violation(_join(place, v.field), v.reason) for v in found)
        return errors

    def _store(
        self,
        session: StoreSession,
        claims: TokenClaims,
        rows: dict[str, dict[str, Row]],
        where: Mapping[tuple[str, str], str],
        report: ImportReport,
        progress: Progress = _quiet,
    ) -> dict[str, set[str]]:
        """Write the file's rows; the ids of those the directory held already, by entity. ``progress`` is told
        the rows written after each entity's."""
        all_ids = {(e, i) for e, by_id in rows.items() for i in by_id}
        addresses = _addresses_by_location(rows)
        for entity, by_id in rows.items():
            spec = entities()[entity]
            for ident, row in by_id.items():
                place = where.get((entity, ident), ident)
                report.warnings.extend(_dangling(session, spec, row, all_ids, place))
                report.warnings.extend(_abroad(spec, row, addresses, place))
        self._check_rights(session, claims, rows)
        self._declare(session, claims, rows, where)
        events = ImportEvents()
        owners = partial(access.owners, session, known=rows, memo={})  # an offer's many entries ask alike
        held: dict[str, set[str]] = {}
        total, written = sum(len(by_id) for by_id in rows.values()), 0
        for entity in entities():
            by_id = rows.get(entity, {})
            if by_id:
                held[entity] = self._write(session, claims, entities()[entity], by_id, report, owners, events)
                written += len(by_id)
                progress(written, total)
        events.write(session)
        return held

    def _check_rights(self, session: StoreSession, claims: TokenClaims, rows: dict[str, dict[str, Row]]) -> None:
        if claims.role is Role.ADMIN:
            return
        allowed = session.maintainable_by(claims.organization_id or "")
        new_orgs = {i for i in rows.get("organization", {}) if session.get("organization", i) is None}
        for org_id in rows.get("organization", {}):
            if org_id not in new_orgs and org_id not in allowed:
                raise Forbidden(f"you may not maintain organisation {org_id}")
        for entity in ("service", "location", "program"):  # jurisdictions are the region's (see _declare)
            for row in rows.get(entity, {}).values():
                org = row.get("organization_id")
                if org and org not in allowed and org not in new_orgs:
                    raise Forbidden(f"you may not maintain organisation {org} ({entity} {row['id']})")
        for entity in ("taxonomy", "taxonomy_term", "meta_table_description"):
            for ident, row in rows.get(entity, {}).items():
                stored = session.get(entity, ident)  # an export carries the terms its offers use: as they are
                if stored is None or any(stored.get(k) != v for k, v in row.items()):
                    raise Forbidden(f"only admins import {entity} entries (new or changed: {ident})")
        for org_id in new_orgs:
            session.grant(org_id, claims.organization_id or "")

    @staticmethod
    def _declare(
        session: StoreSession,
        claims: TokenClaims,
        rows: dict[str, dict[str, Row]],
        where: Mapping[tuple[str, str], str],
    ) -> None:
        """Who is responsible where is declared only by those who keep the region, for authorities of the legal
        domain; each jurisdiction of the file gets its declaration (a new one that would take over waits as
        proposed). See :mod:`lotse_directory.use_cases.jurisdictions`."""
        organizations = rows.get("organization", {})
        for ident, org in organizations.items():
            stored = session.get("organization", ident)
            if (org.get("authority_for") or None) != ((stored or {}).get("authority_for") or None):
                jurisdictions.require_authority_keeper(claims)
        declared = rows.get("jurisdiction", {})
        stored_rows = (
            {str(r["id"]): r for r in session.select("jurisdiction", {"id": list(declared)})} if declared else {}
        )
        problems: list[Violation] = []
        for ident, row in declared.items():
            old = stored_rows.get(ident)
            jurisdictions.require_region(claims, row.get("region_key"))
            if old is not None:
                jurisdictions.require_region(claims, old.get("region_key"))
            place = where.get(("jurisdiction", ident), ident)
            found = jurisdictions.authority_violations(session, row, organizations)
            problems += [Violation(_join(place, v.field), v.reason) for v in found]
            declared[ident] = jurisdictions.declared(session, claims, row, old)
        if problems:
            raise Invalid(problems, detail=f"{len(problems)} problem(s); nothing was imported")

    def _write(
        self,
        session: StoreSession,
        claims: TokenClaims,
        spec: EntitySpec,
        by_id: dict[str, Row],
        report: ImportReport,
        owners: Callable[[str, Row], set[str]],
        events: ImportEvents,
    ) -> set[str]:
        """Write these rows of one entity; the ids of those the directory held already."""
        existing = {
            str(r["id"]): r for chunk in _chunks(list(by_id), 5_000) for r in session.select(spec.name, {"id": chunk})
        }
        fresh = []
        for ident, row in by_id.items():  # a row holds only fields of its entity (see flatten_json, read_csv_package)
            old = existing.get(ident)
            if old is None:
                fresh.append(row)
                continue
            values = {f.name: row.get(f.name) for f in spec.fields}  # an import keeps what the file says
            old_values = {f.name: old.get(f.name) for f in spec.fields}
            changes = {k: v for k, v in values.items() if old_values.get(k) != v}
            if not changes:
                report.unchanged += 1
                continue
            session.update(spec.name, ident, changes, int(old[REVISION]))
            owner_ids = owners(spec.name, values)
            record_change(
                session,
                entity=spec.name,
                ident=ident,
                action="update",
                old=old_values,
                new=values,
                updated_by=claims.subject,
                owner_ids=owner_ids,
                revision=int(old[REVISION]) + 1,
                event=False,
            )
            events.add(spec.name, ident, "update", owner_ids)
            report.updated[spec.name] = report.updated.get(spec.name, 0) + 1
        session.insert(spec.name, fresh)
        if spec.name == "metadata":
            if fresh:
                report.created[spec.name] = len(fresh)
            return set(existing)
        for row in fresh:
            # A creation by import is reported by its organisation's import event and leaves no history
            # (the entry's starts with its next change): the search index is all that is told of it.
            session.touch(spec.name, row)
            events.add(spec.name, str(row["id"]), "create", owners(spec.name, row))
        if fresh:
            report.created[spec.name] = len(fresh)
        return set(existing)

    # -- export ------------------------------------------------------------------------
    def export_rows(self, claims: TokenClaims, organization_ids: Iterable[str] | None = None) -> dict[str, list[Row]]:
        """Every row the caller may export, per entity (internal entries only to their maintainers)."""
        if claims.role not in (Role.ADMIN, Role.MAINTAINER):
            raise Forbidden(f"role {claims.role.value} cannot export the directory")
        with self.store.transaction() as session:
            wanted = set(organization_ids) if organization_ids is not None else None
            if claims.role is not Role.ADMIN:
                allowed = session.maintainable_by(claims.organization_id or "")
                wanted = allowed if wanted is None else wanted & allowed
            out: dict[str, list[Row]] = {}
            for entity, spec in entities().items():
                rows = [_strip(r, spec) for r in session.select(entity)]
                if wanted is not None and entity not in ("taxonomy", "taxonomy_term", "meta_table_description"):
                    rows = [r for r in rows if access.owners(session, entity, r) & wanted]
                out[entity] = [r for r in rows if access.may_see(session, claims, entity, r)]
            return out

    def export_json(self, claims: TokenClaims, organization_ids: Iterable[str] | None = None) -> dict[str, Any]:
        rows = self.export_rows(claims, organization_ids)
        index = _Index(rows)
        exported_orgs = {str(r["id"]) for r in rows["organization"]}
        return {
            "profile": PROFILE_URI,
            "organizations": [index.nest("organization", r) for r in rows["organization"]],
            # services appear inside their organisation; only those without one stand alone
            "services": [
                index.nest("service", r) for r in rows["service"] if str(r.get("organization_id")) not in exported_orgs
            ],
            "locations": [
                index.nest("location", r)
                for r in rows["location"]
                if str(r.get("organization_id")) not in exported_orgs
            ],
            "taxonomies": [index.nest("taxonomy", r) for r in rows["taxonomy"]],
            "taxonomy_terms": [index.nest("taxonomy_term", r) for r in rows["taxonomy_term"]],
        }

    def export_csv(self, claims: TokenClaims, organization_ids: Iterable[str] | None = None) -> dict[str, str]:
        """File name → text of the HSDS CSV data package, with its ``datapackage.json``."""
        rows = self.export_rows(claims, organization_ids)
        files: dict[str, str] = {}
        resources = []
        for entity, spec in entities().items():
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(spec.field_names)
            for row in rows[entity]:
                writer.writerow([_format_cell(f, row.get(f.name)) for f in spec.fields])
            files[spec.csv_file] = buffer.getvalue()
            resources.append(
                {
                    "name": spec.name,
                    "path": spec.csv_file,
                    "profile": "tabular-data-resource",
                    "schema": {
                        "fields": [{"name": f.name, "type": _frictionless_type(f)} for f in spec.fields],
                        "primaryKey": "id",
                    },
                }
            )
        files["datapackage.json"] = json.dumps(
            {
                "name": "lotse-directory",
                "profile": "tabular-data-package",
                "x_hsds_profile": PROFILE_URI,
                "resources": resources,
            },
            indent=2,
            ensure_ascii=False,
        )
        return files

    def export_csv_zip(self, claims: TokenClaims, organization_ids: Iterable[str] | None = None) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in self.export_csv(claims, organization_ids).items():
                archive.writestr(name, text)
        return buffer.getvalue()


def _frictionless_type(f: FieldSpec) -> str:
    return {"number": "number", "boolean": "boolean", "array": "string"}.get(f.type, "string")


def _strip(row: Row, spec: EntitySpec) -> Row:
    return {f.name: _clean_number(row.get(f.name)) for f in spec.fields}


def _join(place: str, field_name: str) -> str:
    if ":" in place and place.endswith(tuple("0123456789")) and place.rsplit(":", maxsplit=1)[-1].isdigit():
        return f"{place}:{field_name}"  # CSV: file:line:field
    return f"{place}.{field_name}"


def _addresses_by_location(rows: Mapping[str, Mapping[str, Row]]) -> dict[str, list[Row]]:
    found: dict[str, list[Row]] = defaultdict(list)
    for address in rows.get("address", {}).values():
        found[str(address.get("location_id"))].append(address)
    return found


def _german(entity: str, row: Row, addresses_by_location: Mapping[str, list[Row]]) -> bool:
    """Whether the German rules (PLZ, coordinates inside Germany) apply. A location the file gives without
    an address is not known to be in Germany: a page of another HSDS API's list leaves addresses out
    (it is reported by :func:`_abroad` instead)."""
    if entity == "address":
        return row.get("country") == "DE"
    if entity == "location":
        addresses = addresses_by_location.get(str(row["id"]), [])
        return bool(addresses) and all(a.get("country") == "DE" for a in addresses)
    return True


def _abroad(spec: EntitySpec, row: Row, addresses_by_location: Mapping[str, list[Row]], place: str) -> list[Violation]:
    """A location without an address whose coordinates lie outside Germany: imported, but reported."""
    if spec.name != "location" or addresses_by_location.get(str(row["id"])):
        return []
    lat, lon = row.get("latitude"), row.get("longitude")
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)) or inside_germany(lat, lon):
        return []
    return [
        Violation(_join(place, "latitude"), f"({lat}, {lon}) is not inside Germany, and no address says where it is")
    ]


def _dangling(
    session: StoreSession, spec: EntitySpec, row: Row, in_file: set[tuple[str, str]], place: str
) -> list[Violation]:
    """References to entries neither in the file nor in the directory: kept, but reported."""
    out = []
    for f in spec.reference_fields:
        value = row.get(f.name)
        if not value or f.references == "*":
            continue
        assert f.references is not None
        if (f.references, str(value)) not in in_file and session.get(f.references, str(value)) is None:
            out.append(Violation(_join(place, f.name), f"refers to {f.references} {value}, which is not known"))
    return out


def _file_only_offers(rows: Mapping[str, Mapping[str, Row]]) -> set[str]:
    """Offers in the file whose organisation, places and topics are in the file too."""
    organizations, locations, terms = (rows.get(e, {}) for e in ("organization", "location", "taxonomy_term"))
    places: dict[str, list[str]] = defaultdict(list)
    for sal in rows.get("service_at_location", {}).values():
        places[str(sal.get("service_id"))].append(str(sal.get("location_id") or ""))
    topics: dict[str, list[str]] = defaultdict(list)
    for attribute in rows.get("attribute", {}).values():
        if attribute.get("link_entity") == "service":
            topics[str(attribute.get("link_id"))].append(str(attribute.get("taxonomy_term_id") or ""))
    return {
        sid
        for sid, service in rows.get("service", {}).items()
        if (not service.get("organization_id") or service["organization_id"] in organizations)
        and all(place in locations for place in places.get(sid, ()) if place)
        and all(term in terms for term in topics.get(sid, ()) if term)
    }


# The rows build_documents reads by the offer, and by the offer's place (keep in step with its selects).
_BY_OFFER: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("service_at_location", "service_id", {}),
    ("language", "service_id", {}),
    ("schedule", "service_id", {}),
    ("contact", "service_id", {}),
    ("attribute", "link_id", {"link_entity": "service"}),
)
_BY_PLACE = (("address", "location_id"), ("schedule", "location_id"))


@dataclass(frozen=True)
class _ReferredBefore:
    """Offers and places that entries in the directory referred to before an import, though they did not exist."""

    offers: frozenset[str] = frozenset()
    places: frozenset[str] = frozenset()


def _referred_before(session: StoreSession) -> _ReferredBefore:
    """Asked before the file's rows go in (afterwards the file's own entries would answer)."""
    offers = (session.unknown_references(e, c, "service", more or None) for e, c, more in _BY_OFFER)
    places = (session.unknown_references(e, c, "location") for e, c in _BY_PLACE)
    return _ReferredBefore(frozenset().union(*offers), frozenset().union(*places))


def _self_contained(
    built: Mapping[str, SearchDocument | None],
    rows: Mapping[str, Mapping[str, Row]],
    held: Mapping[str, set[str]],
    referred: _ReferredBefore,
) -> dict[str, SearchDocument | None]:
    """Of the documents built from the file (see :func:`_file_only_offers`), those that equal what the index
    would read back once the file is written: of offers new to the directory, at places new to it, that no
    entry in it referred to. Others draw on rows the directory held and are read back."""
    held_offers, old_places = held.get("service", set()), held.get("location", set()) | referred.places
    at_old_places = {
        str(sal.get("service_id"))
        for sal in rows.get("service_at_location", {}).values()
        if sal.get("location_id") in old_places
    }
    return {
        sid: doc
        for sid, doc in built.items()
        if sid not in held_offers and sid not in referred.offers and sid not in at_old_places
    }


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Index:
    """Rows by the fields that point at their parents, to nest them as HSDS JSON."""

    def __init__(self, rows: Mapping[str, list[Row]]) -> None:
        self.by_id = {e: {str(r["id"]): r for r in rs} for e, rs in rows.items()}
        self.children: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
        for entity, rs in rows.items():
            for f in entities()[entity].reference_fields:
                for r in rs:
                    if r.get(f.name):
                        self.children[(entity, f.name, str(r[f.name]))].append(r)

    def nest(self, entity: str, row: Row, ancestors: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The entry with what belongs to it nested, never nesting an entry inside itself."""
        out: dict[str, Any] = {k: v for k, v in row.items() if v is not None}
        inside = ancestors | {str(row["id"])}
        for nest in entities()[entity].nestings:
            if nest.many:
                kids = self.children.get((nest.entity, nest.child_key or "", str(row["id"])), [])
                out[nest.prop] = [self.nest(nest.entity, k, inside) for k in kids if str(k["id"]) not in inside]
            else:
                target = row.get(nest.parent_key or "")
                found = self.by_id.get(nest.entity, {}).get(str(target)) if target else None
                if found is not None and str(found["id"]) not in inside:
                    out[nest.prop] = self.nest(nest.entity, found, inside)
        return out
