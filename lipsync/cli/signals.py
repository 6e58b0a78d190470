"""What SIGINT and SIGTERM do in the command line: unwind once, so clean-up can send the STOP.

This module imports nothing of lipsync's: the entry point installs it before anything loads.
"""

from __future__ import annotations

import signal
from types import FrameType

__all__ = ["install", "interrupt"]


def interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT or SIGTERM: unwind once (clean-up sends the STOP); later signals wait for it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def install() -> None:
    """``interrupt`` for SIGINT and SIGTERM, but a signal the parent set to be ignored stays
    ignored: a shell runs ``lipsync say ... &`` with SIGINT ignored, so that Ctrl-C meant for
    the foreground job does not reach it."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, interrupt)
