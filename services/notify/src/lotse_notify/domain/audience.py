"""Who hears of which referral event: the institution a referral is addressed to learns of what it must
act on; the sending organisation learns what became of its referral."""

from enum import StrEnum

from lotse_contracts import ReferralEvent


class Side(StrEnum):
    RECIPIENT = "recipient"
    SENDER = "sender"


AUDIENCE: dict[ReferralEvent, Side] = {
    ReferralEvent.REQUESTED: Side.RECIPIENT,  # a new referral (also a forwarded one, for its new recipient)
    ReferralEvent.REMINDER_DUE: Side.RECIPIENT,
    ReferralEvent.CANCELLED: Side.RECIPIENT,
    ReferralEvent.ENTERED_IN_ERROR: Side.RECIPIENT,
    ReferralEvent.ACKNOWLEDGED: Side.SENDER,
    ReferralEvent.ACCEPTED: Side.SENDER,
    ReferralEvent.DECLINED: Side.SENDER,
    ReferralEvent.FORWARDED: Side.SENDER,
    ReferralEvent.COMPLETED: Side.SENDER,
    ReferralEvent.FAILED: Side.SENDER,
}
"""Events not named here (in progress, on hold, resumed) tell nobody: the other side sees them in routing."""
