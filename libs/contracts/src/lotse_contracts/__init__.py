"""Shared contracts of the Lotse services: data definitions only, no frameworks."""

from lotse_contracts.auth import TokenClaims
from lotse_contracts.domains import LegalDomain
from lotse_contracts.events import EventEnvelope, routing_key
from lotse_contracts.referrals import (
    CONSENT_AGE,
    CancelReason,
    ConsentRole,
    DeclineReason,
    Informed,
    ReferralEvent,
    ReferralStatus,
    age_on,
)
from lotse_contracts.roles import Role

__all__ = [
    "CONSENT_AGE",
    "CancelReason",
    "ConsentRole",
    "DeclineReason",
    "EventEnvelope",
    "Informed",
    "LegalDomain",
    "ReferralEvent",
    "ReferralStatus",
    "Role",
    "TokenClaims",
    "age_on",
    "routing_key",
]
