"""Notify's HTTP server (:class:`lotse_kit.server.ServiceServer`) and what each process runs beside it."""

from flask import Flask
from lotse_kit.server import ServiceServer

from lotse_notify.bootstrap import container_of
from lotse_notify.entrypoints.web import create_app
from lotse_notify.settings import Settings


def _started(app: Flask) -> None:
    container_of(app).start_background("serve")


def _stopping(app: Flask) -> None:
    container_of(app).stop_background()


def notify_server(settings: Settings) -> ServiceServer:
    return ServiceServer(
        lambda: create_app(settings),
        f"{settings.host}:{settings.port}",
        settings.workers,
        settings.threads,
        _started,
        _stopping,
    )
