"""The directory's HTTP server (:class:`lotse_kit.server.ServiceServer`) and what each process runs beside it.

Each process builds its own container: database connections, the embedded index's columns, an outbox
relay (relays in several processes share the outbox safely, see :mod:`lotse_kit.outbox`) and the writer
of the searches that found nothing (:class:`~lotse_directory.use_cases.search.MissLog`).
"""

from flask import Flask
from lotse_kit.server import ServiceServer

from lotse_directory import create_app
from lotse_directory.bootstrap import container_of
from lotse_directory.settings import Settings


def _started(app: Flask) -> None:
    container = container_of(app)
    container.relay.start()
    container.search_use_case.miss_log.start()
    container.search.warm()  # ready before the first search waits (the embedded engine loads its columns)


def _stopping(app: Flask) -> None:
    container = container_of(app)
    container.search_use_case.miss_log.stop()
    container.relay.stop()


def directory_server(settings: Settings) -> ServiceServer:
    return ServiceServer(
        lambda: create_app(settings),
        f"{settings.host}:{settings.port}",
        settings.workers,
        settings.threads,
        _started,
        _stopping,
    )
