"""A progress bar for a command's long step (click's), on stderr so that stdout stays the command's answer; on
no terminal it shows only its label, once."""

import sys
from types import TracebackType
from typing import Any

import click


class ProgressBar:
    """Call it with ``(done, total)`` as the work goes on; use it as a context manager around the work."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=max(total, 1), label=self.label, file=sys.stderr, show_pos=True)
            self._bar.__enter__()
        self._bar.update(max(done - self._bar.pos, 0))

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, error, trace)
