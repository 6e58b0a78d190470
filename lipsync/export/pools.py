"""Where a batch's chunks run: this process, local processes, or a cluster (``lipsync.export.cluster``).

A ``Pool`` hands out standard ``concurrent.futures`` futures of ``work_chunk``'s results, so
the runner is the same for all. What differs is what happens when a worker dies:

- ``ProcessPool``: one dead process breaks the whole ``ProcessPoolExecutor``; every chunk in it
  fails with ``BrokenExecutor``. ``lost`` starts a new executor (once per broken one) and the
  runner sends the chunks again.
- a cluster retries a lost chunk itself and says when it has given up (``lost`` is True).

Pools start their workers on the first chunk, not before: a run with nothing to do starts none.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, Future
from typing import Protocol

from lipsync.export.work import Chunk, Made, work_chunk

__all__ = ["Done", "InlinePool", "Pool", "ProcessPool"]

#: What a chunk gives back: the worker's lipsync version and a result per line.
Done = tuple[str, list[Made]]


class Pool(Protocol):
    """Runs chunks; see the module docstring."""

    @property
    def slots(self) -> int:
        """How many chunks run at once (the runner keeps about twice that in flight)."""
        ...

    @property
    def generation(self) -> int:
        """Which incarnation of the workers a future came from (see ``lost``)."""
        ...

    def submit(self, chunk: Chunk) -> Future[Done]: ...

    def lost(self, exc: BaseException, generation: int) -> bool:
        """A chunk of ``generation`` failed with ``exc``: recover; True if already retried."""
        ...

    def close(self, *, cancel: bool = False) -> None: ...


class InlinePool:
    """Chunks run here, one after another, as they are submitted (``-j 1``)."""

    slots = 1
    generation = 0

    def submit(self, chunk: Chunk) -> Future[Done]:
        future: Future[Done] = Future()
        try:
            version, made = work_chunk(chunk)
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result((version, made))
        return future

    def lost(self, exc: BaseException, generation: int) -> bool:
        return False

    def close(self, *, cancel: bool = False) -> None:
        pass


class ProcessPool:
    """``jobs`` local processes (spawned: a fresh interpreter each, no forked locks).

    ``work`` is what runs a chunk in them (``work_chunk``; tests give one that crashes).
    """

    def __init__(self, jobs: int, work: Callable[[Chunk], Done] = work_chunk) -> None:
        self.slots = jobs
        self.generation = 0
        self.work = work
        self._executor: Executor | None = None

    def submit(self, chunk: Chunk) -> Future[Done]:
        if self._executor is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(max_workers=self.slots, mp_context=context,
                                                 initializer=_watch_parent, initargs=(os.getpid(),))
        return self._executor.submit(self.work, chunk)

    def lost(self, exc: BaseException, generation: int) -> bool:
        if isinstance(exc, BrokenExecutor) and generation == self.generation:
            self.close(cancel=True)
            self.generation += 1
        return False

    def close(self, *, cancel: bool = False) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=not cancel, cancel_futures=cancel)
            self._executor = None


def _watch_parent(parent: int) -> None:
    """In a worker: exit when the submitting process is gone (``kill -9``), not wait forever.

    A pool's worker holds both ends of its task queue, so its parent's death never reaches
    it as an end of file: it would sleep on as an orphan, holding the parent's stdout.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK)
        os._exit(1)

    threading.Thread(target=watch, name="lipsync-parent-watch", daemon=True).start()


_PARENT_CHECK = 0.5  # seconds between two looks at the parent
