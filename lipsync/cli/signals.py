"""What SIGINT and SIGTERM do in the command line: unwind once, so clean-up can send the STOP.

This module imports nothing of lipsync's: the entry point installs it before anything loads.
"""

from __future__ import annotations

import signal
from types import FrameType

__all__ = ["interrupt"]


def interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT or SIGTERM: unwind once (clean-up sends the STOP); later signals wait for it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt
