"""The audit log's rows: who did or tried what with which referral or consent, when."""

from datetime import datetime
from typing import Any

from lotse_contracts import TokenClaims


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
