"""The claims every Lotse bearer token carries, whoever issued it."""

from dataclasses import dataclass

from lotse_contracts.roles import Role


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """Who is calling: user id, display name, role and organisation.

    ``organization_id`` is the HSDS id of the user's organisation in the
    directory; admins may have none.
    """

    subject: str
    role: Role
    organization_id: str | None
    name: str = ""
    issuer: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
