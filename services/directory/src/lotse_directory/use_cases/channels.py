"""Notification channels: how an organisation wants to be told of referrals besides its inbox (a webhook into
its own system, an e-mail address). Kept here, with the organisation; notify reads them.

They are not part of the published directory: only the organisation's maintainers, admins and the Lotse
services (role ``service``) see them, since a webhook's secret is among them. Each change bumps the channel's
revision and writes a ``directory.notification_channel.changed`` event (field names only, no values).
"""

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lotse_contracts import Role, TokenClaims
from lotse_contracts.webhooks import new_secret
from lotse_kit.errors import Forbidden, NotFound, PreconditionFailed, invalid, parse_if_match
from lotse_kit.sealing import Sealer
from lotse_kit.webhook_targets import TargetPolicy, Unresolved, UnsafeTarget

from lotse_directory.adapters.ports import DirectoryStore, Row, StoreSession
from lotse_directory.use_cases import access
from lotse_directory.use_cases.changes import add_change_event

ENTITY = "notification_channel"
KINDS = ("webhook", "email")
EDITABLE = ("target", "description", "enabled")
MAX_ROTATION_HOURS = 7 * 24
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def check_target(kind: str, target: str, policy: TargetPolicy) -> None:
    """A webhook goes to a public https address (see :mod:`lotse_kit.webhook_targets`); a name that does not
    resolve yet is kept, and checked again before every request. An e-mail address is one address."""
    if kind == "email":
        if len(target) > 254 or not _EMAIL.match(target):
            raise invalid("target", "is not an e-mail address")
        return
    try:
        policy.check(target)
    except Unresolved:
        pass
    except UnsafeTarget as exc:
        raise invalid("target", str(exc)) from None


def active_secrets(secrets: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The secrets not yet expired, newest first."""
    return [s for s in secrets if s.get("expires_at") is None or datetime.fromisoformat(s["expires_at"]) > now]


@dataclass
class NotificationChannels:
    """A webhook's secrets are stored sealed (:mod:`lotse_kit.sealing`): whoever reads the database does not
    get what signs requests to the organisations' systems."""

    store: DirectoryStore
    sealer: Sealer
    targets: TargetPolicy = field(default_factory=TargetPolicy)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def of(self, claims: TokenClaims, organization_id: str) -> list[Row]:
        with self.store.transaction() as session:
            if session.get("organization", organization_id) is None:
                raise NotFound("organization", organization_id)
            self._require_reader(session, claims, organization_id)
            return [self._shown(self._opened(row)) for row in session.channels(organization_id)]

    def get(self, claims: TokenClaims, ident: str) -> Row:
        with self.store.transaction() as session:
            return self._shown(self._readable(session, claims, ident))

    def create(self, claims: TokenClaims, organization_id: str, body: Mapping[str, Any]) -> Row:
        kind, target = str(body["kind"]), str(body["target"])
        check_target(kind, target, self.targets)
        with self.store.transaction() as session:
            if session.get("organization", organization_id) is None:
                raise NotFound("organization", organization_id)
            _require_manager(session, claims, {organization_id})
            ident = str(uuid.uuid4())
            row: Row = {
                "id": ident,
                "organization_id": organization_id,
                "kind": kind,
                "target": target,
                "secrets": [{"secret": new_secret(), "expires_at": None}] if kind == "webhook" else [],
                "enabled": bool(body.get("enabled", True)),
                "description": body.get("description"),
                "updated_by": claims.subject,
            }
            session.add_channel({**row, "secrets": self._sealed(row["secrets"])})
            fields = ["kind", "target", "enabled", *(["secrets"] if row["secrets"] else [])]
            add_change_event(session, ENTITY, ident, "create", fields, {organization_id}, 1)
            return self._shown({**row, "revision": 1})

    def update(self, claims: TokenClaims, ident: str, patch: Mapping[str, Any], if_match: str | None) -> Row:
        expected = parse_if_match(if_match)
        with self.store.transaction() as session:
            current = self._maintainable(session, claims, ident, expected)
            changes = {k: v for k, v in patch.items() if k in EDITABLE and current.get(k) != v}
            if "target" in changes:
                check_target(current["kind"], str(changes["target"]), self.targets)
            if "enabled" in changes and changes["enabled"] is None:
                raise invalid("enabled", "must be true or false")
            return self._write(session, claims, current, changes)

    def rotate_secret(self, claims: TokenClaims, ident: str, keep_old_hours: int, if_match: str | None) -> Row:
        """A new secret signs from now on; the ones before keep signing (as well) for ``keep_old_hours``, so
        that the receiver can take the new one in its own time."""
        expected = parse_if_match(if_match)
        if not 0 <= keep_old_hours <= MAX_ROTATION_HOURS:
            raise invalid("keep_old_hours", f"must be between 0 and {MAX_ROTATION_HOURS}")
        with self.store.transaction() as session:
            current = self._maintainable(session, claims, ident, expected)
            if current["kind"] != "webhook":
                raise invalid("kind", "only a webhook has a secret")
            now = self.now()
            until = (now + timedelta(hours=keep_old_hours)).isoformat()
            older = [
                {**s, "expires_at": min(s["expires_at"] or until, until)}
                for s in active_secrets(current["secrets"], now)
                if keep_old_hours
            ]
            secrets = [{"secret": new_secret(), "expires_at": None}, *older]
            return self._write(session, claims, current, {"secrets": secrets})

    def delete(self, claims: TokenClaims, ident: str, if_match: str | None) -> None:
        expected = parse_if_match(if_match)
        with self.store.transaction() as session:
            current = self._maintainable(session, claims, ident, expected)
            if not session.delete_channel(ident, current["revision"]):
                raise PreconditionFailed(current_etag=None)
            add_change_event(session, ENTITY, ident, "delete", [], {current["organization_id"]}, 0)

    def _write(self, session: StoreSession, claims: TokenClaims, current: Row, changes: Mapping[str, Any]) -> Row:
        if not changes:
            return self._shown(current)
        revision = int(current["revision"])
        stored = {**changes, "secrets": self._sealed(changes["secrets"])} if "secrets" in changes else changes
        if not session.update_channel(current["id"], {**stored, "updated_by": claims.subject}, revision):
            raise PreconditionFailed(current_etag=None)
        org = {current["organization_id"]}
        add_change_event(session, ENTITY, current["id"], "update", sorted(changes), org, revision + 1)
        return self._shown({**current, **changes, "updated_by": claims.subject, "revision": revision + 1})

    def _require_reader(self, session: StoreSession, claims: TokenClaims, organization_id: str) -> None:
        if claims.role is Role.SERVICE or _may_manage(session, claims, {organization_id}):
            return
        raise Forbidden("only the organisation's own staff and maintainers see its notification channels")

    def _readable(self, session: StoreSession, claims: TokenClaims, ident: str) -> Row:
        found = session.get_channel(ident)
        row = self._opened(found) if found else None
        # someone else's channel is not found: its id says nothing about whether it exists
        if row is None or not (claims.role is Role.SERVICE or _may_manage(session, claims, {row["organization_id"]})):
            raise NotFound(ENTITY, ident)
        return row

    def _maintainable(self, session: StoreSession, claims: TokenClaims, ident: str, expected: int | None) -> Row:
        row = self._readable(session, claims, ident)
        _require_manager(session, claims, {row["organization_id"]})
        if expected is not None and expected != row["revision"]:
            raise PreconditionFailed(current_etag=f'"{row["revision"]}"')
        return row

    def _shown(self, row: Row) -> Row:
        return {**row, "secrets": active_secrets(row["secrets"], self.now())}

    def _sealed(self, secrets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"sealed": self.sealer.seal(s["secret"]), "expires_at": s["expires_at"]} for s in secrets]

    def _opened(self, row: Row) -> Row:
        """The row with its secrets in the clear (one stored before secrets were sealed is read as it is)."""
        opened = [
            {"secret": self.sealer.open(s["sealed"]) if "sealed" in s else s["secret"], "expires_at": s["expires_at"]}
            for s in row["secrets"]
        ]
        return {**row, "secrets": opened}

    def seal_stored_secrets(self) -> int:
        """Seal the secrets stored in the clear before they were sealed (at ``db upgrade``); how many channels."""
        with self.store.transaction() as session:
            plain = [row for row in session.all_channels() if any("secret" in s for s in row["secrets"])]
            for row in plain:
                secrets = self._sealed(self._opened(row)["secrets"])
                session.update_channel(row["id"], {"secrets": secrets}, int(row["revision"]))
        return len(plain)


def drop_channels(session: StoreSession, organization_id: str) -> None:
    """An organisation deleted: its channels go with it."""
    for row in session.channels(organization_id):
        session.delete_channel(row["id"], row["revision"])
        add_change_event(session, ENTITY, row["id"], "delete", [], {organization_id}, 0)


def _may_manage(session: StoreSession, claims: TokenClaims, organization_ids: set[str]) -> bool:
    """Where an organisation is told of its referrals is set by its maintainers, admins, and its own receiving
    staff (role agency): they know their inbox and their systems best."""
    own = claims.role is Role.AGENCY and claims.organization_id is not None
    return (own and organization_ids == {claims.organization_id}) or access.can_maintain(
        session, claims, organization_ids
    )


def _require_manager(session: StoreSession, claims: TokenClaims, organization_ids: set[str]) -> None:
    if not _may_manage(session, claims, organization_ids):
        access.require_maintainer(session, claims, ENTITY, organization_ids)  # says why not
