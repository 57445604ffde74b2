"""Routing's HTTP server (:class:`lotse_kit.server.ServiceServer`) and what each process runs beside it:
the outbox relay, the reminder sweep, and in scale mode the subscriber to directory changes."""

from flask import Flask
from lotse_kit.server import ServiceServer

from lotse_routing import create_app
from lotse_routing.bootstrap import container_of
from lotse_routing.settings import Settings


def _started(app: Flask) -> None:
    container_of(app).start_background()


def _stopping(app: Flask) -> None:
    container_of(app).stop_background()


def routing_server(settings: Settings) -> ServiceServer:
    return ServiceServer(
        lambda: create_app(settings),
        f"{settings.host}:{settings.port}",
        settings.workers,
        settings.threads,
        _started,
        _stopping,
    )
