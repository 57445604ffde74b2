"""The claims every Lotse bearer token carries, whoever issued it."""

from dataclasses import dataclass

from lotse_contracts.roles import Role


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """Who is calling: user id, display name, role and organisation.

    ``organization_id`` is the HSDS id of the user's organisation in the
    directory; admins may have none. ``regions``: the region keys (AGS
    prefixes) a maintainer keeps the jurisdictions (Zuständigkeiten) of,
    e.g. the Kreis's KIM coordination its Kreis key.
    """

    subject: str
    role: Role
    organization_id: str | None
    name: str = ""
    issuer: str = ""
    regions: tuple[str, ...] = ()

    def keeps_region(self, region_key: str) -> bool:
        """Whether the caller may declare who is responsible in the region (admins everywhere)."""
        if self.role is Role.ADMIN:
            return True
        return self.role is Role.MAINTAINER and any(region_key.startswith(r) for r in self.regions)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
