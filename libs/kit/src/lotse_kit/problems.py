"""RFC 9457 problem details: every error a Lotse service answers with."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, json
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from lotse_kit.errors import (
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    TooLarge,
    TooManyAttempts,
    Unauthenticated,
    Unavailable,
    UseCaseError,
)

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One offending field: ``name`` is a JSON pointer-like dotted path (``addresses.0.postal_code``)."""

    name: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason}


@dataclass
class Problem(Exception):
    """An error answered as ``application/problem+json``; raise it anywhere below a view."""

    status: int
    title: str
    detail: str = ""
    type: str = "about:blank"
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = [e.to_dict() for e in self.errors]
        body.update(self.extra)
        return body


def validation_problem(errors: Iterable[FieldError], detail: str = "") -> Problem:
    errs = list(errors)
    return Problem(
        status=422,
        title="Unprocessable Content",
        type="https://lotse.example/problems/validation",
        detail=detail or "; ".join(f"{e.name}: {e.reason}" for e in errs),
        errors=errs,
    )


def bad_request(name: str, reason: str) -> Problem:
    return Problem(
        status=400,
        title="Bad Request",
        type="https://lotse.example/problems/bad-request",
        detail=f"{name}: {reason}",
        errors=[FieldError(name, reason)],
    )


def not_found(what: str, ident: str) -> Problem:
    return Problem(status=404, title="Not Found", detail=f"{what} {ident} does not exist")


def problem_response(problem: Problem) -> Response:
    response = Response(json.dumps(problem.to_dict()), status=problem.status, mimetype=PROBLEM_JSON)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def to_problem(error: UseCaseError) -> Problem:
    if isinstance(error, NotFound):
        return Problem(status=404, title="Not Found", detail=f"{error.entity} {error.ident} does not exist")
    if isinstance(error, Forbidden):
        return Problem(status=403, title="Forbidden", detail=error.reason)
    if isinstance(error, Gone):
        return Problem(status=410, title="Gone", detail=error.reason)
    if isinstance(error, Unauthenticated):
        return Problem(status=401, title="Unauthorized", detail=error.reason)
    if isinstance(error, Invalid):
        return validation_problem((FieldError(v.field, v.reason) for v in error.violations), error.detail)
    if isinstance(error, TooLarge):
        return Problem(
            status=413, title="Content Too Large", detail=error.reason, errors=[FieldError(error.field, error.reason)]
        )
    if isinstance(error, PreconditionRequired):
        return Problem(
            status=428,
            title="Precondition Required",
            detail=error.reason,
            errors=[FieldError("If-Match", "is required")],
        )
    if isinstance(error, PreconditionFailed):
        problem = Problem(
            status=412,
            title="Precondition Failed",
            detail="the entry was changed since you read it; read it again and repeat your change",
            errors=[FieldError("If-Match", "does not match the current ETag")],
        )
        if error.current_etag:
            problem.headers["ETag"] = error.current_etag
        return problem
    if isinstance(error, Conflict):
        return Problem(status=409, title="Conflict", detail=error.reason, extra=dict(error.details))
    if isinstance(error, Unavailable):
        return Problem(status=503, title="Service Unavailable", detail=error.reason)
    if isinstance(error, TooManyAttempts):
        return Problem(
            status=429,
            title="Too Many Requests",
            detail=error.reason,
            headers={"Retry-After": str(error.retry_after_seconds)},
        )
    return Problem(status=400, title="Bad Request", detail=str(error))


def install_problem_handlers(app: Flask) -> None:
    """Answer every error, use cases' own, Werkzeug's and unexpected ones, as problem+json."""

    @app.errorhandler(UseCaseError)
    def _use_case_error(error: UseCaseError) -> Response:
        return problem_response(to_problem(error))

    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return problem_response(problem)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        problem = Problem(status=status, title=exc.name, detail=exc.description or "")
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            problem.errors.append(FieldError("body", f"larger than {limit} bytes"))
        if status == 405:
            allowed = exc.get_headers()
            problem.headers.update({k: v for k, v in allowed if k == "Allow"})
        return problem_response(problem)

    @app.errorhandler(OperationalError)
    def _database_away(exc: OperationalError) -> Response:
        """The database does not answer (or broke the connection): nothing was written, try again."""
        app.logger.warning("database unavailable: %s", exc.orig)
        detail = "the database does not answer; try again"
        return problem_response(Problem(503, "Service Unavailable", detail, headers={"Retry-After": "5"}))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error", exc_info=exc)
        return problem_response(
            Problem(status=500, title="Internal Server Error", detail="an unexpected error occurred")
        )
