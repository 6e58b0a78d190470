"""The ``null`` output: no device, just the clock, as if a perfect sound card played.

Sample ``i`` reaches the "device" at exactly ``origin + i / rate``: tests and servers get
real-time behaviour (or instant, with a ``VirtualClock``) and exact answers.
"""

from __future__ import annotations

import math

from lipsync.live.audio.base import DEFAULT_RATE, Output
from lipsync.live.clock import Clock

__all__ = ["NullOutput"]


class NullOutput(Output):
    """A silent output that plays in real time by its clock."""

    name = "null"

    def __init__(self, sample_rate: int = DEFAULT_RATE, *, clock: Clock | None = None) -> None:
        super().__init__(sample_rate, clock=clock)
        self._origin = self.clock.now()

    def position(self) -> int:
        return math.ceil((self.clock.now() - self._origin) * self.sample_rate - 1e-6)

    def sample_time(self, index: int) -> float:
        return self._origin + index / self.sample_rate
