"""A delivery of one notification through one channel: its states, what an attempt's result means, and
when the next attempt is due.

States: ``pending`` (due at ``next_due_at``), ``delivering`` (a worker holds it until its lease ends),
``delivered``, ``failed`` (an attempt failed; due again later) and ``dead`` (given up, or the endpoint is
gone: an operator can drive it again).
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class State(StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"


DUE = (State.PENDING, State.FAILED)
"""States in which a delivery waits for its next attempt."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt came to. ``gone``: the receiver said the endpoint no longer exists (HTTP 410);
    ``unanswered``: the endpoint gave no answer at all (refused, unreachable, timed out)."""

    ok: bool
    detail: str
    status: int | None = None
    gone: bool = False
    unanswered: bool = False


@dataclass(frozen=True, slots=True)
class Retries:
    """Exponential backoff with jitter: the n-th failed attempt waits ``first * factor**(n-1)`` seconds (at
    most ``longest``), give or take ``jitter``; after ``attempts`` attempts the delivery is dead.

    The defaults try 10 times over about 11 hours: 10 s, 30 s, 1.5 min, 4.5 min, 13.5 min, 40 min, 2 h,
    then every 4 h.
    """

    attempts: int = 10
    first: float = 10.0
    factor: float = 3.0
    longest: float = 4 * 3600.0
    jitter: float = 0.2

    def delay(self, failed_attempts: int, rng: random.Random | None = None) -> timedelta:
        base = min(self.first * self.factor ** (failed_attempts - 1), self.longest)
        spread = (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return timedelta(seconds=base * spread)

    def after(self, attempt: Attempt, attempts_made: int, now: datetime) -> tuple[State, datetime | None]:
        """The state after an attempt (the ``attempts_made``-th) and when the next one is due."""
        if attempt.ok:
            return State.DELIVERED, None
        if attempt.gone or attempts_made >= self.attempts:
            return State.DEAD, None
        return State.FAILED, now + self.delay(attempts_made)


@dataclass(frozen=True, slots=True)
class Pauses:
    """How long deliveries to a webhook endpoint that gave no answer wait, so that they do not each hold a
    worker until the timeout: ``first`` seconds after its first such attempt, twice as long after each
    further one, at most ``longest``. When a pause ends, one attempt probes the endpoint while the others
    wait ``probe`` seconds more (as long as the probe may take); an answer of any kind ends the pause, and
    those that waited for the probe are due at once.
    A delivery that waits is not attempted, so its attempts are not spent; the waiting ones are due again
    spread over ``spread`` seconds after the pause."""

    first: float = 10.0
    longest: float = 300.0
    probe: float = 15.0
    spread: float = 2.0

    def length(self, failures: int) -> timedelta:
        return timedelta(seconds=min(self.first * 2 ** (failures - 1), self.longest))

    def due_after(self, until: datetime, rng: random.Random | None = None) -> datetime:
        """When a delivery that waits for a pause ending at ``until`` is due again."""
        return until + timedelta(seconds=(rng or random).uniform(0, self.spread))

    def probe_waiters_due_by(self, answered: datetime) -> datetime:
        """The latest a delivery that waits for a probe answered at ``answered`` can be due (the probe began
        before): once the endpoint answers, those are due at once instead of when the probe's time is up."""
        return answered + timedelta(seconds=self.probe + self.spread)
