"""Silencing what C libraries write straight to a file descriptor (``silenced``)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["silenced"]


@contextlib.contextmanager
def silenced(fd: int) -> Iterator[None]:
    """Point descriptor ``fd`` (1 or 2) at the null device meanwhile; what Python buffered for
    it goes out first. Where it cannot be duplicated (closed, or no such descriptor) nothing
    changes."""
    stream = {1: sys.stdout, 2: sys.stderr}.get(fd)
    if stream is not None:
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    try:
        saved = os.dup(fd)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
