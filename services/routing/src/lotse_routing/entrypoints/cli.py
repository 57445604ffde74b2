"""Command line of the routing service: database, data keys, reminders, retention, serve."""

import click
from cryptography.fernet import Fernet
from lotse_kit.logs import configure_logging
from lotse_kit.progress import ProgressBar

from lotse_routing.bootstrap import Container, build
from lotse_routing.settings import Settings


def _container() -> Container:
    return build(Settings.from_env())


@click.group()
def main() -> None:
    """Lotse routing (Zuständigkeit und Vermittlungen)."""
    configure_logging("routing")


@main.group()
def db() -> None:
    """The routing database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema."""
    container = _container()
    container.migrate()
    click.echo(f"database ready: {container.engine.url.render_as_string(hide_password=True)}")


@main.group()
def keys() -> None:
    """The keys that encrypt clients' data at rest."""


@keys.command("new")
def keys_new() -> None:
    """Print a new key: put it first in LOTSE_ROUTING_DATA_KEYS, keep the old ones after it, then rotate."""
    click.echo(Fernet.generate_key().decode())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored value with the newest key (after which the older keys can be removed)."""
    container = _container()
    total, waiting = 0, container.referrals.sealed_with_older_keys()
    with ProgressBar("values re-encrypted") as bar:
        while done := container.referrals.reseal():
            total += done
            bar(total, max(waiting, total))
    click.echo(f"re-encrypted {total} value(s) with key {container.referrals.sealer.current}")


@main.group()
def reminders() -> None:
    """Reminders of referrals not acknowledged in time."""


@reminders.command("sweep")
def reminders_sweep() -> None:
    """Emit the reminders that are due now (the server does this every LOTSE_ROUTING_SWEEP_SECONDS)."""
    container = _container()
    click.echo(f"{container.referrals.sweep_reminders()} reminder(s) due; the server's relay publishes them")


@main.group()
def retention() -> None:
    """Erasing clients' data after the retention period."""


@retention.command("erase")
def retention_erase() -> None:
    """Erase the client data of referrals closed more than LOTSE_ROUTING_RETENTION_DAYS ago (the server does
    this every LOTSE_ROUTING_SWEEP_SECONDS)."""
    container = _container()
    total = 0
    while done := container.referrals.erase_expired():
        total += done
    days = container.settings.retention_days
    click.echo(f"erased the client data of {total} referral(s) closed over {days} days ago")


@main.command("serve")
def serve() -> None:
    """Serve the routing API (gunicorn: LOTSE_ROUTING_WORKERS processes) on LOTSE_ROUTING_HOST:PORT."""
    from lotse_routing.entrypoints.server import routing_server

    settings = Settings.from_env()
    if not build(settings).schema_current():
        raise click.ClickException("the database is not at the newest schema: run `lotse-routing db upgrade` first")
    url = f"http://{settings.host}:{settings.port}"
    click.echo(f"Lotse routing: {url}/docs (API {url}/api/v1, OpenAPI {url}/openapi.json)")
    routing_server(settings).run()
