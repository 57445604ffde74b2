"""Shared contracts of the Lotse services: data definitions only, no frameworks."""

from lotse_contracts.auth import TokenClaims
from lotse_contracts.domains import LegalDomain
from lotse_contracts.events import EventEnvelope, routing_key
from lotse_contracts.referrals import CancelReason, DeclineReason, ReferralEvent, ReferralStatus
from lotse_contracts.roles import Role

__all__ = [
    "CancelReason",
    "DeclineReason",
    "EventEnvelope",
    "LegalDomain",
    "ReferralEvent",
    "ReferralStatus",
    "Role",
    "TokenClaims",
    "routing_key",
]
