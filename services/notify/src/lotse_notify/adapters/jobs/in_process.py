"""Delivery attempts on threads of this process: embedded mode's delivery worker, and in scale mode the
consumer's first attempts at the deliveries it has just taken in."""

import functools
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence

log = logging.getLogger(__name__)


class ThreadJobs:
    """Runs ``run(delivery_id)`` for the ids it is sent, and the tasks it is given, on ``threads`` threads.
    What is queued when the process ends is lost here, not in the database: the delivery stays due (or held
    until its lease runs out) and the sweep sends it again.

    :meth:`room` says how many more tasks it takes before it has ``backlog`` (by default twice its threads)
    under way or waiting; a caller hands what does not fit to a worker instead."""

    def __init__(self, run: Callable[[str], object], threads: int = 4, backlog: int | None = None) -> None:
        self._run = run
        self._threads = threads
        self._limit = backlog if backlog is not None else 2 * threads
        self._queue: queue.Queue[Callable[[], object] | None] = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._pending = 0
        self._lock = threading.Lock()

    def send(self, delivery_ids: Sequence[str]) -> None:
        self.run(functools.partial(self._run, ident) for ident in delivery_ids)

    def run(self, tasks: Iterable[Callable[[], object]]) -> None:
        for task in tasks:
            with self._lock:
                self._pending += 1
            self._queue.put(task)

    def room(self) -> int:
        """How many more tasks fit now (none while no thread runs)."""
        if not self._workers:
            return 0
        with self._lock:
            return max(0, self._limit - self._pending)

    def start(self) -> None:
        for n in range(self._threads):
            worker = threading.Thread(target=self._work, name=f"delivery-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self, timeout: float = 5.0) -> None:
        """Run what was queued, then stop (waiting up to ``timeout`` for each thread)."""
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout)
        self._workers.clear()

    def _work(self) -> None:
        while (task := self._queue.get()) is not None:
            try:
                task()
            except Exception:  # the delivery stays due; its lease runs out and the sweep sends it again
                log.exception("delivery task failed")
            finally:
                with self._lock:
                    self._pending -= 1
