"""What notify's use cases need from the outside: the directory's channels, a store, senders and a job queue."""

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from lotse_contracts import EventEnvelope
from lotse_kit.errors import PeerAway

from lotse_notify.domain.channels import Channel
from lotse_notify.domain.delivery import Attempt
from lotse_notify.domain.messages import Notice

Row = dict[str, Any]


class ChannelsUnavailable(PeerAway):
    """The directory, which keeps the channels, did not answer."""


class Channels(Protocol):
    def of(self, organization_id: str) -> Sequence[Channel]:
        """The organisation's webhook and e-mail channels in use (the inbox is implied)."""
        ...

    def manageable(self, token: str, channel_id: str) -> str | None:
        """The channel's organisation if the caller (by their token) may manage the channel, else None; the
        channels are read afresh afterwards."""
        ...


class Sender(Protocol):
    def send(self, channel: Channel, notice: Notice) -> Attempt:
        """One attempt to deliver; what the receiver answered (never raises for the receiver's faults)."""
        ...


class Jobs(Protocol):
    def send(self, delivery_ids: Sequence[str]) -> None:
        """Ask a worker to attempt these deliveries (lost requests are made good by the sweep)."""
        ...


class NotifySession(Protocol):
    def first_time(self, events: Sequence[tuple[str, str]], at: datetime) -> set[str]:
        """Note the events (id, type) as taken in; the ids of those not taken in before (for the others
        nothing is to be done)."""
        ...

    def add_notification(self, row: Row) -> None: ...

    def add_deliveries(self, rows: Sequence[Row]) -> None: ...

    def holds(self, channel_ids: Sequence[str], targets: Sequence[str]) -> tuple[dict[str, int], set[str]]:
        """Of these channels, those whose endpoint answered ``410 Gone`` (with the channel revision it answered
        it to); of these targets, those paused (waiting for their pause to end or a probe)."""
        ...

    def claim(self, delivery_id: str, now: datetime, lease_until: datetime) -> Row | None:
        """Take a delivery that is due (or whose worker's lease ran out) for one attempt: count the attempt
        and hold it until ``lease_until``. The delivery joined with its notification, as ``gone_revision``
        the revision of its channel whose endpoint answered ``410 Gone``, and as ``paused_until`` and
        ``pause_failures`` its target's pause (None if none); or None if it is not to be attempted now
        (done, not due, held by another worker)."""
        ...

    def finish(self, delivery_id: str, attempts: int, changes: Row) -> bool:
        """Record an attempt's result, unless the delivery was taken again meanwhile (its lease ran out)."""
        ...

    def mark_gone(self, channel_id: str, revision: int, at: datetime, detail: str) -> None: ...

    def take_probe(self, target: str, now: datetime, until: datetime) -> bool:
        """Whether this attempt probes the paused ``target`` (its pause has ended and no other attempt took
        the probe); if so, the others wait until ``until``."""
        ...

    def pause(self, target: str, failures: int, at: datetime, until: datetime, detail: str) -> None:
        """Deliveries to ``target`` wait until ``until``: it gave no answer ``failures`` times in a row."""
        ...

    def resume(self, target: str, now: datetime, waited_until: datetime) -> None:
        """``target`` answers again: its pause ends, and deliveries to it due by ``waited_until`` (those that
        waited for the probe) are due at ``now``."""
        ...

    def paused(self) -> list[Row]:
        """Every paused endpoint, the longest quiet first, with how many deliveries wait for it."""
        ...

    def due(self, now: datetime, kicked_before: datetime, limit: int) -> list[str]:
        """Deliveries to be attempted now, for which no job was sent since ``kicked_before``; noted as sent."""
        ...

    def dead(self, limit: int, offset: int) -> tuple[list[Row], int]: ...

    def redrive(self, delivery_id: str, now: datetime) -> bool:
        """A dead delivery pending again, with its attempts counted afresh."""
        ...

    def inbox(self, organization_id: str, unread_only: bool, limit: int, offset: int) -> tuple[list[Row], int]: ...

    def mark_read(self, organization_id: str, ids: Sequence[str] | None, by: str, at: datetime) -> int:
        """Mark these (or all) unread notifications of the organisation read; how many were."""
        ...

    def add_event(self, event: EventEnvelope, routing_key: str) -> None: ...


class NotifyStore(Protocol):
    def transaction(self) -> AbstractContextManager[NotifySession]: ...
