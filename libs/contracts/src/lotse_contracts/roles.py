"""Roles a Lotse user acts in; carried in the token's ``role`` claim."""

from enum import StrEnum


class Role(StrEnum):
    CASE_MANAGER = "case_manager"
    AGENCY = "agency"
    MAINTAINER = "maintainer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    SERVICE = "service"
    """Another Lotse service calling on its own behalf (routing reading the directory); sees what is public."""
