"""Errors a use case reports; the entry points turn them into answers (HTTP problem+json, CLI)."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class Violation(Protocol):
    """One offending field of the input (a domain rule's finding)."""

    @property
    def field(self) -> str: ...

    @property
    def reason(self) -> str: ...


class UseCaseError(Exception):
    """Base of every expected failure of a use case."""


class PeerAway(Exception):
    """Another service or a server does not answer (yet): expected while the suite starts or a peer restarts,
    so it is told in one line, not with a traceback."""


@dataclass
class NotFound(UseCaseError):
    entity: str
    ident: str


@dataclass
class Forbidden(UseCaseError):
    reason: str


@dataclass
class Gone(UseCaseError):
    """What was asked for existed but is over (an expired link): 410."""

    reason: str


@dataclass
class Unauthenticated(UseCaseError):
    """Who the caller is could not be established (a wrong login or password): 401."""

    reason: str


@dataclass(frozen=True, slots=True)
class FieldViolation:
    field: str
    reason: str


def invalid(field: str, reason: str) -> "Invalid":
    """One offending field (the common case)."""
    return Invalid([FieldViolation(field, reason)])


@dataclass
class Invalid(UseCaseError):
    violations: Sequence[Violation]
    detail: str = ""


@dataclass
class TooLarge(UseCaseError):
    """The input is larger than the service takes (413), e.g. an archive that unpacks to too much."""

    field: str
    reason: str


@dataclass
class PreconditionRequired(UseCaseError):
    reason: str = "send If-Match with the ETag you read"


@dataclass
class PreconditionFailed(UseCaseError):
    current_etag: str | None


@dataclass
class Conflict(UseCaseError):
    reason: str
    details: dict[str, object] = field(default_factory=dict)


@dataclass
class Unavailable(UseCaseError):
    reason: str


@dataclass
class TooManyAttempts(UseCaseError):
    """Refused for a while after too many failed attempts (429, ``Retry-After``)."""

    reason: str
    retry_after_seconds: int


def parse_if_match(header: str | None) -> int | None:
    """The revision an If-Match header names; ``*`` matches any (None)."""
    if header is None:
        raise PreconditionRequired()
    value = header.strip()
    if value == "*":
        return None
    match = re.fullmatch(r'"(\d{1,18})"', value)  # exactly an ETag Lotse gives: a quoted revision
    if match is None:
        raise PreconditionFailed(current_etag=None)
    return int(match.group(1))
