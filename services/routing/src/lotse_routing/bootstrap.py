"""The one place that builds routing's adapters and use cases from settings."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import holidays
from flask import Flask
from lotse_contracts.events import DEAD_LETTERS
from lotse_kit.feed import FeedReader, HttpFeed, KeptCursor
from lotse_kit.metrics import Collector, Gauges, GaugesCollector, OutboxCollector
from lotse_kit.outbox import InProcessBus, Publisher, RelayWorker, SqlOutbox
from lotse_kit.periodic import Periodic
from lotse_kit.probes import Check, service_checks
from lotse_kit.sealing import FernetSealer
from lotse_kit.sql import is_current, make_engine, upgrade
from lotse_kit.tokens import TokenVerifier
from sqlalchemy import Engine

from lotse_routing.adapters.directory_client import CachedDirectory, HttpDirectory
from lotse_routing.adapters.storage.sql_store import SqlReferralSession, SqlReferralStore
from lotse_routing.adapters.storage.tables import feed_cursor, outbox
from lotse_routing.settings import Settings
from lotse_routing.use_cases.audit import AuditTrail
from lotse_routing.use_cases.figures import Figures
from lotse_routing.use_cases.notifications import DeliveryReports
from lotse_routing.use_cases.referrals import Referrals
from lotse_routing.use_cases.responsibility import Responsibility
from lotse_routing.use_cases.subject_access import SubjectAccess

SERVICE_SUBJECT = "service:lotse-routing"
if TYPE_CHECKING:
    from lotse_kit.rabbitmq import RabbitMqSubscriber

NOTIFY_FEED = "notify"
REPORT_QUEUE = "lotse.routing.notifications"
"""Scale mode: routing's durable queue of notify's delivery reports (declared so in deploy/rabbitmq)."""


@dataclass
class Container:
    settings: Settings
    engine: Engine
    store: SqlReferralStore
    verifier: TokenVerifier
    directory: CachedDirectory
    directory_changes: FeedReader
    """Without a broker: the directory's change feed, read into the cache."""
    responsibility: Responsibility
    referrals: Referrals
    figures: Figures
    audit: AuditTrail
    subject_access: SubjectAccess
    reports: DeliveryReports
    token: Callable[[], str]
    outbox: SqlOutbox
    bus: InProcessBus
    """Embedded mode: routing's events go to subscribers in this process (and directory events come in)."""
    publisher: Publisher
    relay: RelayWorker
    background: list[Any] = field(default_factory=list)

    def checks(self, schema: bool = True) -> list[Check]:
        """What ``/ready`` asks: the database, and in scale mode the broker."""
        return service_checks("lotse_routing", self.engine, self.settings.amqp_url, schema)

    def collectors(self) -> list[Collector]:
        """What ``/metrics`` reads from the database: the outbox's backlog and the open reminders."""

        def reminders() -> Gauges:
            counts = self.store.reminder_counts(datetime.now(UTC))
            return {
                "lotse_routing_reminders": (
                    "Open acknowledgement reminders: due (not yet sent by the sweep) or overdue (sent)",
                    ("state",),
                    {(state,): float(n) for state, n in counts.items()},
                )
            }

        return [OutboxCollector("routing", self.outbox.backlog), GaugesCollector(reminders)]

    def start_background(self) -> None:
        """In a serving process: relay the outbox, sweep reminders, and hear directory changes (from the
        broker in scale mode, else from the directory's change feed)."""
        s = self.settings
        self.background = [
            self.relay,
            Periodic("reminder-sweep", s.sweep_seconds, self.referrals.sweep_reminders),
            Periodic("retention", s.sweep_seconds, self.referrals.erase_expired),
        ]
        if not s.amqp_url:
            self.background += [
                Periodic("directory-changes", s.directory_poll_seconds, self.directory_changes.poll),
                Periodic("notify-feed", s.directory_poll_seconds, self.notify_feed().poll),
            ]
        else:
            from lotse_kit.rabbitmq import RabbitMqSubscriber

            self.background.append(self.report_subscriber())
            self.background.append(
                RabbitMqSubscriber(
                    s.amqp_url,
                    f"lotse.routing.directory-cache.{uuid.uuid4().hex[:12]}",
                    ["directory.#"],
                    self.directory.on_event,
                    transient=True,
                    on_connect=self.directory.forget,
                )
            )
        for worker in self.background:
            worker.start()

    def report_subscriber(self) -> "RabbitMqSubscriber":
        """Scale mode: notify's delivery reports, from routing's durable queue."""
        from lotse_kit.rabbitmq import RabbitMqSubscriber

        assert self.settings.amqp_url
        url, reports = self.settings.amqp_url, self.reports
        return RabbitMqSubscriber(
            url,
            REPORT_QUEUE,
            ["notification.#"],
            reports.record,
            dead_letter_exchange=DEAD_LETTERS,
            batch_handler=reports.record_all,  # the reports that wait, in one transaction
        )

    def notify_feed(self) -> FeedReader:
        """Embedded mode: notify's delivery reports, every one, from where routing read up to last time."""
        kept = KeptCursor(self.engine, feed_cursor, NOTIFY_FEED)
        read = HttpFeed(self.settings.notify_url, self.token)
        return FeedReader(read, self.reports.record, catch_up=True, cursor=kept.load(), save=kept.save)

    def stop_background(self) -> None:
        for worker in reversed(self.background):
            worker.stop()

    def migrate(self) -> None:
        upgrade("lotse_routing", self.engine)
        while self.referrals.seal_plain_topics():  # topics stored in the clear before topics were sealed
            pass
        while self.referrals.index_clients():  # referrals stored before the client index (migration 0006)
            pass

    def schema_current(self) -> bool:
        return is_current("lotse_routing", self.engine)


EXTENSION = "lotse.routing"


def container_of(app: Flask) -> Container:
    container: Container = app.extensions[EXTENSION]
    return container


def nrw_holiday() -> Callable[..., bool]:
    days = holidays.country_holidays("DE", subdiv="NW")
    return lambda day: day in days


def build(settings: Settings, publisher: Publisher | None = None) -> Container:
    engine = make_engine(settings.database_url)
    store = SqlReferralStore(engine)
    token = settings.auth.service_token(settings.directory_token, SERVICE_SUBJECT, "Lotse routing")
    origin = HttpDirectory(settings.directory_url, token, pool_size=settings.threads * 2)
    directory = CachedDirectory(origin, max_age=settings.directory_cache_seconds)
    responsibility = Responsibility(directory)
    events = SqlOutbox(engine, outbox)
    bus = InProcessBus()
    bus.subscribe("directory.#", directory.on_event)
    if publisher is None:
        if settings.amqp_url:
            from lotse_kit.rabbitmq import RabbitMqEventPublisher

            publisher = RabbitMqEventPublisher(settings.amqp_url)
        else:
            publisher = bus
    relay = RelayWorker(events, publisher)

    def wake_relay(session: SqlReferralSession) -> None:
        if session.events:
            relay.wake()

    store.after_commit(wake_relay)
    referrals = Referrals(
        store=store,
        responsibility=responsibility,
        directory=directory,
        sealer=FernetSealer(settings.keys()),
        is_holiday=nrw_holiday(),
        acknowledge_within_days=settings.acknowledge_within_days,
        retention_days=settings.retention_days,
    )
    return Container(
        settings=settings,
        engine=engine,
        store=store,
        verifier=settings.auth.verifier(),
        directory=directory,
        directory_changes=FeedReader(
            HttpFeed(settings.directory_url, token), directory.on_event, catch_up=False, on_reset=directory.forget
        ),
        responsibility=responsibility,
        referrals=referrals,
        figures=Figures(store),
        audit=AuditTrail(store),
        subject_access=SubjectAccess(referrals),
        reports=DeliveryReports(store),
        token=token,
        outbox=events,
        bus=bus,
        publisher=publisher,
        relay=relay,
    )
