"""Bearer tokens: signed JWTs carrying user, role and organisation.

Embedded mode signs and checks tokens with a shared secret (HS256); scale mode
accepts tokens of an OIDC provider, checked against its published keys (JWKS).
Nothing here needs Flask (:mod:`lotse_kit.auth` checks them on requests): workers
that only show tokens to other services do not load the web framework.
"""

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import jwt
from lotse_contracts import Role, TokenClaims

from lotse_kit.settings import embedded_secret, var_dir

EMBEDDED_ISSUER = "lotse-embedded"
AUDIENCE = "lotse"


class TokenVerifier(Protocol):
    def verify(self, token: str) -> TokenClaims: ...


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not signed by a trusted key."""


_REGION = re.compile(r"\d{2,12}")


def _claims_from_payload(
    payload: dict[str, Any], role_claim: str, org_claim: str, regions_claim: str = "regions"
) -> TokenClaims:
    raw_role = payload.get(role_claim)
    if isinstance(raw_role, list):  # some providers send roles as a list; the first known one counts
        raw_role = next((r for r in raw_role if r in Role._value2member_map_), None)
    try:
        role = Role(str(raw_role))
    except ValueError as exc:
        raise InvalidToken(f"claim {role_claim!r} holds no Lotse role") from exc
    subject = payload.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("claim 'sub' is missing")
    org = payload.get(org_claim)
    regions = payload.get(regions_claim) or []
    if isinstance(regions, str):  # some providers send a single value as a string
        regions = regions.split()
    if not isinstance(regions, list) or not all(isinstance(r, str) and _REGION.fullmatch(r) for r in regions):
        raise InvalidToken(f"claim {regions_claim!r} must be a list of region keys (2 to 12 digits)")
    return TokenClaims(
        subject=subject,
        role=role,
        organization_id=str(org) if org else None,
        name=str(payload.get("name", "")),
        issuer=str(payload.get("iss", "")),
        regions=tuple(regions),
    )


class _Verified:
    """Tokens verified lately, by their text. A client sends the same token with each of its requests, and
    checking its signature and claims again cost more than the rest of a small request's way through the
    service. A token is taken from here only until it expires, and for at most ``max_age`` seconds after it
    was checked (a key withdrawn at the provider stops its tokens within that time)."""

    def __init__(self, size: int = 4096, max_age: float = 60.0) -> None:
        self._size = size
        self._max_age = max_age
        self._seen: dict[str, tuple[float, TokenClaims]] = {}

    def get(self, token: str) -> TokenClaims | None:
        found = self._seen.get(token)
        if found is None:
            return None
        until, claims = found
        if time.time() >= until:
            self._seen.pop(token, None)
            return None
        return claims

    def put(self, token: str, payload: Mapping[str, Any], claims: TokenClaims) -> TokenClaims:
        if len(self._seen) >= self._size:
            self._seen.clear()  # many users at once: start again rather than keep an order of use
        self._seen[token] = (min(float(payload["exp"]), time.time() + self._max_age), claims)
        return claims


class HmacTokenVerifier:
    """Embedded mode: tokens signed with the suite's shared secret (HS256)."""

    def __init__(self, secret: str, issuer: str = EMBEDDED_ISSUER, audience: str = AUDIENCE) -> None:
        if len(secret) < 32:
            raise ValueError("the token secret must be at least 32 characters")
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._verified = _Verified()

    def verify(self, token: str) -> TokenClaims:
        known = self._verified.get(token)
        if known is not None:
            return known
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        return self._verified.put(token, payload, _claims_from_payload(payload, "role", "org"))

    def issue(
        self,
        subject: str,
        role: Role,
        organization_id: str | None,
        name: str = "",
        ttl: timedelta = timedelta(days=30),
        regions: tuple[str, ...] = (),
    ) -> str:
        now = datetime.now(UTC)
        payload: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "role": role.value,
            "name": name,
            "iat": now,
            "exp": now + ttl,
        }
        if organization_id:
            payload["org"] = organization_id
        if regions:
            payload["regions"] = list(regions)
        return jwt.encode(payload, self._secret, algorithm="HS256")


class JwksTokenVerifier:
    """Scale mode: tokens of an OIDC provider, checked by the keys its JWKS document publishes (PyJWT's
    ``PyJWKClient``).

    ``jwks_uri`` is an ``https://`` (or ``http://``, inside a trusted network) address. The key set is
    cached for ``lifespan`` seconds and fetched again (at most every ``min_refresh`` seconds) when a token
    names an unknown key id, so that key rotation at the provider needs no restart.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_uri: str,
        role_claim: str = "role",
        org_claim: str = "org",
        regions_claim: str = "regions",
        algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256"),
        min_refresh: float = 60.0,
        lifespan: float = 3600.0,
    ) -> None:
        if not jwks_uri.startswith(("https://", "http://")):
            raise ValueError("LOTSE_AUTH_OIDC_JWKS_URI must be an https or http address")
        self._issuer = issuer
        self._audience = audience
        self._role_claim = role_claim
        self._org_claim = org_claim
        self._regions_claim = regions_claim
        self._algorithms = list(algorithms)
        self._keys = jwt.PyJWKClient(jwks_uri, lifespan=lifespan, timeout=5, cooldown_duration=min_refresh)
        self._verified = _Verified(max_age=min_refresh)

    def verify(self, token: str) -> TokenClaims:
        known = self._verified.get(token)
        if known is not None:
            return known
        try:
            key = self._keys.get_signing_key_from_jwt(token).key
            payload = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.PyJWTError as exc:  # PyJWKClientError too: no such key, or the keys could not be fetched
            raise InvalidToken(str(exc)) from exc
        claims = _claims_from_payload(payload, self._role_claim, self._org_claim, self._regions_claim)
        return self._verified.put(token, payload, claims)


@dataclass(frozen=True)
class AuthSettings:
    """Which tokens a service accepts (the same for every Lotse service): ``LOTSE_AUTH_*``."""

    var: Path
    """Where the embedded secret is kept when none is configured (``$LOTSE_VAR_DIR``)."""
    secret: str | None = None
    """Embedded mode's HS256 secret; unset: made once in ``<var>/auth-secret``."""
    oidc_issuer: str | None = None
    oidc_audience: str = AUDIENCE
    oidc_jwks_uri: str | None = None
    oidc_role_claim: str = "role"
    oidc_org_claim: str = "org"
    oidc_regions_claim: str = "regions"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "AuthSettings":
        return cls(
            var=var_dir(env),
            secret=env.get("LOTSE_AUTH_SECRET") or None,
            oidc_issuer=env.get("LOTSE_AUTH_OIDC_ISSUER") or None,
            oidc_audience=env.get("LOTSE_AUTH_OIDC_AUDIENCE", AUDIENCE),
            oidc_jwks_uri=env.get("LOTSE_AUTH_OIDC_JWKS_URI") or None,
            oidc_role_claim=env.get("LOTSE_AUTH_OIDC_ROLE_CLAIM", "role"),
            oidc_org_claim=env.get("LOTSE_AUTH_OIDC_ORG_CLAIM", "org"),
            oidc_regions_claim=env.get("LOTSE_AUTH_OIDC_REGIONS_CLAIM", "regions"),
        )

    @property
    def scale_mode(self) -> bool:
        return self.oidc_issuer is not None

    def embedded_issuer(self) -> HmacTokenVerifier:
        """Embedded mode's verifier, which also issues tokens (with the configured or kept secret)."""
        return HmacTokenVerifier(self.secret or embedded_secret(self.var))

    def verifier(self) -> TokenVerifier:
        """The provider's keys in scale mode (an OIDC issuer is set), else the embedded secret."""
        if self.oidc_issuer:
            if not self.oidc_jwks_uri:
                raise ValueError("LOTSE_AUTH_OIDC_JWKS_URI is required with LOTSE_AUTH_OIDC_ISSUER")
            return JwksTokenVerifier(
                issuer=self.oidc_issuer,
                audience=self.oidc_audience,
                jwks_uri=self.oidc_jwks_uri,
                role_claim=self.oidc_role_claim,
                org_claim=self.oidc_org_claim,
                regions_claim=self.oidc_regions_claim,
            )
        return self.embedded_issuer()

    def service_token(self, fixed: str | None, subject: str, name: str) -> Callable[[], str]:
        """The bearer token a service shows another: ``fixed`` (scale mode, from the identity provider), or
        one it issues itself with the embedded secret for role ``service``, renewed before it expires."""
        if fixed:
            return lambda: fixed
        issuer = self.embedded_issuer()
        lock = threading.Lock()
        held: list[tuple[float, str]] = []

        def token() -> str:
            with lock:
                if not held or held[0][0] < time.monotonic():
                    issued = issuer.issue(subject, Role.SERVICE, None, name, timedelta(hours=2))
                    held[:] = [(time.monotonic() + 3600, issued)]
                return held[0][1]

        return token
