"""Maintain directory entries: create, read, update (If-Match), delete, history."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed, parse_if_match
from lotse_kit.schema_errors import SchemaCheck

from lotse_directory.adapters.geocoding.gazetteer import Gazetteer
from lotse_directory.adapters.ports import DirectoryStore, Row, StartsWith, StoreSession
from lotse_directory.adapters.storage.tables import REVISION
from lotse_directory.domain.hsds import EntitySpec, entities, json_schema
from lotse_directory.domain.rules import Violation, check_entry
from lotse_directory.use_cases import access, jurisdictions
from lotse_directory.use_cases.changes import record_change
from lotse_directory.use_cases.channels import drop_channels

MAX_PER_PAGE = 200
_SIDEWAYS = ("parent_organization_id", "deputy_contact_id", "parent_id", "taxonomy_id", "taxonomy_term_id")
"""References that do not make the entry a part of the one they point at."""


@dataclass(frozen=True, slots=True)
class Change:
    """One change of several that stand or fall together (:meth:`Entries.apply`)."""

    op: Literal["create", "update", "delete"]
    entity: str
    ident: str | None = None
    body: Mapping[str, Any] | None = None
    if_match: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry as stored, with its revision (the ETag)."""

    entity: str
    values: Row
    revision: int

    @property
    def etag(self) -> str:
        return f'"{self.revision}"'


def _split(row: Row) -> Entry:
    return Entry("", {k: v for k, v in row.items() if not k.startswith("lotse_")}, int(row[REVISION]))


@cache
def _check(entity: str) -> SchemaCheck:
    return SchemaCheck(json_schema(entities()[entity]))


def schema_violations(entity: str, values: Mapping[str, Any]) -> list[Violation]:
    return [Violation(n, r) for n, r in _check(entity).errors(dict(values))]


def _is_german(session: StoreSession, spec: EntitySpec, values: Mapping[str, Any]) -> bool:
    if spec.name == "address":
        return values.get("country") == "DE"
    if spec.name == "location" and values.get("id"):
        addresses = session.select("address", {"location_id": values["id"]})
        return all(a.get("country") == "DE" for a in addresses)
    return True


def reference_violations(session: StoreSession, spec: EntitySpec, values: Mapping[str, Any]) -> list[Violation]:
    out = []
    for f in spec.reference_fields:
        value = values.get(f.name)
        if not value:
            continue
        if f.references == "*":
            hint = values.get("link_entity") if f.name == "link_id" else values.get("resource_type")
            if access.find_linked(session, str(value), str(hint) if hint else None) is None:
                out.append(Violation(f.name, f"no directory entry with id {value}"))
        elif f.references and session.get(f.references, str(value)) is None:
            out.append(Violation(f.name, f"no {f.references} with id {value}"))
    return out


def gazetteer_violations(gazetteer: Gazetteer, spec: EntitySpec, values: Mapping[str, Any]) -> list[Violation]:
    out = []
    if spec.name == "address" and values.get("country") == "DE":
        code = values.get("postal_code")
        if isinstance(code, str) and len(code) == 5 and not gazetteer.postal_code_exists(code):
            out.append(Violation("postal_code", f"{code} is not a German PLZ"))
    if spec.name == "jurisdiction":
        key = values.get("region_key")
        if isinstance(key, str) and key.isdigit() and not gazetteer.region_exists(key):
            out.append(Violation("region_key", f"{key} names no German region"))
        for i, code in enumerate(values.get("postal_codes") or []):
            if isinstance(code, str) and len(code) == 5 and not gazetteer.postal_code_exists(code):
                out.append(Violation(f"postal_codes.{i}", f"{code} is not a German PLZ"))
    return out


def validate(
    session: StoreSession,
    gazetteer: Gazetteer,
    spec: EntitySpec,
    values: Mapping[str, Any],
    *,
    check_references: bool = True,
) -> list[Violation]:
    found = schema_violations(spec.name, values)
    if found:
        return found
    found = check_entry(spec, values, german=_is_german(session, spec, values))
    found += gazetteer_violations(gazetteer, spec, values)
    if check_references:
        found += reference_violations(session, spec, values)
    return found


def _refuse_read_only(spec: EntitySpec, values: Mapping[str, Any]) -> None:
    _raise_if([Violation(f.name, "is set by the directory") for f in spec.fields if f.read_only and f.name in values])


def _raise_if(violations: list[Violation]) -> None:
    if violations:
        raise Invalid(violations)


def _with_defaults(spec: EntitySpec, values: Mapping[str, Any]) -> Row:
    row = {f.name: values.get(f.name, f.default) for f in spec.fields}
    if not row.get("id"):
        row["id"] = str(uuid.uuid4())
    return row


def _changeable(
    session: StoreSession, claims: TokenClaims, entity: str, ident: str, expected: int | None
) -> tuple[Entry, set[str]]:
    """The entry as stored and its owners, if the caller sees it, it is at the revision read (None: any) and
    the caller may change it (a jurisdiction: who keeps its region)."""
    row = session.get(entity, ident)
    if row is None or not access.may_see(session, claims, entity, row):
        raise NotFound(entity, ident)
    current = _split(row)
    if expected is not None and expected != current.revision:
        raise PreconditionFailed(current_etag=f'"{current.revision}"')
    owners = access.owners(session, entity, current.values)
    if entity == "jurisdiction":
        jurisdictions.require_region(claims, current.values["region_key"])
    else:
        access.require_maintainer(session, claims, entity, owners)
    return current, owners


class Entries:
    """The maintainers' use cases on every entity of the directory."""

    def __init__(self, store: DirectoryStore, gazetteer: Gazetteer) -> None:
        self.store = store
        self.gazetteer = gazetteer

    def get(self, claims: TokenClaims, entity: str, ident: str) -> Entry:
        with self.store.transaction() as session:
            row = session.get(entity, ident)
            if row is None or not access.may_see(session, claims, entity, row):
                raise NotFound(entity, ident)
            found = _split(row)
            return Entry(entity, found.values, found.revision)

    def page(
        self,
        claims: TokenClaims,
        entity: str,
        where: Mapping[str, Any],
        page: int,
        per_page: int,
        region: str | None = None,
    ) -> tuple[list[Row], int]:
        """A page of entries; ``region``: only jurisdictions whose region key starts with it (a Kreis's, with
        those of its Gemeinden)."""
        per_page = min(per_page, MAX_PER_PAGE)
        with self.store.transaction() as session:
            if region is not None:  # a region's jurisdictions: a Kreis's with those of its Gemeinden
                where = {**where, "region_key": StartsWith(region)}
            total = session.count(entity, where)
            rows = session.select(entity, where, limit=per_page, offset=(page - 1) * per_page)
            visible = [_split(r).values for r in rows if access.may_see(session, claims, entity, r)]
            return visible, total

    def apply(self, claims: TokenClaims, changes: Sequence[Change]) -> list[Entry | None]:
        """Several changes in one transaction, in order: all are made or none (an editor's form that writes a
        place with its address and phone, an offer with its topics). Each is checked as on its own; an
        update or delete needs the revision read. What is wrong is named by the change's position
        (``changes.2.postal_code``). Answers each change's entry (None for a deletion)."""
        done: list[Entry | None] = []
        with self.store.transaction() as session:
            for i, change in enumerate(changes):
                try:
                    if change.op == "create":
                        done.append(self.create_in(session, claims, change.entity, change.body or {}))
                        continue
                    expected = parse_if_match(change.if_match)
                    if change.op == "update":
                        done.append(
                            self.update_in(
                                session, claims, change.entity, str(change.ident), change.body or {}, expected
                            )
                        )
                    else:
                        self.delete_in(session, claims, change.entity, str(change.ident), expected)
                        done.append(None)
                except Invalid as error:
                    at = [Violation(f"changes.{i}.{v.field}", v.reason) for v in error.violations]
                    raise Invalid(at, error.detail) from None
        return done

    def create(self, claims: TokenClaims, entity: str, body: Mapping[str, Any]) -> Entry:
        with self.store.transaction() as session:
            return self.create_in(session, claims, entity, body)

    def create_in(self, session: StoreSession, claims: TokenClaims, entity: str, body: Mapping[str, Any]) -> Entry:
        """:meth:`create` within the caller's transaction (one change of several that stand or fall together)."""
        spec = entities()[entity]
        if entity == "metadata":
            raise Conflict("the change history is written by the directory itself")
        _refuse_read_only(spec, body)
        values = _with_defaults(spec, body)
        if session.get(entity, values["id"]) is not None:
            raise Conflict(f"a {entity} with id {values['id']} exists already")
        violations = validate(session, self.gazetteer, spec, values)
        if violations:
            raise Invalid(violations)
        if entity == "jurisdiction":
            jurisdictions.require_region(claims, values["region_key"])
            _raise_if(jurisdictions.authority_violations(session, values, {}))
            values = jurisdictions.declared(session, claims, values, None)
        elif entity == "organization" and claims.role is Role.MAINTAINER:
            # a new organisation: its creator's organisation will maintain it
            access.require_maintainer(session, claims, entity, {claims.organization_id or ""})
        else:
            access.require_maintainer(session, claims, entity, access.owners(session, entity, values))
        if entity == "organization" and values.get("authority_for"):
            jurisdictions.require_authority_keeper(claims)
        session.insert(entity, [values])
        if (
            entity == "organization"
            and claims.role is Role.MAINTAINER
            and claims.organization_id
            and claims.organization_id != values["id"]
        ):
            session.grant(values["id"], claims.organization_id)
        record_change(
            session,
            entity=entity,
            ident=values["id"],
            action="create",
            old={},
            new=values,
            updated_by=claims.subject,
            owner_ids=access.owners(session, entity, values),
            revision=1,
        )
        return Entry(entity, values, 1)

    def update(
        self,
        claims: TokenClaims,
        entity: str,
        ident: str,
        patch: Mapping[str, Any],
        if_match: str | None,
        confirm: bool = False,
    ) -> Entry:
        """Apply a JSON merge patch; the caller's If-Match must name the current revision. ``confirm``: the
        caller confirms a proposed jurisdiction (:func:`jurisdictions.confirmation`)."""
        expected = parse_if_match(if_match)
        with self.store.transaction() as session:
            return self.update_in(session, claims, entity, ident, patch, expected, confirm)

    def update_in(
        self,
        session: StoreSession,
        claims: TokenClaims,
        entity: str,
        ident: str,
        patch: Mapping[str, Any],
        expected: int | None,
        confirm: bool = False,
    ) -> Entry:
        """:meth:`update` within the caller's transaction; ``expected``: the revision read (None: any)."""
        spec = entities()[entity]
        if "id" in patch and patch["id"] != ident:
            raise Invalid([Violation("id", "cannot be changed")])
        _refuse_read_only(spec, patch)
        current, old_owners = _changeable(session, claims, entity, ident, expected)
        new_values = {**current.values, **patch}
        violations = validate(session, self.gazetteer, spec, new_values)
        if violations:
            raise Invalid(violations)
        new_owners = access.owners(session, entity, new_values)
        if entity == "jurisdiction":
            jurisdictions.require_region(claims, new_values["region_key"])
            _raise_if(jurisdictions.authority_violations(session, new_values, {}))
            new_values = jurisdictions.declared(session, claims, new_values, current.values)
            if confirm:
                new_values.update(jurisdictions.confirmation(claims, new_values, datetime.now(UTC)))
        elif new_owners != old_owners:
            access.require_maintainer(session, claims, entity, new_owners)
        if entity == "organization" and new_values.get("authority_for") != current.values.get("authority_for"):
            jurisdictions.require_authority_keeper(claims)
        changes = {k: v for k, v in new_values.items() if current.values.get(k) != v}
        if not changes:
            return Entry(entity, current.values, current.revision)
        if not session.update(entity, ident, changes, current.revision):
            latest = session.get(entity, ident)
            raise PreconditionFailed(current_etag=f'"{latest[REVISION]}"' if latest else None)
        record_change(
            session,
            entity=entity,
            ident=ident,
            action="update",
            old=current.values,
            new=new_values,
            updated_by=claims.subject,
            owner_ids=old_owners | new_owners,
            revision=current.revision + 1,
        )
        return Entry(entity, new_values, current.revision + 1)

    def delete(self, claims: TokenClaims, entity: str, ident: str, if_match: str | None) -> None:
        """Delete an entry; entries that belong only to it go with it, shared ones are unlinked."""
        expected = parse_if_match(if_match)
        with self.store.transaction() as session:
            self.delete_in(session, claims, entity, ident, expected)

    def delete_in(
        self, session: StoreSession, claims: TokenClaims, entity: str, ident: str, expected: int | None
    ) -> None:
        """:meth:`delete` within the caller's transaction; ``expected``: the revision read (None: any)."""
        current, owner_ids = _changeable(session, claims, entity, ident, expected)
        self._delete_tree(session, claims, entity, current.values, owner_ids)

    def _delete_tree(
        self, session: StoreSession, claims: TokenClaims, entity: str, values: Row, owner_ids: set[str]
    ) -> None:
        ident = str(values["id"])
        if entity == "jurisdiction":  # also when its organisation goes: who is responsible is the region's
            jurisdictions.require_region(claims, values["region_key"])
        for child_spec in entities().values():
            if child_spec.name == "metadata":
                continue
            for f in child_spec.reference_fields:
                if f.references not in (entity, "*") or f.name in ("parent_organization_id", "deputy_contact_id"):
                    continue
                for child in session.select(child_spec.name, {f.name: ident}):
                    child_values = _split(child).values
                    parents = [
                        r.name
                        for r in child_spec.reference_fields
                        if r.name
                        not in (
                            "parent_organization_id",
                            "deputy_contact_id",
                            "taxonomy_term_id",
                            "taxonomy_id",
                            "parent_id",
                            "program_id",
                        )
                        and child_values.get(r.name)
                        and r.name != f.name
                    ]
                    if parents:  # shared with another parent: only unlink it
                        new = {**child_values, f.name: None}
                        session.update(child_spec.name, str(child["id"]), {f.name: None}, int(child[REVISION]))
                        record_change(
                            session,
                            entity=child_spec.name,
                            ident=str(child["id"]),
                            action="update",
                            old=child_values,
                            new=new,
                            updated_by=claims.subject,
                            owner_ids=owner_ids,
                            revision=int(child[REVISION]) + 1,
                        )
                    else:
                        self._delete_tree(session, claims, child_spec.name, child_values, owner_ids)
        session.delete(entity, ident)
        if entity == "organization":
            drop_channels(session, ident)
        record_change(
            session,
            entity=entity,
            ident=ident,
            action="delete",
            old=values,
            new={},
            updated_by=claims.subject,
            owner_ids=owner_ids,
            revision=0,
        )

    def parts(self, claims: TokenClaims, entity: str, ident: str) -> dict[str, list[Row]]:
        """The entries that point at this one, by collection (an offer's places, contacts, phones, schedules,
        languages, topics, documents …; at most 200 of each), as the caller may see them: what an editor of
        the entry shows, in one read."""
        found: dict[str, list[Row]] = {}
        with self.store.transaction() as session:
            row = session.get(entity, ident)
            if row is None or not access.may_see(session, claims, entity, row):
                raise NotFound(entity, ident)
            for spec in entities().values():
                if spec.name == "metadata":
                    continue
                for f in spec.reference_fields:
                    if f.references != entity and not (f.name == "link_id" and spec.name == "attribute"):
                        continue
                    if f.name in _SIDEWAYS:
                        continue
                    rows = session.select(spec.name, {f.name: ident}, limit=200)
                    found.setdefault(spec.collection, []).extend(
                        _split(r).values for r in rows if access.may_see(session, claims, spec.name, r)
                    )
        return found

    def maintained(self, claims: TokenClaims) -> list[Row]:
        """The organisations the caller maintains (id, name, verified_at), by name: a maintainer's own and those
        granted to it; an admin's the first 500 of all."""
        fields = ("name", "verified_at")
        with self.store.transaction() as session:
            if claims.role is Role.ADMIN:
                return session.select("organization", order_by="name", limit=500, fields=fields)
            if claims.role is not Role.MAINTAINER or not claims.organization_id:
                raise Forbidden(f"role {claims.role.value} maintains no organisation")
            ids = session.maintainable_by(claims.organization_id)
            return session.select("organization", {"id": ids}, order_by="name", fields=fields)

    def authorities(self) -> list[Row]:
        """The organisations marked as authorities (``authority_for``), by name: those a jurisdiction may name.
        Public bodies and their names, no one's data."""
        with self.store.transaction() as session:
            return session.authorities()

    def history(self, claims: TokenClaims, entity: str, ident: str) -> list[Row]:
        with self.store.transaction() as session:
            row = session.get(entity, ident)
            rows = session.select(
                "metadata", {"resource_id": ident, "resource_type": entity}, order_by="last_action_date"
            )
            if row is not None and not access.may_see(session, claims, entity, row):
                raise NotFound(entity, ident)
            # a deleted entry's owners can no longer be resolved: its history is for admins
            if row is None and (not rows or claims.role is not Role.ADMIN):
                raise NotFound(entity, ident)
            return [_split(r).values for r in rows]
