"""A background thread that runs a job every few seconds (timers that are rows swept by a periodic job)."""

import logging
import threading
from collections.abc import Callable

from lotse_kit.errors import PeerAway

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``job`` every ``interval`` seconds until stopped; a failure is logged (once until a run succeeds
    again) and the next run comes."""

    def __init__(self, name: str, interval: float, job: Callable[[], object]) -> None:
        self.name = name
        self.interval = interval
        self.job = job
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self.interval):
            try:
                self.job()
            except PeerAway as away:
                if not failing:  # once per run of failures, not every few seconds while a server is down
                    log.warning("%s: %s; trying again every %.0f s", self.name, away, self.interval)
                failing = True
            except Exception:
                if not failing:
                    log.exception("periodic job %s failed; trying again every %.0f s", self.name, self.interval)
                failing = True
            else:
                if failing:
                    log.info("periodic job %s runs again", self.name)
                failing = False
