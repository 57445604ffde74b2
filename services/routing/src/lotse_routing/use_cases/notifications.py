"""What notify reports of the notifications about a referral (delivered, or given up on), kept with the referral:
the sender sees that the recipient was told, and by which channel; both sides see a notification that failed."""

import logging
from dataclasses import dataclass
from datetime import datetime

from lotse_contracts import EventEnvelope

from lotse_routing.adapters.ports import ReferralStore

log = logging.getLogger(__name__)

REPORTS = ("notification.delivered", "notification.failed")


@dataclass
class DeliveryReports:
    store: ReferralStore

    def record(self, event: EventEnvelope, _routing_key: str = "") -> None:
        """Keep a ``notification.delivered`` / ``.failed`` report (once, however often it comes)."""
        if event.type not in REPORTS:
            return
        data = event.data
        with self.store.transaction() as session:
            if not session.has_referral(data["referral_id"]):
                log.info("report of delivery %s names no referral here; left", data["delivery_id"])
                return
            session.add_report(
                {
                    "delivery_id": data["delivery_id"],
                    "referral_id": data["referral_id"],
                    "organization_id": data["organization_id"],
                    "side": data["side"],
                    "channel_kind": data["channel_kind"],
                    "referral_event": data["referral_event_type"],
                    "outcome": data["outcome"],
                    "attempts": int(data["attempts"]),
                    "at": datetime.fromisoformat(event.time),
                }
            )
