"""Taking in referral events: each one, however often it arrives, becomes at most one notification per
organisation (its inbox entry) and one delivery per webhook or e-mail channel of that organisation."""

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lotse_contracts import EventEnvelope, ReferralEvent
from lotse_kit.outbox import TryLater

from lotse_notify.adapters.ports import Channels, ChannelsUnavailable, NotifyStore
from lotse_notify.domain.audience import AUDIENCE
from lotse_notify.domain.delivery import State

log = logging.getLogger(__name__)


@dataclass
class Intake:
    store: NotifyStore
    channels: Channels
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def take(self, event: EventEnvelope, _routing_key: str = "") -> list[str]:
        """Record the event's notification and deliveries in one transaction; return the ids of the
        deliveries it made (none for an event seen before, or one that tells nobody). Raises
        :class:`TryLater` while the directory does not answer."""
        what = _referral_event(event.type)
        side = AUDIENCE.get(what) if what else None
        data: dict[str, Any] = event.data
        organization = data.get(f"{side.value}_organization_id") if side else None
        try:
            channels = self.channels.of(organization) if organization else []
        except ChannelsUnavailable as exc:
            raise TryLater(str(exc)) from exc
        now = self.now()
        with self.store.transaction() as session:
            if not session.first_time(event.id, event.type, now) or side is None or organization is None:
                return []
            notification_id = str(uuid.uuid4())
            session.add_notification(
                {
                    "id": notification_id,
                    "event_id": event.id,
                    "event_type": event.type,
                    "organization_id": organization,
                    "side": side.value,
                    "referral_id": data["referral_id"],
                    "legal_domain": data["legal_domain"],
                    "region_key": data["region_key"],
                    "referral_status": data["status"],
                    "urgency": data.get("urgency"),
                    "created_at": now,
                    "request_id": event.requestid,
                }
            )
            deliveries: Sequence[dict[str, Any]] = [
                {
                    "id": str(uuid.uuid4()),
                    "notification_id": notification_id,
                    "channel_id": c.id,
                    "channel_revision": c.revision,
                    "kind": c.kind.value,
                    "target": c.target,
                    "state": State.PENDING.value,
                    "attempts": 0,
                    "next_due_at": now,
                    "kicked_at": now,  # the caller sends the jobs once this commits
                    "created_at": now,
                    "updated_at": now,
                }
                for c in channels
            ]
            session.add_deliveries(deliveries)
            return [d["id"] for d in deliveries]


def _referral_event(event_type: str) -> ReferralEvent | None:
    aggregate, _, name = event_type.partition(".")
    if aggregate != "referral" or name not in ReferralEvent._value2member_map_:
        log.info("notify ignores %s", event_type)
        return None
    return ReferralEvent(name)
