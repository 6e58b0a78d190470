"""Open JTalk's own warnings: kept off the terminal and reported once each through ``logging``.

Open JTalk's C code writes a line to file descriptor 2 for every odd mora it meets (``WARNING:
JPCommonLabel_push_word() in jpcommon_label.c: First mora should not be long vowel symbol.``
once per ``ー``: 1 000 of them make 100 KB, unprefixed, through every command and ``serve``).
``captured()`` wraps each call into Open JTalk: while any such call runs, descriptor 2 points
at a temporary file; when the last one running ends, the file is read back. Open JTalk's lines
become one warning per distinct message with its count, at most once in ``_QUIET`` seconds
(long text is many calls) (logger ``lipsync.speech``, which the
command line prints as ``lipsync: warning: Open JTalk: ...``); anything else written there
meanwhile (another thread's output) goes back to stderr as it was.

The calls may overlap (one engine per thread, the GIL released): descriptor 2 is redirected by
the first to enter and restored by the last to leave, never swapped under a running call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import IO

__all__ = ["captured"]

logger = logging.getLogger("lipsync.speech")

_WARNING = re.compile(rb"WARNING: \w+\(\) in [\w.]+: (.*)")
_READ_BACK = 1 << 20  # the most bytes read back after one call: the rest is counted, not kept
_SHOWN = 4  # distinct messages logged after one call; the rest are counted in a last line
_QUIET = 10.0  # seconds a message once logged is not logged again (long text: many calls)

_lock = threading.Lock()
_depth = 0  # Open JTalk calls running now
_saved: int | None = None  # descriptor 2 as it was, while redirected
_file: IO[bytes] | None = None  # where descriptor 2 points meanwhile (kept for the process)
_logged: dict[str, float] = {}  # message -> when it was last logged


@contextlib.contextmanager
def captured() -> Iterator[None]:
    """Run a call into Open JTalk with its warnings caught (see the module's docstring)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = _redirect()
        _depth += 1
    try:
        yield
    finally:
        data = b""
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                data = _restore(_saved)
                _saved = None
        if data:
            _report(data)


def _redirect() -> int | None:
    """Point descriptor 2 at the temporary file; the saved descriptor (None: left as it was)."""
    global _file
    with contextlib.suppress(Exception):  # whatever Python buffered goes where it was meant to
        sys.stderr.flush()
    try:
        if _file is None:
            _file = tempfile.TemporaryFile()
        _file.seek(0)
        _file.truncate()
        saved = os.dup(2)
    except OSError:  # no temporary folder, no descriptor left: the warnings go where they go
        return None
    try:
        os.dup2(_file.fileno(), 2)
    except OSError:
        os.close(saved)
        return None
    return saved


def _restore(saved: int) -> bytes:
    """Point descriptor 2 back; what was written to the file meanwhile."""
    assert _file is not None
    try:
        os.dup2(saved, 2)
    finally:
        os.close(saved)
    try:
        _file.seek(0)
        data = _file.read(_READ_BACK)
        _file.seek(0)
        _file.truncate()
    except OSError:
        return b""
    return data


def _report(data: bytes) -> None:
    """Open JTalk's lines as warnings, counted; any other bytes back to stderr unchanged."""
    counts: dict[str, int] = {}
    others: list[bytes] = []
    for line in data.splitlines(keepends=True):
        match = _WARNING.match(line)
        if match is None:
            others.append(line)
            continue
        message = match[1].decode("ascii", "backslashreplace").strip()
        message = "".join(c if c.isprintable() else "?" for c in message)[:200]
        counts[message] = counts.get(message, 0) + 1
    now = time.monotonic()
    with _lock:
        fresh = [(m, n) for m, n in counts.items() if now - _logged.get(m, -_QUIET) >= _QUIET]
        for message, _ in fresh[:_SHOWN]:
            _logged[message] = now
        if len(_logged) > 100:  # a bounded memory of what was said
            _logged.clear()
    for message, count in fresh[:_SHOWN]:
        logger.warning("Open JTalk: %s%s", message, f" ({count} times)" if count > 1 else "")
    if len(fresh) > _SHOWN:
        logger.warning("Open JTalk: %d other kinds of warning", len(fresh) - _SHOWN)
    rest = memoryview(b"".join(others))
    with contextlib.suppress(OSError):
        while rest:
            rest = rest[os.write(2, rest):]
