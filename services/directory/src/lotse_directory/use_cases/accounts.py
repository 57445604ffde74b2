"""Local accounts (embedded mode): a user logs in with login and password and gets a bearer token, which the
web application keeps in its session. In scale mode users log in at the OIDC provider instead.

Passwords are stored only as Argon2id hashes (memory-hard, argon2-cffi). A wrong login and a wrong password
are answered alike and take alike long (an unknown login is checked against a hash too)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from lotse_contracts import Role
from lotse_kit.errors import Conflict, NotFound, TooManyAttempts, Unauthenticated, invalid
from lotse_kit.tokens import HmacTokenVerifier

from lotse_directory.adapters.ports import DirectoryStore

MIN_PASSWORD = 12
MAX_FAILURES = 5
LOCKED_FOR = timedelta(minutes=15)
"""After this many wrong passwords in a row a login is refused for this long (whether a user has it or not, so
that the refusal tells nothing about which logins exist)."""
SESSION_TOKEN_HOURS = 10
"""A login's token lasts a working day; the web application ends a session earlier when it is left idle."""


class Accounts:
    def __init__(self, store: DirectoryStore, issuer: HmacTokenVerifier | None, hasher: PasswordHasher | None = None):
        self.store = store
        self.issuer = issuer
        self.hasher = hasher or PasswordHasher()
        self._dummy = self.hasher.hash("a password nobody has")

    def set_password(self, user_id: str, password: str) -> None:
        with self.store.transaction() as session:
            if session.get_user(user_id) is None:
                raise NotFound("user", user_id)
            session.set_password_hash(user_id, self.hashed(password))

    def hashed(self, password: str) -> str:
        """The hash to store for a new password (refused: one shorter than :data:`MIN_PASSWORD`)."""
        if len(password) < MIN_PASSWORD:
            raise invalid("password", f"at least {MIN_PASSWORD} characters")
        return self.hasher.hash(password)

    def log_in(self, login: str, password: str) -> dict[str, Any]:
        """The user's token and who they are; Unauthorized for a wrong login or password."""
        if self.issuer is None:
            raise Conflict("users log in at the OIDC provider (scale mode)")
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            failures, locked_until = session.login_attempts(login)
            if locked_until is not None and locked_until > now:
                wait = int((locked_until - now).total_seconds()) + 1
                raise TooManyAttempts(f"too many wrong passwords: try again in {wait // 60 + 1} minute(s)", wait)
            user = session.get_user(login)
            stored = session.password_hash(login) if user else None
        try:
            self.hasher.verify(stored or self._dummy, password)
        except (VerificationError, InvalidHashError):
            stored = None
        if user is None or stored is None or not user.get("active", True):  # deactivated: as a wrong password
            with self.store.transaction() as session:
                failures = session.login_attempts(login)[0] + 1
                locked = failures >= MAX_FAILURES
                session.set_login_attempts(login, 0 if locked else failures, now + LOCKED_FOR if locked else None)
            raise Unauthenticated("login or password wrong")
        if failures:
            with self.store.transaction() as session:
                session.set_login_attempts(login, 0, None)
        if self.hasher.check_needs_rehash(stored):
            with self.store.transaction() as session:
                session.set_password_hash(login, self.hasher.hash(password))
        ttl = timedelta(hours=SESSION_TOKEN_HOURS)
        role = Role(user["role"])
        regions = tuple(user.get("regions") or ())
        token = self.issuer.issue(user["id"], role, user["organization_id"], user["name"], ttl, regions)
        return {
            "token": token,
            "expires_at": datetime.now(UTC) + ttl,
            "user": {
                "id": user["id"],
                "name": user["name"],
                "role": role.value,
                "organization_id": user["organization_id"],
                "regions": list(regions),
            },
        }
