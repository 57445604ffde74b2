"""Embedded mode's delivery worker: a few threads in the serving process take delivery ids from a queue."""

import logging
import queue
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)


class ThreadJobs:
    """Runs ``run(delivery_id)`` on ``threads`` threads. What is queued when the process ends is lost here,
    not in the database: the delivery stays due and the sweep sends it again."""

    def __init__(self, run: Callable[[str], object], threads: int = 4) -> None:
        self._run = run
        self._threads = threads
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._workers: list[threading.Thread] = []

    def send(self, delivery_ids: Sequence[str]) -> None:
        for ident in delivery_ids:
            self._queue.put(ident)

    def start(self) -> None:
        for n in range(self._threads):
            worker = threading.Thread(target=self._work, name=f"delivery-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self, timeout: float = 5.0) -> None:
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout)
        self._workers.clear()

    def _work(self) -> None:
        while (ident := self._queue.get()) is not None:
            try:
                self._run(ident)
            except Exception:  # the delivery stays due; its lease runs out and the sweep sends it again
                log.exception("delivery %s failed", ident)
