"""Administrators keep the users of embedded mode: invite (a user without a password and a signed link, valid
for ``link_days``, to set one), change name, e-mail, role, organisation and regions, deactivate (no login any
more; a token given before stays valid until it expires, at most a working day), and reset a password (the
old one stops working; a new link to set one). A link is used once: it names a nonce the user row keeps until
the password is set. In scale mode users and their roles live at the OIDC provider: only the list is kept."""

import logging
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Conflict, Forbidden, Gone, NotFound, invalid

from lotse_directory.adapters.ports import DirectoryStore, Row
from lotse_directory.domain.verification import utc_stamp
from lotse_directory.use_cases.accounts import Accounts

log = logging.getLogger(__name__)
SALT = "lotse-password-link"
LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
SHOWN = ("id", "name", "role", "organization_id", "regions", "email", "active", "created_at")
CHANGEABLE = ("name", "role", "organization_id", "regions", "email", "active")


def _now() -> datetime:
    return datetime.now(UTC)


class UserAdministration:
    def __init__(
        self,
        store: DirectoryStore,
        accounts: Accounts,
        key: bytes,
        scale_mode: bool,
        link_days: int = 7,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.signer = URLSafeTimedSerializer(key, salt=SALT)
        self.scale_mode = scale_mode
        self.link_days = link_days
        self.clock = clock

    def users(self, claims: TokenClaims) -> list[dict[str, Any]]:
        _admin(claims)
        with self.store.transaction() as session:
            return [_shown(u) for u in session.users()]

    def invite(self, claims: TokenClaims, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new user without a password, and the link they set one with."""
        _admin(claims)
        self._embedded()
        login = str(body["id"])
        if not LOGIN.match(login):
            raise invalid("id", "lower-case letters, digits, . _ - (2 to 64)")
        with self.store.transaction() as session:
            if session.get_user(login) is not None:
                raise Conflict(f"a user {login} exists already")
            self._check_organization(session, body)
            session.add_user({**{k: body.get(k) for k in CHANGEABLE if k != "active"}, "id": login})
            link = self._new_link(session, login)
            user = session.get_user(login)
        log.info("user invited", extra={"user": login, "by": claims.subject, "role": body.get("role")})
        return {"user": _shown(user or {}), **link}

    def change(self, claims: TokenClaims, login: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        _admin(claims)
        if login == claims.subject and (patch.get("active") is False or patch.get("role", "admin") != "admin"):
            raise Conflict("you cannot deactivate yourself or take your own admin role: ask another admin")
        with self.store.transaction() as session:
            if session.get_user(login) is None:
                raise NotFound("user", login)
            self._check_organization(session, patch)
            session.update_user(login, {k: patch[k] for k in CHANGEABLE if k in patch})
            user = session.get_user(login)
        log.info("user changed", extra={"user": login, "by": claims.subject, "fields": sorted(patch)})
        return _shown(user or {})

    def reset(self, claims: TokenClaims, login: str) -> dict[str, Any]:
        """The user's password stops working; a new link to set one."""
        _admin(claims)
        self._embedded()
        with self.store.transaction() as session:
            if session.get_user(login) is None:
                raise NotFound("user", login)
            session.set_password_hash(login, None)
            link = self._new_link(session, login)
        log.info("password reset", extra={"user": login, "by": claims.subject})
        return link

    def link(self, token: str) -> dict[str, Any]:
        """Whose password a link sets (for the page that asks for it)."""
        login, _ = self._read(token)
        with self.store.transaction() as session:
            user = session.get_user(login) or {}
        return {"id": login, "name": user.get("name")}

    def set_password(self, token: str, password: str) -> None:
        """The password a link's user chose; the link is used up."""
        login, _ = self._read(token)
        hashed = self.accounts.hashed(password)
        with self.store.transaction() as session:
            session.set_password_hash(login, hashed)
            session.update_user(login, {"password_link": None})
            session.set_login_attempts(login, 0, None)

    def _read(self, token: str) -> tuple[str, str]:
        self._embedded()
        try:
            found = self.signer.loads(token, max_age=self.link_days * 86400)
        except SignatureExpired:
            raise Gone("the link has expired: ask an administrator for a new one") from None
        except BadSignature:
            raise NotFound("password link", "(not one the directory made)") from None
        login, nonce = str(found["u"]), str(found["n"])
        with self.store.transaction() as session:
            user = session.get_user(login)
        if user is None or not user.get("active", True) or user.get("password_link") != nonce:
            raise Gone("the link has been used or replaced by a newer one")
        return login, nonce

    def _new_link(self, session: Any, login: str) -> dict[str, Any]:
        nonce = secrets.token_urlsafe(24)
        session.update_user(login, {"password_link": nonce})
        expires = self.clock() + timedelta(days=self.link_days)
        token = self.signer.dumps({"u": login, "n": nonce})
        return {"token": token, "expires_at": utc_stamp(expires)}

    @staticmethod
    def _check_organization(session: Any, values: Mapping[str, Any]) -> None:
        org = values.get("organization_id")
        if org and session.get("organization", str(org)) is None:
            raise invalid("organization_id", f"no organisation with id {org}")
        role = values.get("role")
        if role is not None and role not in {r.value for r in Role}:
            raise invalid("role", "not a role of Lotse")

    def _embedded(self) -> None:
        if self.scale_mode:
            raise Conflict("users are invited and their passwords kept at the OIDC provider (scale mode)")


def _admin(claims: TokenClaims) -> None:
    if claims.role is not Role.ADMIN:
        raise Forbidden("only administrators keep the users")


def _shown(user: Row) -> dict[str, Any]:
    found = {k: user.get(k) for k in SHOWN}
    found["regions"] = list(found.get("regions") or [])
    found["active"] = bool(user.get("active", True))
    created = found.get("created_at")
    if isinstance(created, datetime):
        found["created_at"] = created.isoformat(timespec="seconds")
    found["invited"] = bool(user.get("password_link"))
    return found
