"""Command line of the notify service: database, serve, consume, worker, beat, dead deliveries."""

import os
import signal
import sys
import threading

import click
from lotse_kit.logs import configure_logging

from lotse_notify.adapters.jobs.celery_app import CeleryJobs
from lotse_notify.bootstrap import Container, build
from lotse_notify.settings import Settings


def _container() -> Container:
    return build(Settings.from_env())


def _ready(container: Container) -> None:
    if not container.schema_current():
        raise click.ClickException("the database is not at the newest schema: run `lotse-notify db upgrade` first")


@click.group()
def main() -> None:
    """Lotse notify (Benachrichtigungen)."""
    configure_logging("notify")


@main.group()
def db() -> None:
    """The notify database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema."""
    container = _container()
    container.migrate()
    click.echo(f"database ready: {container.engine.url.render_as_string(hide_password=True)}")


CONSUMER_METRICS_PORT, BEAT_METRICS_PORT = 9103, 9105
"""Where ``consume`` and ``beat`` answer /health, /ready and /metrics by default (``LOTSE_METRICS_PORT``; the
worker's is in its module, the API serves them itself)."""


@main.command("serve")
def serve() -> None:
    """Serve the inbox API on LOTSE_NOTIFY_HOST:PORT; embedded mode (no LOTSE_AMQP_URL) also takes in routing's
    events and delivers in this process."""
    from lotse_notify.entrypoints.server import notify_server

    settings = Settings.from_env()
    _ready(build(settings))
    url = f"http://{settings.host}:{settings.port}"
    click.echo(f"Lotse notify: {url}/docs (API {url}/api/v1, OpenAPI {url}/openapi.json)")
    notify_server(settings).run()


@main.command("consume")
def consume() -> None:
    """Scale mode: take referral events from notify's RabbitMQ queue and send the delivery jobs."""
    container = _container()
    if not container.settings.amqp_url:
        raise click.ClickException("consume needs scale mode: set LOTSE_AMQP_URL")
    _ready(container)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from lotse_kit.probes import serve_probes_from_env
    from lotse_kit.rabbitmq import QueueDepths

    s = container.settings
    assert s.amqp_url
    depths = QueueDepths(s.amqp_url, [s.queue, f"{s.queue}.deliveries"])
    serve_probes_from_env(CONSUMER_METRICS_PORT, container.checks(), [*container.collectors(), depths])
    container.start_background("consume")
    click.echo(f"consuming {container.settings.queue}")
    stop.wait()
    container.stop_background()


@main.command("worker")
@click.option("--beat", is_flag=True, help="also run the sweep's schedule (one beat in the whole installation)")
@click.option(
    "--pool",
    type=click.Choice(["threads", "prefork"]),
    default="threads",
    show_default=True,
    help="threads of one process (half the memory) or child processes (keep up best while every core is busy)",
)
@click.option("--concurrency", type=int, help="deliveries attempted at once [default: 8 threads, 4 processes]")
def worker(beat: bool, pool: str, concurrency: int | None) -> None:
    """Scale mode: the Celery worker that delivers, ``concurrency`` attempts at once."""
    container = _container()
    if not isinstance(container.jobs, CeleryJobs):
        raise click.ClickException("the worker needs scale mode: set LOTSE_AMQP_URL")
    _ready(container)
    container.settings.var_dir.mkdir(parents=True, exist_ok=True)  # beat keeps its schedule's state there
    # This process has loaded the schema check's Alembic and more; it becomes a fresh interpreter that loads
    # only what delivering needs (same process id for supervisors).
    concurrency = concurrency or (8 if pool == "threads" else 4)
    argv = [sys.executable, "-m", "celery", "-A", "lotse_notify.entrypoints.worker", "worker", f"--pool={pool}"]
    argv += [f"--concurrency={concurrency}", "--loglevel=INFO", "--without-gossip", *(["--beat"] if beat else [])]
    # a node name of its own: several workers on one machine would else share one remote-control queue, which
    # only the first may hold
    argv.append(f"--hostname=lotse-notify-{os.getpid()}@%h")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)  # noqa: S606 (our own interpreter and fixed arguments, no shell)


@main.command("beat")
def beat() -> None:
    """Scale mode: Celery beat alone, sending the sweep every LOTSE_NOTIFY_SWEEP_SECONDS (run exactly one
    per installation, or one worker with --beat instead)."""
    container = _container()
    if not container.settings.amqp_url:
        raise click.ClickException("beat needs scale mode: set LOTSE_AMQP_URL")
    container.settings.var_dir.mkdir(parents=True, exist_ok=True)
    assert isinstance(container.jobs, CeleryJobs)
    from lotse_kit.probes import serve_probes_from_env

    serve_probes_from_env(BEAT_METRICS_PORT, container.checks(schema=False))
    container.jobs.app.start(["beat", "--loglevel=INFO"])


@main.command("sweep")
def sweep() -> None:
    """Send the deliveries due now (the server or beat does this every LOTSE_NOTIFY_SWEEP_SECONDS)."""
    container = _container()
    click.echo(f"{container.sweep()} delivery job(s) sent")


@main.group()
def deliveries() -> None:
    """Deliveries notify gave up on."""


@deliveries.command("dead")
@click.option("--limit", default=50, show_default=True)
def deliveries_dead(limit: int) -> None:
    """List dead deliveries, newest first."""
    rows, total = _container().deliveries.dead(limit)
    for r in rows:
        click.echo(
            f"{r['id']}  {r['kind']:7}  {r['organization_id']}  {r['event_type']}  "
            f"attempts={r['attempts']}  {r['last_error'] or ''}"
        )
    click.echo(f"{total} dead delivery(ies)")


@deliveries.command("redrive")
@click.argument("delivery_id")
def deliveries_redrive(delivery_id: str) -> None:
    """Try a dead delivery again from the start."""
    container = _container()
    if not container.deliveries.redrive(delivery_id, container.jobs):
        raise click.ClickException(f"no dead delivery {delivery_id}")
    click.echo(f"delivery {delivery_id} is pending again")
