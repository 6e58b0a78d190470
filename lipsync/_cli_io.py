"""What every ``lipsync`` command shares: printing, error reports, warnings, usage errors.

Every line the command line writes to stderr starts with ``lipsync: ``. A closed stderr (its
reader gone) is not an error worth dying for: what cannot be written is dropped.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from lipsync.errors import LipsyncError

__all__ = ["Handler", "UsageError", "WarningPrinter", "err", "out", "report"]

Handler = Callable[[argparse.Namespace], int]
PREFIX = "lipsync: "


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or its reader gone
        pass


def report(exc: LipsyncError) -> None:
    """The error's one line, then (for a place in a text) the line with a caret."""
    message = str(exc)
    err(message if message.startswith(PREFIX) else PREFIX + message)
    context = getattr(exc, "context", "")
    if context:
        err(context)


class WarningPrinter(logging.Handler):
    """Prints the library's warnings (the ``lipsync`` logger) as ``lipsync: warning: ...``."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().removeprefix(PREFIX)
        err(f"{PREFIX}warning: {message}")


class UsageError(LipsyncError):
    """A command-line mistake argparse cannot see (options that exclude each other)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{PREFIX}{message}")
