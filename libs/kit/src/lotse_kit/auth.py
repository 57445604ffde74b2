"""Bearer tokens on requests: the caller's claims and the roles a view admits (tokens themselves:
:mod:`lotse_kit.tokens`)."""

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Flask, current_app, g, request
from lotse_contracts import Role, TokenClaims

from lotse_kit.problems import FieldError, Problem
from lotse_kit.tokens import InvalidToken, TokenVerifier


def _unauthorized(detail: str) -> Problem:
    return Problem(
        status=401,
        title="Unauthorized",
        detail=detail,
        errors=[FieldError("Authorization", detail)],
        headers={"WWW-Authenticate": 'Bearer realm="lotse"'},
    )


def install_auth(app: Flask, verifier: TokenVerifier) -> None:
    app.extensions["lotse.auth"] = verifier


def current_claims() -> TokenClaims:
    """The caller's claims; answers 401 when the request carries no valid bearer token."""
    cached = g.get("lotse_claims")
    if isinstance(cached, TokenClaims):
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("a bearer token is required")
    verifier: TokenVerifier = current_app.extensions["lotse.auth"]
    try:
        claims = verifier.verify(token.strip())
    except InvalidToken as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    g.lotse_claims = claims
    return claims


def optional_claims() -> TokenClaims | None:
    """The caller's claims, or None for a call without a token (a token that is sent must be valid)."""
    if not request.headers.get("Authorization"):
        return None
    return current_claims()


P = ParamSpec("P")
R = TypeVar("R")


def require_roles(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Let a view run only for callers with one of ``roles`` (any role when none given)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            claims = current_claims()
            if roles and claims.role not in roles:
                allowed = ", ".join(r.value for r in roles)
                raise Problem(
                    status=403,
                    title="Forbidden",
                    detail=f"role {claims.role.value} may not do this; allowed: {allowed}",
                )
            return view(*args, **kwargs)

        wrapper.__dict__["lotse_roles"] = roles  # read by the OpenAPI builder
        return wrapper

    return decorate
