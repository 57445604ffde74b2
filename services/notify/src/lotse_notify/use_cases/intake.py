"""Taking in referral events: each one, however often it arrives, becomes at most one notification per
organisation (its inbox entry) and one delivery per webhook or e-mail channel of that organisation. Events that
arrive together are taken in one transaction, and their first deliveries can be claimed right there, for an
attempt by the process that took them in (no job, no second transaction to claim)."""

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lotse_contracts import EventEnvelope, ReferralEvent
from lotse_kit.outbox import TryLater

from lotse_notify.adapters.ports import Channels, ChannelsUnavailable, NotifyStore, Row
from lotse_notify.domain.audience import AUDIENCE
from lotse_notify.domain.channels import Channel
from lotse_notify.domain.delivery import State

log = logging.getLogger(__name__)


@dataclass
class Taken:
    """What an intake made: deliveries held for their first attempt in this process (rows as
    :meth:`~lotse_notify.adapters.ports.NotifySession.claim` gives them), and the ids of those to be sent
    to a worker (no room here, or their endpoint is paused or gone)."""

    claimed: list[Row] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)


@dataclass
class Intake:
    store: NotifyStore
    channels: Channels
    lease: timedelta = timedelta(seconds=60)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def take(self, event: EventEnvelope, routing_key: str = "") -> list[str]:
        """Record the event's notification and deliveries in one transaction; return the ids of the
        deliveries it made (none for an event seen before, or one that tells nobody). Raises
        :class:`TryLater` while the directory does not answer."""
        return self.take_all([(event, routing_key)]).waiting

    def take_all(self, events: Sequence[tuple[EventEnvelope, str]], claim: int = 0) -> Taken:
        """Record the events' notifications and deliveries in one transaction. Up to ``claim`` deliveries whose
        endpoint is neither paused nor gone are held for their first attempt by the caller right away (the
        attempt counted, the lease taken: if the caller dies, the sweep sends them once the lease ran out);
        the others are due now, their jobs to be sent once this commits."""
        told: list[tuple[EventEnvelope, str, str]] = []  # event, side, organisation
        channels: dict[str, Sequence[Channel]] = {}
        for event, _ in events:
            what = _referral_event(event.type)
            side = AUDIENCE.get(what) if what else None
            organization = event.data.get(f"{side.value}_organization_id") if side else None
            if side is None or not organization:
                continue
            told.append((event, side.value, organization))
            if organization not in channels:
                try:
                    channels[organization] = self.channels.of(organization)
                except ChannelsUnavailable as exc:
                    raise TryLater(str(exc)) from exc
        now = self.now()
        taken = Taken()
        with self.store.transaction() as session:
            new = session.first_time([(event.id, event.type) for event, _ in events], now)
            every = [c for found in channels.values() for c in found]
            gone, paused = session.holds([c.id for c in every], [c.target for c in every]) if claim else ({}, set())
            for event, side_name, organization in told:
                if event.id not in new:
                    continue
                new.discard(event.id)  # the same event twice in one batch: once
                data: dict[str, Any] = event.data
                notice = {
                    "id": str(uuid.uuid4()),
                    "event_id": event.id,
                    "event_type": event.type,
                    "organization_id": organization,
                    "side": side_name,
                    "referral_id": data["referral_id"],
                    "legal_domain": data["legal_domain"],
                    "region_key": data["region_key"],
                    "referral_status": data["status"],
                    "urgency": data.get("urgency"),
                    "created_at": now,
                    "request_id": event.requestid,
                }
                session.add_notification(notice)
                rows: list[Row] = []
                for c in channels[organization]:
                    row = {
                        "id": str(uuid.uuid4()),
                        "notification_id": notice["id"],
                        "channel_id": c.id,
                        "channel_revision": c.revision,
                        "kind": c.kind.value,
                        "target": c.target,
                        "state": State.PENDING.value,
                        "attempts": 0,
                        "next_due_at": now,
                        "lease_until": None,
                        "kicked_at": now,  # the caller sends the jobs once this commits
                        "created_at": now,
                        "updated_at": now,
                    }
                    held = c.target in paused or gone.get(c.id, -1) >= c.revision
                    if len(taken.claimed) < claim and not held:
                        row.update(state=State.DELIVERING.value, attempts=1, lease_until=now + self.lease)
                        row.update(kicked_at=None)
                        taken.claimed.append(_as_claimed(row, notice, gone.get(c.id)))
                    else:
                        taken.waiting.append(row["id"])
                    rows.append(row)
                session.add_deliveries(rows)
        return taken


def _as_claimed(row: Row, notice: Row, gone_revision: int | None) -> Row:
    """A delivery just made and claimed, with what a claim reads besides (see ``NotifySession.claim``)."""
    keep = ("event_id", "event_type", "organization_id", "side", "referral_id", "legal_domain", "region_key")
    return {
        **row,
        "last_status": None,
        "last_error": None,
        "delivered_at": None,
        **{name: notice[name] for name in keep},
        "referral_status": notice["referral_status"],
        "urgency": notice["urgency"],
        "notified_at": notice["created_at"],
        "request_id": notice["request_id"],
        "gone_revision": gone_revision,
        "paused_until": None,
        "pause_failures": None,
    }


def _referral_event(event_type: str) -> ReferralEvent | None:
    aggregate, _, name = event_type.partition(".")
    if aggregate != "referral" or name not in ReferralEvent._value2member_map_:
        log.info("notify ignores %s", event_type)
        return None
    return ReferralEvent(name)
