"""What every ``lipsync`` command shares: printing, error reports, warnings, usage errors.

Every line the command line writes to stderr starts with ``lipsync: ``. A closed stderr (its
reader gone) is not an error worth dying for: what cannot be written is dropped. What goes to
stderr is shown, never obeyed: control and bidirectional-formatting characters from a user's
input (an escape sequence in a phoneme name or a map) are written as escapes (``\x1b``).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable
from typing import NoReturn

from lipsync.errors import LipsyncError

__all__ = [
    "Handler", "Parser", "UsageError", "WarningPrinter", "err", "finite_float", "out", "report",
    "visible", "whole_number",
]

Handler = Callable[[argparse.Namespace], int]
PREFIX = "lipsync: "

#: The most bytes of one line ``report`` prints: every error stays under 1 KB, whatever it echoes.
_LINE_LIMIT = 300
#: The most detail lines ``report`` prints after an error.
_MAX_DETAILS = 200


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def visible(text: str) -> str:
    """``text`` with every control character (and every bidirectional override) escaped: shown
    on a terminal, it cannot move the cursor, retitle the window or reorder what follows."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def err(text: str) -> None:
    """One or more lines to stderr, each shown with ``visible``."""
    text = "\n".join(visible(line) for line in text.split("\n"))
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or its reader gone
        pass


def _clip(text: str, limit: int = _LINE_LIMIT) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (``...`` marks the cut)."""
    if len(text) <= limit // 4 or len(text.encode("utf-8", "replace")) <= limit:
        return text
    return text.encode("utf-8", "replace")[: limit - 3].decode("utf-8", "ignore") + "..."


def report(exc: LipsyncError) -> None:
    """The error's one line, then (for a place in a text) the line with a caret, or (for an
    error with ``details``, such as the speakers an engine offers, when its line could not
    hold them) one line per detail.

    Each is cut to a few hundred characters: an error never echoes a whole hostile input.
    """
    whole = str(exc).replace("\n", " ")
    message = _clip(whole)
    err(message if message.startswith(PREFIX) else PREFIX + message)
    context = getattr(exc, "context", "")
    if context:
        lines = context.split("\n")[:2]
        if len(lines) == 2 and "^" in lines[1]:  # the caret moves with what escaping widened
            column = lines[1].index("^")
            widened = len(visible(lines[0][:column])) - len(lines[0][:column])
            lines[1] = " " * (column + widened) + lines[1][column:]
        err("\n".join(_clip(line) for line in lines))
    details = getattr(exc, "details", ()) if message != whole else ()
    for line in list(details)[:_MAX_DETAILS]:
        err(PREFIX + "  " + _clip(str(line).replace("\n", " ")))
    if len(details) > _MAX_DETAILS:
        err(f"{PREFIX}  ... and {len(details) - _MAX_DETAILS} more")


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


class Parser(argparse.ArgumentParser):
    """argparse with short errors: a hostile argument is not echoed whole to stderr."""

    def error(self, message: str) -> NoReturn:
        usage = self.format_usage()
        # A long usage would push the error past 1 KB: point at -h instead.
        sys.stderr.write(usage if len(usage) < 600 else f"usage: see {self.prog} -h\n")
        self.exit(2, f"{self.prog}: error: {visible(_clip(message.replace(chr(10), ' ')))}\n")


def finite_float(low: float, high: float) -> Callable[[str], float]:
    """An argparse ``type``: a finite number from ``low`` to ``high``, in plain ASCII.

    ``nan``, ``inf``, ``1e309`` and non-ASCII digits (``４``) are refused with one line.
    """

    def convert(text: str) -> float:
        if not text.isascii() or len(text) > 40:
            raise argparse.ArgumentTypeError(f"expected a number from {low:g} to {high:g}")
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, found {_clip(text, 40)!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"expected a number from {low:g} to {high:g}, found {text}")
        return value + 0.0  # -0.0 -> 0.0

    convert.__name__ = "number"  # argparse names the type in its message
    return convert


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high``, in plain ASCII digits."""

    def convert(text: str) -> int:
        if not (text.isascii() and text.lstrip("-").isdigit() and len(text) <= 12
                and low <= int(text) <= high):
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, "
                                             f"found {_clip(text, 40)!r}")
        return int(text)

    convert.__name__ = "whole number"
    return convert
