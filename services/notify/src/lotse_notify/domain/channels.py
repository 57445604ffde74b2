"""The ways an organisation chose to be told, besides its inbox (which every organisation has): kept in the
directory, edited by its maintainers."""

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    organization_id: str
    kind: Kind
    target: str
    """The webhook's URL or the e-mail address."""
    revision: int
    secrets: tuple[str, ...] = ()
    """A webhook's active secrets, newest first (two while one is rotated)."""
