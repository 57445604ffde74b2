"""Delivering notifications: one attempt at a time per delivery (claimed with a lease), its result recorded
with the next attempt's due time, a report event when it was delivered or given up; webhook endpoints that
give no answer paused, so that deliveries to them wait instead of each holding a worker until the timeout;
the sweep that sends what is due again; the operator's list of dead deliveries and their re-drive."""

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from lotse_contracts import EventEnvelope, routing_key
from lotse_kit.logs import handling

from lotse_notify.adapters.ports import (
    Channels,
    ChannelsUnavailable,
    Jobs,
    NotifySession,
    NotifyStore,
    Row,
    Sender,
)
from lotse_notify.domain.channels import Channel, Kind
from lotse_notify.domain.delivery import Attempt, Pauses, Retries, State
from lotse_notify.domain.messages import Notice, test_notice

log = logging.getLogger(__name__)

SOURCE = "lotse.notify"


@dataclass
class Deliveries:
    store: NotifyStore
    channels: Channels
    senders: Mapping[Kind, Sender]
    link: Callable[[str], str]
    """The URL at which staff open a referral (by its id)."""
    retries: Retries = field(default_factory=Retries)
    pauses: Pauses = field(default_factory=Pauses)
    lease: timedelta = timedelta(seconds=60)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def attempt(self, delivery_id: str) -> State | None:
        """Make one attempt if the delivery is due and its endpoint not paused; its state afterwards (None:
        not attempted now)."""
        now = self.now()
        with self.store.transaction() as session:
            row = session.claim(delivery_id, now, now + self.lease)
            if row is not None and (wait := self._paused(session, row, now)) is not None:
                # not attempted after all: due when the pause ends, the attempt not spent
                state = State.FAILED if row["attempts"] > 1 else State.PENDING
                due = self.pauses.due_after(wait)
                waiting = {"state": state.value, "attempts": row["attempts"] - 1, "next_due_at": due, "updated_at": now}
                session.finish(delivery_id, row["attempts"], waiting)
                return None
        return None if row is None else self.attempt_claimed(row)

    def attempt_claimed(self, row: Row) -> State | None:
        """The attempt at a delivery claimed already (``row`` as the claim, or the intake, gave it); its
        state afterwards (None: it was taken again meanwhile)."""
        with handling(row["request_id"], delivery_id=row["id"]):  # the report it writes carries it on, too
            return self._attempted(row["id"], row)

    def _attempted(self, delivery_id: str, row: Row) -> State | None:
        channel, attempt, outcome = self._try(row)
        done = self.now()
        state, next_due = self.retries.after(attempt, row["attempts"], done)
        changes: dict[str, Any] = {
            "state": state.value,
            "next_due_at": next_due,
            "last_status": attempt.status,
            "last_error": None if attempt.ok else attempt.detail,
            "updated_at": done,
        }
        if channel is not None and channel.target != row["target"]:
            changes["target"] = channel.target  # a maintainer corrected it meanwhile
        if attempt.ok:
            changes["delivered_at"] = done
        with self.store.transaction() as session:
            if not session.finish(delivery_id, row["attempts"], changes):
                log.warning("delivery %s was taken again while attempted (lease ran out)", delivery_id)
                return None
            if attempt.gone and channel is not None and outcome == "endpoint_gone":
                session.mark_gone(channel.id, channel.revision, done, attempt.detail)
            if attempt.unanswered:
                failures = (row["pause_failures"] or 0) + 1
                until = done + self.pauses.length(failures)
                session.pause(row["target"], failures, done, until, attempt.detail)
                log.warning(
                    "webhook endpoint at %s gave no answer (%s, %d time(s) in a row); deliveries to it wait until %s",
                    urlsplit(row["target"]).netloc,
                    attempt.detail,
                    failures,
                    until.isoformat(timespec="seconds"),
                )
            elif row["paused_until"] is not None and attempt.status is not None:
                session.resume(row["target"], done, self.pauses.probe_waiters_due_by(done))  # it answers again
            if state in (State.DELIVERED, State.DEAD):
                session.add_event(*_report(row, state, outcome, row["attempts"]))
        if state is State.DEAD:
            log.error(
                "delivery %s (%s) gave up after %d attempt(s): %s", delivery_id, row["kind"], row["attempts"], outcome
            )
        else:
            log.info("delivery %s (%s, attempt %d): %s", delivery_id, row["kind"], row["attempts"], state.value)
        return state

    def _paused(self, session: NotifySession, row: Row, now: datetime) -> datetime | None:
        """Until when the claimed delivery's endpoint is paused; None if it is to be attempted now (not
        paused, or this attempt probes it after its pause)."""
        until: datetime | None = row["paused_until"]
        if until is None:
            return None
        if until > now:
            return until
        probe_until = now + timedelta(seconds=self.pauses.probe)
        return None if session.take_probe(row["target"], now, probe_until) else probe_until

    def _try(self, row: Row) -> tuple[Channel | None, Attempt, str]:
        """The channel as it is now, the attempt's result and the outcome it would mean."""
        try:
            channel = next((c for c in self.channels.of(row["organization_id"]) if c.id == row["channel_id"]), None)
        except ChannelsUnavailable as exc:
            return None, Attempt(ok=False, detail=f"Verzeichnis nicht erreichbar: {exc}"), "attempts_exhausted"
        if channel is None:
            return None, Attempt(ok=False, detail="Kanal entfernt oder abgeschaltet", gone=True), "channel_removed"
        gone = row["gone_revision"]
        if gone is not None and gone >= channel.revision:
            return channel, Attempt(ok=False, detail="Endpunkt meldete 410 Gone", gone=True), "endpoint_gone"
        attempt = self.senders[channel.kind].send(channel, self._notice(row))
        if attempt.ok:
            return channel, attempt, "delivered"
        return channel, attempt, "endpoint_gone" if attempt.gone else "attempts_exhausted"

    def _notice(self, row: Row) -> Notice:
        return Notice(
            delivery_id=row["id"],
            event_id=row["event_id"],
            event_type=row["event_type"],
            referral_id=row["referral_id"],
            legal_domain=row["legal_domain"],
            region_key=row["region_key"],
            referral_status=row["referral_status"],
            urgency=row["urgency"],
            side=row["side"],
            created_at=row["notified_at"],
            link=self.link(row["referral_id"]),
        )

    def send_test(self, token: str, channel_id: str) -> Attempt | None:
        """One test message over the channel, now, for someone who manages it (None: no such channel for
        them): whether the endpoint or mailbox takes it. It is no notification: nothing is kept or retried,
        and a paused endpoint is tried all the same."""
        organization_id = self.channels.manageable(token, channel_id)
        if organization_id is None:
            return None
        channel = next((c for c in self.channels.of(organization_id) if c.id == channel_id), None)
        if channel is None:  # switched off
            return Attempt(ok=False, detail="Kanal abgeschaltet")
        return self.senders[channel.kind].send(channel, test_notice(f"test_{uuid.uuid4().hex}", self.now()))

    def sweep(self, jobs: Jobs, limit: int = 500) -> int:
        """Send a job for every delivery due now (a retry, a job that was lost, a lease run out) for which
        none was sent within the lease; how many were sent."""
        now = self.now()
        with self.store.transaction() as session:
            ids = session.due(now, now - self.lease, limit)
        jobs.send(ids)
        return len(ids)

    def paused(self) -> list[Row]:
        with self.store.transaction() as session:
            return session.paused()

    def dead(self, limit: int = 100, offset: int = 0) -> tuple[list[Row], int]:
        with self.store.transaction() as session:
            return session.dead(limit, offset)

    def redrive(self, delivery_id: str, jobs: Jobs) -> bool:
        """A dead delivery tried again from the start (also a gone endpoint); False if it is not dead."""
        with self.store.transaction() as session:
            again = session.redrive(delivery_id, self.now())
        if again:
            jobs.send([delivery_id])
        return again


def _report(row: Row, state: State, outcome: str, attempts: int) -> tuple[EventEnvelope, str]:
    name = "delivered" if state is State.DELIVERED else "failed"
    event = EventEnvelope(
        type=f"notification.{name}",
        source=SOURCE,
        data={
            "delivery_id": row["id"],
            "notification_id": row["notification_id"],
            "referral_event_id": row["event_id"],
            "referral_event_type": row["event_type"],
            "referral_id": row["referral_id"],
            "organization_id": row["organization_id"],
            "side": row["side"],
            "channel_kind": row["kind"],
            "attempts": attempts,
            "legal_domain": row["legal_domain"],
            "region_key": row["region_key"],
            "outcome": outcome,
        },
    )
    return event, routing_key("notification", name, row["legal_domain"], row["region_key"])
