"""The one place that builds notify's adapters and use cases from settings, and says what runs in which process.

Embedded mode (no ``LOTSE_AMQP_URL``): the serving process does everything — it reads routing's change feed
into the intake, delivers on a few threads, sweeps what is due again, and reads the directory's change feed
into the channel cache. Scale mode: ``consume`` takes referral events from RabbitMQ (those that wait, in
one transaction) and makes each new delivery's first attempt itself while it has room; Celery workers make
the rest and every retry; both relay the reports they wrote; beat runs the sweep; ``serve`` answers the API.
"""

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from lotse_contracts import EventEnvelope
from lotse_contracts.events import DEAD_LETTERS
from lotse_kit.feed import FeedReader, HttpFeed, KeptCursor
from lotse_kit.metrics import Collector, Gauges, GaugesCollector, OutboxCollector, histogram
from lotse_kit.outbox import InProcessBus, Publisher, RelayWorker, SqlOutbox
from lotse_kit.periodic import Periodic
from lotse_kit.probes import Check, service_checks
from lotse_kit.sql import is_current, make_engine, upgrade
from lotse_kit.tokens import TokenVerifier
from sqlalchemy import Engine

from lotse_notify.adapters.directory_client import CachedChannels, HttpChannels
from lotse_notify.adapters.jobs.in_process import ThreadJobs
from lotse_notify.adapters.ports import Jobs, Sender
from lotse_notify.adapters.senders.email import SmtpSender
from lotse_notify.adapters.senders.webhook import WebhookSender
from lotse_notify.adapters.storage.sql_store import SqlNotifySession, SqlNotifyStore
from lotse_notify.adapters.storage.tables import feed_cursor, outbox
from lotse_notify.domain.channels import Kind
from lotse_notify.domain.delivery import Pauses, State
from lotse_notify.settings import Settings
from lotse_notify.use_cases.deliveries import Deliveries
from lotse_notify.use_cases.inbox import Inbox
from lotse_notify.use_cases.intake import Intake

if TYPE_CHECKING:
    from flask import Flask
    from lotse_kit.rabbitmq import RabbitMqSubscriber

SERVICE_SUBJECT = "service:lotse-notify"
ROUTING_FEED = "routing"

Process = Literal["serve", "consume", "deliver"]
"""``deliver`` is each child process of the Celery worker's prefork pool (its parent runs nothing of its own:
no threads before it forks), or the worker's one process with the threads pool."""


@dataclass
class Container:
    settings: Settings
    engine: Engine
    store: SqlNotifyStore
    verifier: TokenVerifier
    channels: CachedChannels
    intake: Intake
    deliveries: Deliveries
    inbox: Inbox
    outbox: SqlOutbox
    relay: RelayWorker
    jobs: Jobs
    """Embedded: threads of this process (:class:`ThreadJobs`); scale: Celery tasks."""
    attempts: ThreadJobs
    """First attempts at the deliveries this process took in: embedded, the same threads as ``jobs``; scale
    mode, threads of the ``consume`` process (started there only)."""
    token: Callable[[], str]
    background: list[Any] = field(default_factory=list)

    def on_event(self, event: EventEnvelope, routing_key: str) -> None:
        self.on_events([(event, routing_key)])

    def on_events(self, events: Sequence[tuple[EventEnvelope, str]]) -> None:
        """Referral events: their notifications and deliveries recorded in one transaction; then as many first
        attempts as this process has room for made here, and jobs sent for the rest."""
        taken = self.intake.take_all(events, claim=self.attempts.room())
        self.jobs.send(taken.waiting)
        self.attempts.run(functools.partial(self.deliveries.attempt_claimed, row) for row in taken.claimed)
        now = datetime.now(UTC)
        lag = histogram("lotse_notify_event_lag_seconds", "Time from a referral event's creation to notify's intake")
        for event, _ in events:
            lag.observe(max((now - datetime.fromisoformat(event.time)).total_seconds(), 0.0))

    def sweep(self) -> int:
        return self.deliveries.sweep(self.jobs)

    def checks(self, schema: bool = True) -> list[Check]:
        """What ``/ready`` asks: the database, and in scale mode the broker."""
        return service_checks("lotse_notify", self.engine, self.settings.amqp_url, schema)

    def collectors(self) -> list[Collector]:
        """What ``/metrics`` reads from the database: the outbox's backlog (delivery reports) and the
        deliveries by state (``dead`` ones wait for an admin's re-drive)."""

        def deliveries() -> Gauges:
            counts = {state.value: 0 for state in State} | self.store.delivery_counts()
            values: dict[tuple[str, ...], float] = {(state,): float(n) for state, n in counts.items()}
            return {"lotse_notify_deliveries": ("Deliveries by state", ("state",), values)}

        return [OutboxCollector("notify", self.outbox.backlog), GaugesCollector(deliveries)]

    def start_background(self, process: Process = "serve") -> None:
        s = self.settings
        found: list[Any] = [self.relay]  # the delivery reports (those of the first attempts, too)
        if not s.amqp_url:
            assert isinstance(self.jobs, ThreadJobs)
            directory, routing = self.directory_feed(), self.routing_feed()

            def feeds() -> None:
                """The directory's changes first, then routing's events: a referral made after its recipient
                changed a channel is taken in with the channel as changed (read on two clocks, the referral
                was at times taken in first, with the channels as they were, and missed the new one)."""
                try:
                    directory.poll()
                finally:
                    routing.poll()

            found += [
                self.jobs,
                Periodic("feeds", s.poll_seconds, feeds),
                Periodic("delivery-sweep", s.sweep_seconds, self.sweep),
            ]
        elif process in ("consume", "deliver"):
            from lotse_kit.rabbitmq import RabbitMqSubscriber

            if process == "consume":
                found.append(self.attempts)  # stopped after the consumers: what they took in is attempted
                found += [self.referral_subscriber() for _ in range(s.consumers)]
            found.append(
                RabbitMqSubscriber(
                    s.amqp_url,
                    f"lotse.notify.channels.{uuid.uuid4().hex[:12]}",
                    ["directory.#"],
                    self.channels.on_event,
                    transient=True,
                    on_connect=self.channels.forget,
                )
            )
        self.background = found
        for worker in found:
            worker.start()

    def stop_background(self) -> None:
        for worker in reversed(self.background):
            worker.stop()

    def referral_subscriber(self) -> "RabbitMqSubscriber":
        """Scale mode: referral events, from notify's durable queue (``LOTSE_NOTIFY_QUEUE``)."""
        from lotse_kit.rabbitmq import RabbitMqSubscriber

        s = self.settings
        assert s.amqp_url
        return RabbitMqSubscriber(
            s.amqp_url,
            s.queue,
            ["referral.#"],
            self.on_event,
            dead_letter_exchange=DEAD_LETTERS,
            batch_handler=self.on_events,  # the events that wait, in one transaction
        )

    def routing_feed(self) -> FeedReader:
        """Embedded mode: routing's events, every one, from where notify read up to last time."""
        kept = KeptCursor(self.engine, feed_cursor, ROUTING_FEED)
        read = HttpFeed(self.settings.routing_url, self.token)
        return FeedReader(read, self._referral_events_only, catch_up=True, cursor=kept.load(), save=kept.save)

    def directory_feed(self) -> FeedReader:
        read = HttpFeed(self.settings.directory_url, self.token)
        return FeedReader(read, self.channels.on_event, catch_up=False, on_reset=self.channels.forget)

    def _referral_events_only(self, event: EventEnvelope, routing_key: str) -> None:
        if routing_key.startswith("referral."):
            self.on_event(event, routing_key)

    def migrate(self) -> None:
        upgrade("lotse_notify", self.engine)

    def schema_current(self) -> bool:
        return is_current("lotse_notify", self.engine)


EXTENSION = "lotse.notify"


def container_of(app: "Flask") -> Container:
    container: Container = app.extensions[EXTENSION]
    return container


def build(settings: Settings, publisher: Publisher | None = None) -> Container:
    engine = make_engine(settings.database_url)
    store = SqlNotifyStore(engine)
    token = settings.auth.service_token(settings.service_token, SERVICE_SUBJECT, "Lotse notify")
    channels = CachedChannels(HttpChannels(settings.directory_url, token), settings.channels_cache_seconds)
    senders: dict[Kind, Sender] = {
        Kind.WEBHOOK: WebhookSender(settings.webhook_timeout_seconds, settings.webhook_targets),
        Kind.EMAIL: SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_from,
            settings.smtp_user,
            settings.smtp_password,
            settings.smtp_starttls,
        ),
    }
    page = settings.referral_page_url
    deliveries = Deliveries(
        store,
        channels,
        senders,
        link=lambda referral_id: page.replace("{id}", str(referral_id)),
        retries=settings.retries,
        # while one attempt probes a paused endpoint, the others wait out its connect and answer timeouts
        pauses=Pauses(probe=min(settings.webhook_timeout_seconds, 3.0) + settings.webhook_timeout_seconds + 2),
        lease=timedelta(seconds=settings.lease_seconds),
    )
    events = SqlOutbox(engine, outbox)
    if publisher is None:
        if settings.amqp_url:
            from lotse_kit.rabbitmq import RabbitMqEventPublisher

            publisher = RabbitMqEventPublisher(settings.amqp_url)
        else:
            publisher = InProcessBus()  # nobody in this process listens: routing reads notify's feed
    # Delivery reports: the receiver has been told already, so a report may wait 50 ms to share a pass (and
    # the broker's confirm) with the reports of other deliveries finishing meanwhile.
    relay = RelayWorker(events, publisher, linger=0.05)

    def wake_relay(session: SqlNotifySession) -> None:
        if session.events:
            relay.wake()

    store.after_commit(wake_relay)
    jobs: Jobs
    attempts = ThreadJobs(deliveries.attempt, settings.delivery_threads)
    if settings.amqp_url:
        from lotse_notify.adapters.jobs.celery_app import CeleryJobs, make_celery

        broker = settings.celery_broker_url or settings.amqp_url  # the same broker unless set apart
        schedule = settings.var_dir / "celerybeat-schedule"
        jobs = CeleryJobs(make_celery(broker, f"{settings.queue}.deliveries", settings.sweep_seconds, schedule))
    else:
        jobs = attempts
    return Container(
        settings=settings,
        engine=engine,
        store=store,
        verifier=settings.auth.verifier(),
        channels=channels,
        intake=Intake(store, channels, lease=deliveries.lease),
        deliveries=deliveries,
        inbox=Inbox(store),
        outbox=events,
        relay=relay,
        jobs=jobs,
        attempts=attempts,
        token=token,
    )
