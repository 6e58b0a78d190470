"""Waiting until a socket or descriptor can be read or written, whatever its number.

``select.select`` fails on descriptors from 1024 on, which a busy ``serve`` (its limit raised
for many clients) reaches; ``poll`` has no such limit. Where there is no ``poll`` (Windows),
``select`` serves: there descriptors are not numbered that way.
"""

from __future__ import annotations

import select
from typing import Protocol

__all__ = ["readable", "writable"]


class _FileLike(Protocol):
    def fileno(self) -> int: ...


def readable(source: int | _FileLike, timeout: float) -> bool:
    """Whether ``source`` has something to read within ``timeout`` seconds (0: now)."""
    return _ready(source, timeout, write=False)


def writable(source: int | _FileLike, timeout: float) -> bool:
    """Whether ``source`` takes more bytes within ``timeout`` seconds (0: now)."""
    return _ready(source, timeout, write=True)


def _ready(source: int | _FileLike, timeout: float, *, write: bool) -> bool:
    timeout = max(timeout, 0.0)
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(source, select.POLLOUT if write else select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    readers, writers, _ = select.select([] if write else [source], [source] if write else [], [], timeout)
    return bool(writers if write else readers)
