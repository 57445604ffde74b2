"""Command line of the web application."""

import click
from lotse_kit.logs import configure_logging
from lotse_kit.server import ServiceServer

from lotse_web.settings import Settings


@click.group()
def main() -> None:
    """Lotse web (die Browser-Anwendung)."""
    configure_logging("web")


@main.command("serve")
def serve() -> None:
    """Serve the browser application on LOTSE_WEB_HOST:PORT (gunicorn, LOTSE_WEB_WORKERS processes)."""
    from lotse_web import create_app

    settings = Settings.from_env()
    click.echo(f"Lotse im Browser: http://{settings.host}:{settings.port}/")
    ServiceServer(
        lambda: create_app(settings), f"{settings.host}:{settings.port}", settings.workers, settings.threads
    ).run()
