"""One ``Speaker.say()`` as its caller holds it: wait for it, stop it, read what was scheduled."""

from __future__ import annotations

from collections.abc import Callable

from lipsync.live.run import Job, wait_in_slices
from lipsync.timeline import Timeline

__all__ = ["Utterance"]


class Utterance:
    """One ``say()``: wait for it, stop it, read what was scheduled."""

    def __init__(self, job: Job, stop: Callable[[Job], None]) -> None:
        self.text = job.source if isinstance(job.source, str) else None
        self._job = job
        self._stop = stop

    @property
    def done(self) -> bool:
        return self._job.done.is_set()

    @property
    def timeline(self) -> Timeline:
        """The phonemes scheduled so far, timed from the utterance's first sample."""
        return self._job.timeline

    @property
    def started_at(self) -> float | None:
        """Clock time the first sample reached the device (``None`` until it did)."""
        return self._job.started_at

    @property
    def stopped(self) -> bool:
        """Whether it was cut short by a stop."""
        return self._job.stopped

    def wait(self, timeout: float | None = None) -> bool:
        """Block until it has been spoken or stopped; re-raise what made it fail.

        Returns ``False`` if ``timeout`` seconds passed first.
        """
        if not wait_in_slices(self._job.done.wait, timeout):
            return False
        if self._job.error is not None:
            raise self._job.error
        return True

    def stop(self) -> None:
        """Cut it short (or drop it, if it has not started)."""
        self._stop(self._job)
