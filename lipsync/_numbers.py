"""Numbers from files, read the way MMDAgent-EX's C code reads them, and the bounds we keep.

Every number in a label file, TextGrid, AudioQuery, lip map or sequence goes through here:
ASCII digits only (``str.isdigit`` and ``\\d`` accept ``４``, which C's ``atof`` does not),
at most ``MAX_NUMBER_CHARS`` characters, finite, and exact (``Fraction``) without ever
building ``10**999999999``. The bounds stop a hostile or mistaken file (a label forced to
the wrong unit) from asking for days of speech or gigabytes of samples:

- one phoneme or pause lasts at most ``MAX_SPAN_SECONDS`` (1 hour);
- a timeline starts and ends within ``MAX_LENGTH_SECONDS`` (6 hours);
- ``curves`` samples at 1 to 1000 fps and makes at most ``MAX_CURVE_VALUES`` values.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = [
    "MAX_COUNT_DIGITS",
    "MAX_CURVE_VALUES",
    "MAX_FPS",
    "MAX_JSON_DEPTH",
    "MAX_LENGTH_SECONDS",
    "MAX_NUMBER_CHARS",
    "MAX_SPAN_SECONDS",
    "decimal",
    "finite",
    "short",
    "whole",
]

MAX_NUMBER_CHARS = 40
MAX_COUNT_DIGITS = 9
MAX_SPAN_SECONDS = 3600
MAX_LENGTH_SECONDS = 6 * 3600
MAX_FPS = 1000
MAX_CURVE_VALUES = 10_000_000  # about 0.5 GB on the way to JSON: 6 h at 60 fps of 7 morphs
MAX_JSON_DEPTH = 64
_MAX_EXPONENT = 30

_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE]([+-]?[0-9]+))?\Z")
_WHOLE = re.compile(r"\+?[0-9]+\Z")


def decimal(text: str, *, signed: bool = True) -> Fraction | None:
    """The exact value of a plain ASCII decimal (``12``, ``0.5``, ``2.5e-3``), or None.

    None for anything longer than ``MAX_NUMBER_CHARS``, with an exponent beyond ±30, with
    a sign when ``signed`` is false, or not a decimal at all (``nan``, ``inf``, ``４``).
    """
    if len(text) > MAX_NUMBER_CHARS:
        return None
    match = _DECIMAL.match(text)
    if match is None or (not signed and text[0] in "+-"):
        return None
    exponent = match.group(4)
    if exponent is not None and abs(int(exponent)) > _MAX_EXPONENT:
        return None
    return Fraction(text)


def whole(text: str, *, digits: int = MAX_COUNT_DIGITS) -> int | None:
    """A count in plain ASCII digits (at most ``digits`` of them, ``+`` allowed), or None."""
    if len(text) > digits + 1 or not _WHOLE.match(text) or len(text.lstrip("+")) > digits:
        return None
    return int(text)


def finite(value: object) -> bool:
    """True for an int or float that is a finite number (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) if isinstance(value, float) else abs(value) < 10**30


def short(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for echoing a hostile input in a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
