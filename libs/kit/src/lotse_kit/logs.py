"""Structured logs (structlog) and the request id that follows a referral through all three services.

Every log line of a Lotse process, its own and those of gunicorn, Celery and pika, goes through one handler:
JSON lines (one object per line, for a log collector) or readable lines on a terminal. ``LOTSE_LOG_FORMAT``
chooses (``json`` or ``console``); by default scale mode (``LOTSE_AMQP_URL`` set) writes JSON and embedded
mode writes for a terminal. ``LOTSE_LOG_LEVEL`` (``INFO``) sets the level.

A request id (``X-Request-Id``: the caller's, if it is a plain token, else a new one) is bound for the time a
request, an event or a delivery job is handled. It is written into every event the outbox takes meanwhile
(the envelope's ``requestid`` extension attribute, as CloudEvents allows), so that whoever handles the event
binds it again: one grep follows a referral from the case manager's request through routing's event,
notify's intake and delivery, and the delivery report back into routing. Log lines carry ids, routes and
codes, never a client's data.
"""

import logging
import os
import re
import sys
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.contextvars import bound_contextvars, get_contextvars

REQUEST_ID_HEADER = "X-Request-Id"
_PLAIN = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(header: str | None) -> str:
    """The caller's request id if it is a plain token (letters, digits, ``._:-``, at most 64), else a new one:
    a header is no place to smuggle text into the logs."""
    if header and _PLAIN.fullmatch(header):
        return header
    return new_request_id()


def current_request_id() -> str | None:
    """The request id bound in this thread (or task) now, if any."""
    found = get_contextvars().get("request_id")
    return str(found) if found else None


@contextmanager
def handling(request_id: str | None, **more: Any) -> Iterator[None]:
    """Bind ``request_id`` (and ``more``, e.g. an event's id) to every log line and event written inside."""
    values = {"request_id": request_id, **more} if request_id else more
    with bound_contextvars(**values):
        yield


def _without_none(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in [k for k, v in event.items() if v is None]:
        del event[key]
    return event


def configure_logging(service: str, env: dict[str, str] | None = None) -> None:
    """Route every log record of this process through structlog, as JSON or for a terminal (see above)."""
    env = dict(os.environ) if env is None else env
    chosen = env.get("LOTSE_LOG_FORMAT") or ("json" if env.get("LOTSE_AMQP_URL") else "console")
    if chosen not in ("json", "console"):
        raise ValueError(f"LOTSE_LOG_FORMAT must be json or console, not {chosen!r}")
    level = env.get("LOTSE_LOG_LEVEL", "INFO").upper()

    def add_service(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event.setdefault("service", service)
        return event

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_service,
        _without_none,
    ]
    renderer: Any
    if chosen == "json":
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for chatty in ("pika", "alembic"):  # every connection's every step; every schema check's plugins
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)
