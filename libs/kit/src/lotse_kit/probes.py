"""Readiness apart from liveness. ``/health`` says the process runs (restart it if not); ``/ready`` says
whether what it needs answers now (database, broker, search engine), so that a load balancer or Kubernetes
sends it no work while one of them is away, without restarting it.

Workers have no HTTP API; :func:`serve_probes` gives them ``/health``, ``/ready`` and ``/metrics`` on a port
of their own.
"""

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from sqlalchemy import Engine, text

from lotse_kit.metrics import Collector, exposition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One thing a process needs: ``run`` returns when it answers and raises when it does not."""

    name: str
    run: Callable[[], None]


def database_check(engine: Engine) -> Check:
    def run() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return Check("database", run)


def broker_check(url: str, name: str = "broker") -> Check:
    """A fresh connection to the broker, opened and closed (a connection the process holds may not have
    noticed yet that the broker went away)."""

    def run() -> None:
        import pika

        from lotse_kit.rabbitmq import connection_parameters

        parameters = connection_parameters(url)
        parameters.socket_timeout = 2
        parameters.blocked_connection_timeout = 2
        parameters.stack_timeout = 3
        pika.BlockingConnection(parameters).close()

    return Check(name, run)


def schema_check(package: str, engine: Engine) -> Check:
    """The database is at the newest migration of ``package`` (``lotse_routing`` → ``lotse-routing db upgrade``)."""

    def run() -> None:
        from lotse_kit.sql import is_current

        if not is_current(package, engine):
            command = package.replace("_", "-")
            raise LookupError(f"the database schema is not current: run `{command} db upgrade`")

    return Check("schema", run)


def service_checks(package: str, engine: Engine, amqp_url: str | None, schema: bool = True) -> list[Check]:
    """What a service's ``/ready`` asks at least: its database, its schema (not a worker's, which checked it at
    start and loads no Alembic after), and in scale mode the broker."""
    found = [database_check(engine)]
    if schema:
        found.append(schema_check(package, engine))
    if amqp_url:
        found.append(broker_check(amqp_url))
    return found


def readiness(checks: Sequence[Check]) -> dict[str, str]:
    """Each check's outcome: ``ok`` or why not (one line)."""
    outcomes: dict[str, str] = {}
    for check in checks:
        try:
            check.run()
        except Exception as error:  # any failure means not ready; the reason is reported, not raised
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            outcomes[check.name] = f"{type(error).__name__}: {reason}"[:300]
        else:
            outcomes[check.name] = "ok"
    return outcomes


def ready_answer(checks: Sequence[Check]) -> tuple[int, dict[str, Any], str]:
    """Status, body and content type of a readiness answer: 200 with each check's ``ok``, or 503 as
    problem+json naming each check that failed."""
    outcomes = readiness(checks)
    failed = {name: reason for name, reason in outcomes.items() if reason != "ok"}
    if not failed:
        return 200, {"status": "ready", "checks": outcomes}, "application/json"
    problem = {  # RFC 9457, as lotse_kit.problems writes it (not imported: a worker loads no Flask)
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "not ready: " + ", ".join(failed) + " not reachable",
        "errors": [{"name": name, "reason": reason} for name, reason in failed.items()],
        "checks": outcomes,
    }
    return 503, problem, "application/problem+json"


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def probes_app(checks: Sequence[Check], collectors: Sequence[Collector] = ()) -> Callable[..., Any]:
    """A WSGI app answering ``/health``, ``/ready`` and ``/metrics`` (for a worker)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/health":
            status, body, content_type = 200, json.dumps({"status": "ok"}).encode(), "application/json"
        elif path == "/ready":
            code, answer, content_type = ready_answer(checks)
            status, body = code, json.dumps(answer).encode()
        elif path == "/metrics":
            status = 200
            body, content_type = exposition(collectors)
        else:
            status, body, content_type = 404, b'{"title":"Not Found","status":404}', "application/problem+json"
        reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
        start_response(f"{status} {reason}", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    return app


def serve_probes_from_env(
    default_port: int, checks: Sequence[Check], collectors: Sequence[Collector] = ()
) -> WSGIServer | None:
    """A worker's probes on ``LOTSE_METRICS_HOST`` (127.0.0.1; 0.0.0.0 in a container) and
    ``LOTSE_METRICS_PORT`` (``default_port``; 0 for none)."""
    host = os.environ.get("LOTSE_METRICS_HOST", "127.0.0.1")
    port = int(os.environ.get("LOTSE_METRICS_PORT", str(default_port)))
    return serve_probes(host, port, checks, collectors)


def serve_probes(
    host: str, port: int, checks: Sequence[Check], collectors: Sequence[Collector] = ()
) -> WSGIServer | None:
    """Serve a worker's probes and metrics on ``host:port`` in a daemon thread (port 0: none)."""
    if not port:
        return None
    server = make_server(
        host, port, probes_app(checks, collectors), server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="lotse-probes", daemon=True).start()
    log.info("probes and metrics on http://%s:%d (/health, /ready, /metrics)", host, port)
    return server
