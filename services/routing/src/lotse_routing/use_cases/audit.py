"""The audit log: who did or tried what with which referral or consent, when; and reading it back."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Forbidden, NotFound

from lotse_routing.adapters.ports import ReferralStore
from lotse_routing.use_cases.timestamps import iso


def audit_row(
    actor: TokenClaims,
    action: str,
    at: datetime,
    referral_id: str | None = None,
    consent_id: str | None = None,
    allowed: bool = True,
) -> dict[str, Any]:
    return {
        "at": at,
        "subject": actor.subject,
        "role": actor.role.value,
        "organization_id": actor.organization_id,
        "action": action,
        "referral_id": referral_id,
        "consent_id": consent_id,
        "allowed": allowed,
    }


@dataclass
class AuditTrail:
    """Who read or changed a referral, and who tried and was refused: for admins (data protection checks,
    a client's request to know who received their data). Reading it is audited too."""

    store: ReferralStore

    def of_referral(self, actor: TokenClaims, referral_id: str) -> list[dict[str, Any]]:
        if actor.role is not Role.ADMIN:
            raise Forbidden("the audit log is for admins")
        with self.store.transaction() as session:
            if not session.has_referral(referral_id):
                raise NotFound("referral", referral_id)
            rows = session.audit_trail(referral_id)
            session.add_audit([audit_row(actor, "audit_read", datetime.now(UTC), referral_id)])
        return [
            {
                "at": iso(r["at"]),
                "subject": r["subject"],
                "role": r["role"],
                "organization_id": r["organization_id"],
                "action": r["action"],
                "consent_id": r["consent_id"],
                "allowed": r["allowed"],
            }
            for r in rows
        ]
