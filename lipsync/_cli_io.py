"""What every ``lipsync`` command shares: printing, error reports, usage errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from lipsync.errors import LipsyncError

__all__ = ["Handler", "UsageError", "err", "out", "report"]

Handler = Callable[[argparse.Namespace], int]


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    sys.stderr.write(text + "\n")


def report(exc: LipsyncError) -> None:
    """The error's one line, then (for a place in a text) the line with a caret."""
    err(str(exc))
    context = getattr(exc, "context", "")
    if context:
        err(context)


class UsageError(LipsyncError):
    """A command-line mistake argparse cannot see (options that exclude each other)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"lipsync: {message}")
