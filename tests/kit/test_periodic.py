"""Periodic jobs: a peer that does not answer yet is told in one line, an unexpected failure with its traceback."""

import logging
import time

import pytest
from lotse_kit.errors import PeerAway
from lotse_kit.periodic import Periodic


def _run(job: Periodic, seconds: float = 0.3) -> None:
    job.start()
    time.sleep(seconds)
    job.stop()


def test_a_peer_away_is_one_line_without_traceback_and_its_return_is_told(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def feed() -> None:
        calls.append(1)
        if len(calls) < 4:
            raise PeerAway("http://127.0.0.1:8001/api/v1/events did not answer")

    caplog.set_level(logging.INFO, logger="lotse_kit.periodic")
    _run(Periodic("directory-changes", 0.02, feed))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "directory-changes: http://127.0.0.1:8001/api/v1/events did not answer; trying again every 0 s"
    ]
    assert warnings[0].exc_info is None
    assert any(r.getMessage() == "periodic job directory-changes runs again" for r in caplog.records)


def test_an_unexpected_failure_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise KeyError("bug")

    _run(Periodic("sweep", 0.02, broken))
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is not None
