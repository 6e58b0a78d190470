"""Progress on stderr for long work, only when stderr is a terminal (never in a pipe or a log)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["LONG_TEXT", "Progress", "long_text_note"]

#: Text longer than this (characters) is "long": worth a progress line.
LONG_TEXT = 200
_EVERY = 0.1  # seconds between redraws


class Progress:
    """A one-line counter (``lipsync: export 12/100 rows``) redrawn in place, then cleared."""

    def __init__(self, what: str, total: int, *, stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.what = what
        self.total = total
        self.shown = 0.0
        self.width = 0

    def note(self, text: str) -> None:
        """Show ``text`` on the progress line (a step with no count, e.g. a slow call)."""
        if self.enabled:
            line = f"lipsync: {text}"
            self.stream.write("\r" + line.ljust(self.width))
            self.stream.flush()
            self.width = len(line)

    def update(self, done: int, extra: str = "") -> None:
        now = time.monotonic()
        if self.enabled and (now - self.shown >= _EVERY or done >= self.total):
            self.shown = now
            self.note(f"{self.what} {done}/{self.total}{extra}")

    def close(self) -> None:
        """Clear the line, so what is printed next starts clean."""
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


@contextmanager
def long_text_note(text: str | None, what: str) -> Iterator[None]:
    """While a long ``text`` is worked on in one call, say so on the terminal, then clear it."""
    progress = Progress(what, 1)
    if text is not None and len(text) > LONG_TEXT:
        progress.note(f"{what} {len(text)} characters with Open JTalk...")
    try:
        yield
    finally:
        progress.close()
