"""What notify reports of the notifications about a referral (delivered, or given up on), kept with the referral:
the sender sees that the recipient was told, and by which channel; both sides see a notification that failed."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lotse_contracts import EventEnvelope

from lotse_routing.adapters.ports import ReferralStore

log = logging.getLogger(__name__)

REPORTS = ("notification.delivered", "notification.failed")


@dataclass
class DeliveryReports:
    store: ReferralStore

    def record(self, event: EventEnvelope, routing_key: str = "") -> None:
        """Keep a ``notification.delivered`` / ``.failed`` report (once, however often it comes)."""
        self.record_all([(event, routing_key)])

    def record_all(self, events: Sequence[tuple[EventEnvelope, str]]) -> None:
        """Keep several reports in one transaction (other events are left)."""
        reports = [event for event, _ in events if event.type in REPORTS]
        if not reports:
            return
        with self.store.transaction() as session:
            for event in reports:
                data = event.data
                if not session.has_referral(data["referral_id"]):
                    log.info("report of delivery %s names no referral here; left", data["delivery_id"])
                    continue
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
