"""Prometheus metrics (prometheus-client): ``GET /metrics`` on every service and worker.

Two kinds of figures. What a process counts itself (requests by route and status with their latency,
searches, events consumed) lives in the process; a server runs several processes, so their figures are kept
in files that every process's ``/metrics`` adds up (prometheus-client's multiprocess mode). What describes the
shared state (outbox rows waiting, deliveries by state, reminders due) is read from the database when
``/metrics`` is asked, by collectors, so every process answers the same.

prometheus-client chooses multiprocess mode when it is first imported, by ``PROMETHEUS_MULTIPROC_DIR``. So
this module imports it only inside its functions, and a server's master sets the folder before its workers
(:func:`prepare_multiprocess`) build their apps and with them the first metric.
"""

import atexit
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram
    from prometheus_client.metrics_core import Metric

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Collector(Protocol):
    """Figures read when ``/metrics`` is asked (prometheus-client's custom collector)."""

    def collect(self) -> Iterable["Metric"]: ...


def prepare_multiprocess() -> None:
    """In a server's master, before it forks: its workers keep their figures in files in a folder that holds
    nothing of an earlier run (``PROMETHEUS_MULTIPROC_DIR`` if set, emptied; else a new temporary one)."""
    if "prometheus_client" in sys.modules and MULTIPROC_ENV not in os.environ:
        raise RuntimeError("prometheus_client was imported before multiprocess mode was set")
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.unlink(os.path.join(folder, name))
    else:
        folder = tempfile.mkdtemp(prefix="lotse-metrics-")
        os.environ[MULTIPROC_ENV] = folder
        atexit.register(shutil.rmtree, folder, True)


def process_died(pid: int) -> None:
    """A server's worker ended: its gauges no longer count (its counters stay in the sums)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


_made: dict[tuple[Any, ...], Any] = {}
_making = threading.Lock()


def _once(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """The metric made for ``key``, made once even when several threads ask for it at the same moment (a
    second one of the same name would be refused by prometheus-client's registry)."""
    found = _made.get(key)
    if found is None:
        with _making:
            found = _made.get(key)
            if found is None:
                found = _made[key] = make()
    return found


def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> "Counter":
    """The process's counter of that name."""
    from prometheus_client import Counter

    made: Counter = _once(("counter", name), lambda: Counter(name, documentation, list(labels)))
    return made


def histogram(
    name: str, documentation: str, labels: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
) -> "Histogram":
    """The process's histogram of that name."""
    from prometheus_client import Histogram

    made: Histogram = _once(
        ("histogram", name), lambda: Histogram(name, documentation, list(labels), buckets=list(buckets))
    )
    return made


class _Scrape:
    """What one ``/metrics`` answer holds: this process's own figures (or, in multiprocess mode, those of
    every process of the server) and the collectors' figures read now."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator["Metric"]:
        from prometheus_client import REGISTRY, multiprocess

        if os.environ.get(MULTIPROC_ENV):
            every_process = multiprocess.MultiProcessCollector(None)  # type: ignore[no-untyped-call]
            yield from every_process.collect()  # type: ignore[no-untyped-call]
        else:
            yield from REGISTRY.collect()
        from prometheus_client.core import GaugeMetricFamily

        failed = 0
        for collector in self.collectors:
            try:
                read = list(collector.collect())
            except Exception as error:  # the database is away: the process's own figures are still worth answering
                log.warning(
                    "metrics: %s could not read its figures: %s", type(collector).__name__, str(error).splitlines()[0]
                )
                failed += 1
                continue
            yield from read
        yield GaugeMetricFamily(
            "lotse_metrics_collector_errors", "Collectors that could not read their figures in this scrape", failed
        )


def exposition(collectors: Sequence[Collector] = ()) -> tuple[bytes, str]:
    """The text ``/metrics`` answers, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_Scrape(collectors)), CONTENT_TYPE_LATEST


class OutboxCollector:
    """``lotse_outbox_pending`` and ``lotse_outbox_oldest_pending_age_seconds``: events written and not yet
    relayed (a growing number or age means the relay or the broker is stuck)."""

    def __init__(self, service: str, backlog: Callable[[], tuple[int, datetime | None]]) -> None:
        self.service = service
        self.backlog = backlog

    def collect(self) -> Iterator["Metric"]:
        from prometheus_client.core import GaugeMetricFamily

        pending, oldest = self.backlog()
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        count = GaugeMetricFamily("lotse_outbox_pending", "Outbox events not yet relayed", labels=["service"])
        count.add_metric([self.service], pending)
        oldest_age = GaugeMetricFamily(
            "lotse_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox event not yet relayed (0 when none waits)",
            labels=["service"],
        )
        oldest_age.add_metric([self.service], max(age, 0.0))
        yield count
        yield oldest_age


Gauges = dict[str, tuple[str, Sequence[str], dict[tuple[str, ...], float]]]
"""Gauges as ``{name: (help, label names, {label values: value})}``."""


class GaugesCollector:
    """Gauges read by one function when ``/metrics`` is asked."""

    def __init__(self, read: Callable[[], Gauges]) -> None:
        self.read = read

    def collect(self) -> Iterator["Metric"]:
        from prometheus_client.core import GaugeMetricFamily

        for name, (documentation, labels, values) in self.read().items():
            family = GaugeMetricFamily(name, documentation, labels=list(labels))
            for key, value in values.items():
                family.add_metric(list(key), value)
            yield family
