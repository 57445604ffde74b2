"""Use-case errors as RFC 9457 problems."""

from flask import Flask, Response
from lotse_kit.problems import FieldError, Problem, problem_response, validation_problem

from lotse_directory.use_cases.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unavailable,
    UseCaseError,
)


def to_problem(error: UseCaseError) -> Problem:
    if isinstance(error, NotFound):
        return Problem(status=404, title="Not Found", detail=f"{error.entity} {error.ident} does not exist")
    if isinstance(error, Forbidden):
        return Problem(status=403, title="Forbidden", detail=error.reason)
    if isinstance(error, Invalid):
        return validation_problem((FieldError(v.field, v.reason) for v in error.violations), error.detail)
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
    return Problem(status=400, title="Bad Request", detail=str(error))


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(UseCaseError)
    def _use_case_error(error: UseCaseError) -> Response:
        return problem_response(to_problem(error))
