"""Clocks: what everything that waits takes as a parameter, so tests need not wait.

A clock has ``now()`` (seconds, monotonic) and ``wait(event, until)``: block until ``event``
is set or the clock reaches ``until``, and say whether the event was set. Schedules aim at
absolute times from one start instant, so sleeping late once never adds up.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "MonotonicClock", "VirtualClock"]


class Clock(Protocol):
    def now(self) -> float: ...

    def wait(self, event: threading.Event, until: float) -> bool: ...


#: A timed wait of the OS ends 0.1 to 0.3 ms late here (and more on a busy machine): a
#: wait sleeps until this long before its time and spins the rest, holding the GIL for at
#: most that long.
_SPIN = 0.0005


class MonotonicClock:
    """Real time: ``time.monotonic()``; waits end early when the event is set.

    A wait ends at its time to within a few microseconds, not when the OS gets round to it
    (which costs a spin of at most ``_SPIN`` seconds per wait that runs to its end).
    """

    def now(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, until: float) -> bool:
        remaining = until - time.monotonic()
        if remaining > _SPIN and event.wait(remaining - _SPIN):
            return True
        while time.monotonic() < until:
            if event.is_set():
                return True
        return event.is_set()


class VirtualClock:
    """Time that jumps: a wait that would block moves the clock to its end at once.

    For tests of one waiting thread: a schedule of a minute runs in microseconds, and the
    times it records are exactly the targets it aimed at.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def wait(self, event: threading.Event, until: float) -> bool:
        if event.is_set():
            return True
        with self._lock:
            self._now = max(self._now, until)
        return event.is_set()
