"""A batch line's input files, read and digested ahead, on threads, while earlier lines are handled.

Reading and digesting a recording (SHA-256: ~0.9 GB/s here) is most of what a
``--modified-only`` run over unchanged lines does; both release the GIL, so two threads
read the next lines while the runner handles this one. What is read ahead is bounded: at
most 64 lines and 64 MB (by the files' sizes) at once, however big the table.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lipsync.errors import LipsyncError, ValueRefused
from lipsync.export.ledger import digest
from lipsync.export.lines import Line

__all__ = ["INPUT_LIMIT", "Inputs", "read_ahead", "read_input"]

#: The largest input file a line may read (a voice line's recording is well under a MB).
INPUT_LIMIT = 256 << 20
_AHEAD_LINES = 64
_AHEAD_BYTES = 64 << 20
_READERS = 2


@dataclass(frozen=True)
class Inputs:
    """The bytes of a line's audio and labels (None where it has none) and their digests."""

    audio: bytes | None = None
    labels: bytes | None = None
    audio_digest: str | None = None
    labels_digest: str | None = None


def read_input(path: Path) -> bytes:
    """A regular file's bytes (a FIFO would hang the run, a device fill its memory)."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ValueRefused(f"{path}: not a regular file")
            if info.st_size > INPUT_LIMIT:
                raise ValueRefused(f"{path}: {info.st_size >> 20} MB: a batch line reads at most "
                                   f"{INPUT_LIMIT >> 20} MB (export it on its own)")
            return handle.read()
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _load(line: Line) -> Inputs:
    job = line.job
    if job is None:
        return Inputs()
    audio = read_input(job.wav) if job.wav is not None else None
    labels = read_input(job.labels) if job.labels is not None else None
    return Inputs(audio, labels, digest(audio) if audio is not None else None,
                  digest(labels) if labels is not None else None)


def _size(line: Line) -> int:
    total = 0
    for path in line.inputs:
        try:
            total += os.stat(path).st_size
        except OSError:
            pass  # the read says why
    return total


def read_ahead(lines: Iterable[Line]) -> Iterator[tuple[Line, Inputs | LipsyncError]]:
    """Each line with its inputs (or why they cannot be read), in order, read on threads."""
    pending: deque[tuple[Line, Future[Inputs], int]] = deque()
    held = 0
    with ThreadPoolExecutor(_READERS, thread_name_prefix="lipsync-read") as readers:

        def oldest() -> tuple[Line, Inputs | LipsyncError]:
            nonlocal held
            line, future, size = pending.popleft()
            held -= size
            try:
                return line, future.result()
            except LipsyncError as exc:
                return line, exc

        for line in lines:
            size = _size(line) if line.job is not None else 0
            while pending and (len(pending) >= _AHEAD_LINES or held + size > _AHEAD_BYTES):
                yield oldest()
            pending.append((line, readers.submit(_load, line), size))
            held += size
        while pending:
            yield oldest()
