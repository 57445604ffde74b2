"""The one place that builds the directory's adapters and use cases from settings."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask import Flask
from lotse_kit.metrics import Collector, Gauges, GaugesCollector, OutboxCollector
from lotse_kit.outbox import InProcessBus, Publisher, RelayWorker, SqlOutbox
from lotse_kit.probes import Check, broker_check, service_checks
from lotse_kit.sealing import FernetSealer
from lotse_kit.sql import is_current, make_engine, upgrade
from lotse_kit.tokens import TokenVerifier
from sqlalchemy import Connection, Engine

from lotse_directory.adapters.geocoding.gazetteer import (
    Gazetteer,
    GazetteerGeocoder,
    packaged_gazetteer,
)
from lotse_directory.adapters.jobs.celery_app import CeleryJobs, make_celery
from lotse_directory.adapters.search import elastic, postgres_fts, sqlite_fts
from lotse_directory.adapters.search.postgres_fts import PostgresSearch
from lotse_directory.adapters.search.sqlite_fts import SqliteSearch
from lotse_directory.adapters.storage.sql_store import SqlDirectoryStore, SqlStoreSession
from lotse_directory.adapters.storage.tables import outbox
from lotse_directory.domain.search.documents import SearchDocument
from lotse_directory.settings import Settings
from lotse_directory.use_cases.accounts import Accounts
from lotse_directory.use_cases.channels import NotificationChannels
from lotse_directory.use_cases.entries import Entries
from lotse_directory.use_cases.exchange import Exchange
from lotse_directory.use_cases.open_data import OpenData
from lotse_directory.use_cases.opening_hours import OpeningHours
from lotse_directory.use_cases.provider_links import ProviderLinks
from lotse_directory.use_cases.search import Search, SearchBackend
from lotse_directory.use_cases.search_indexing import Indexer, queue_changed, refresh_index
from lotse_directory.use_cases.users import UserAdministration
from lotse_directory.use_cases.verification import Verification


@dataclass
class Container:
    settings: Settings
    engine: Engine
    store: SqlDirectoryStore
    gazetteer: Gazetteer
    geocoder: Any  # a geopy Geocoder
    verifier: TokenVerifier
    entries: Entries
    exchange: Exchange
    verification: Verification
    opening_hours: OpeningHours
    accounts: Accounts
    """Embedded mode's logins (None issuer in scale mode: users log in at the OIDC provider)."""
    users: UserAdministration
    channels: NotificationChannels
    outbox: SqlOutbox
    bus: InProcessBus
    """Embedded mode's event bus: the outbox relay hands every directory event to its subscribers (in
    scale mode, ``LOTSE_AMQP_URL`` set, the relay publishes to RabbitMQ instead)."""
    relay: RelayWorker
    search: SearchBackend
    """Elasticsearch where ELASTICSEARCH_URL is set, else the database's own: SQLite's embedded index or
    PostgreSQL's full-text search (ADR 15)."""
    search_use_case: Search
    search_index: elastic.ElasticIndex | None
    """Scale mode (ELASTICSEARCH_URL set): the index, the job that keeps it current, the job queue."""
    indexer: Indexer | None
    jobs: CeleryJobs | None
    open_data: OpenData
    """The HSDS read API: public data only."""
    provider_links: ProviderLinks

    def checks(self, schema: bool = True) -> list[Check]:
        """What ``/ready`` asks: the database, the search engine (scale mode), the brokers events and indexing
        jobs go to (scale mode)."""
        s = self.settings
        found = service_checks("lotse_directory", self.engine, s.amqp_url, schema)
        if self.search_index is not None:
            found.append(Check("search", self.search_index.ready))
        if self.jobs is not None and s.celery_broker_url != s.amqp_url:
            found.append(broker_check(s.celery_broker_url, "job broker"))
        return found

    def collectors(self) -> list[Collector]:
        """What ``/metrics`` reads from the database: the outbox's backlog, and in scale mode the offers the
        search index has yet to catch up with."""
        found: list[Collector] = [OutboxCollector("directory", self.outbox.backlog)]
        if self.search_index is not None:

            def backlog() -> Gauges:
                waiting = float(self.store.indexing_backlog())
                return {
                    "lotse_directory_index_backlog": (
                        "Offers the search index has yet to catch up with",
                        (),
                        {(): waiting},
                    )
                }

            found.append(GaugesCollector(backlog))
        return found

    def migrate(self) -> None:
        upgrade("lotse_directory", self.engine)
        self.channels.seal_stored_secrets()  # those stored in the clear before secrets were sealed
        self.search_use_case.miss_log.hide_rare()  # the words of searches kept before they were withheld
        if self.engine.dialect.name == "postgresql":
            self._fill_or_empty_postgres_index()

    def _fill_or_empty_postgres_index(self) -> None:
        """PostgreSQL's index begins empty (migration 0017): fill it from the offers when it serves the search
        and is empty. While Elasticsearch serves, changes do not reach it: empty it, so that it is filled
        again if Elasticsearch is switched off."""
        with self.store.transaction(bulk=True) as session:
            conn = session.connection
            if self.search_index is not None:
                if not postgres_fts.index_is_empty(conn):
                    postgres_fts.clear(conn)
            elif postgres_fts.index_is_empty(conn):
                offers = [("service", row) for row in session.select("service", fields=("id",))]
                refresh_index(session, offers, self.gazetteer, partial(postgres_fts.write_documents, conn), {})

    def schema_current(self) -> bool:
        return is_current("lotse_directory", self.engine)


EXTENSION = "lotse.directory"
"""The app's key of its :class:`Container` in ``app.extensions``."""


def container_of(app: Flask) -> Container:
    """The container the app was made with (``current_app`` in a request)."""
    container: Container = app.extensions[EXTENSION]
    return container


def build_geocoder(settings: Settings, gazetteer: Gazetteer) -> Any:
    if settings.geocoder == "nominatim":
        from geopy.geocoders import Nominatim

        return Nominatim(domain=settings.nominatim_domain, user_agent=settings.nominatim_user_agent)
    if settings.geocoder != "gazetteer":
        raise ValueError(f"LOTSE_DIRECTORY_GEOCODER must be gazetteer or nominatim, not {settings.geocoder!r}")
    return GazetteerGeocoder(gazetteer)


IndexWrite = Callable[[Connection, Mapping[str, SearchDocument | None]], None]


def _database_search(engine: Engine) -> tuple[SearchBackend, IndexWrite]:
    """The search backend in the directory's own database, and what writes its index in a change's transaction."""
    if engine.dialect.name == "sqlite":
        return SqliteSearch(engine), sqlite_fts.write_documents
    if engine.dialect.name == "postgresql":
        return PostgresSearch(engine), postgres_fts.write_documents
    raise ValueError(f"no search backend for {engine.dialect.name} storage: set ELASTICSEARCH_URL")


def build(settings: Settings) -> Container:
    engine = make_engine(settings.database_url)
    store = SqlDirectoryStore(engine)
    gazetteer = packaged_gazetteer()
    entries = Entries(store, gazetteer)
    events = SqlOutbox(engine, outbox)
    bus = InProcessBus()
    publisher: Publisher = bus
    if settings.amqp_url:
        from lotse_kit.rabbitmq import RabbitMqEventPublisher

        publisher = RabbitMqEventPublisher(settings.amqp_url)
    relay = RelayWorker(events, publisher)

    def wake_relay(session: SqlStoreSession) -> None:
        if session.wrote_events:
            relay.wake()

    store.after_commit(wake_relay)
    search: SearchBackend
    search_index: elastic.ElasticIndex | None = None
    indexer: Indexer | None = None
    jobs: CeleryJobs | None = None
    if settings.elasticsearch_url:
        client = elastic.connect(settings.elasticsearch_url)
        search = elastic.ElasticSearch(client, settings.elasticsearch_index)
        search_index = elastic.ElasticIndex(client, settings.elasticsearch_index)
        indexer = Indexer(store, gazetteer, search_index)
        jobs = CeleryJobs(make_celery(settings.celery_broker_url, settings.celery_queue))
        send = jobs.index_services

        def queue_in_transaction(session: SqlStoreSession) -> None:
            queue_changed(session, session.touched)

        def send_after_commit(session: SqlStoreSession) -> None:
            send(session.queued_for_indexing)

        store.before_commit(queue_in_transaction)
        store.after_commit(send_after_commit)
    else:
        search, writer = _database_search(engine)

        def index_in_transaction(session: SqlStoreSession) -> None:
            write = partial(writer, session.connection)
            refresh_index(session, session.touched, gazetteer, write, session.documents)

        store.before_commit(index_in_transaction)
    open_data = OpenData(store, search, gazetteer)
    accounts = Accounts(store, None if settings.auth.scale_mode else settings.auth.embedded_issuer())
    return Container(
        settings=settings,
        engine=engine,
        store=store,
        gazetteer=gazetteer,
        geocoder=build_geocoder(settings, gazetteer),
        verifier=settings.auth.verifier(),
        entries=entries,
        exchange=Exchange(store, gazetteer, documents_in_transaction=search_index is None),
        verification=Verification(store, entries, settings.stale_after_days),
        opening_hours=OpeningHours(store, entries),
        accounts=accounts,
        users=UserAdministration(store, accounts, settings.link_key("password-link"), settings.auth.scale_mode),
        channels=NotificationChannels(
            store, FernetSealer(settings.keys(), "LOTSE_DIRECTORY_DATA_KEYS"), settings.webhook_targets
        ),
        outbox=events,
        bus=bus,
        relay=relay,
        search=search,
        search_use_case=Search(store, search, gazetteer, settings.stale_after_days, settings.miss_key()),
        search_index=search_index,
        indexer=indexer,
        jobs=jobs,
        open_data=open_data,
        provider_links=ProviderLinks(store, entries, open_data, settings.link_key(), settings.provider_link_days),
    )
