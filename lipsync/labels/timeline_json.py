"""The JSON lipsync writes (``timeline --json``, ``align --json``, ``-o x.json``) -> a timeline.

``{"sample_rate"?, "samples"?, "phonemes": [{"name", "start_ms", "duration_ms"}, ...]}``:
the timeline starts at the first phoneme's ``start_ms``; a gap between two phonemes becomes a
``pau`` (as in segment labels), an overlap is an error.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from lipsync.errors import SourceError, ValueRefused
from lipsync.names import name_fault
from lipsync.timeline import Timeline

__all__ = ["is_timeline_json", "read_timeline_json"]

_MS = Fraction(1, 1000)
#: Starts and durations are floats of milliseconds: allow their rounding, no more.
_SLACK = Fraction(1, 10**6)


def is_timeline_json(text: str) -> bool:
    """Whether ``text`` is lipsync's timeline JSON (an object with ``phonemes``, no AudioQuery keys)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(data, dict) and "phonemes" in data and not (
        {"accent_phrases", "accentPhrases"} & data.keys()
    )


def _ms(item: dict[str, Any], key: str, where: str, source: str) -> Fraction:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise ValueRefused(f"{source}: at {where}.{key}: expected milliseconds, 0 or more, found {value!r}")
    return Fraction(repr(value)) * _MS if isinstance(value, float) else Fraction(value) * _MS


def read_timeline_json(text: str, source: str) -> Timeline:
    """Read lipsync's timeline JSON; errors name the file and the entry."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(source, exc.lineno, exc.colno, f"expected JSON: {exc.msg}", text=text) from None
    phonemes = data.get("phonemes") if isinstance(data, dict) else None
    if not isinstance(phonemes, list) or not phonemes:
        raise ValueRefused(f"{source}: expected an object with a non-empty phonemes list")
    spans: list[tuple[str, Fraction]] = []
    first: Fraction | None = None
    previous_end: Fraction | None = None
    for index, item in enumerate(phonemes):
        where = f"phonemes[{index}]"
        if not isinstance(item, dict):
            raise ValueRefused(f"{source}: at {where}: expected an object, found {item!r}")
        name = item.get("name")
        fault = name_fault(name)
        if fault:
            raise ValueRefused(
                f"{source}: at {where}.name: expected a phoneme name ({fault}), found {name!r}"
            )
        start = _ms(item, "start_ms", where, source)
        duration = _ms(item, "duration_ms", where, source)
        if previous_end is not None:
            if start < previous_end - _SLACK:
                raise ValueRefused(
                    f"{source}: at {where}.start_ms: expected {float(previous_end / _MS)} or later "
                    f"(the previous end), found {float(start / _MS)}"
                )
            if start > previous_end + _SLACK:
                spans.append(("pau", start - previous_end))
        else:
            first = start
        assert isinstance(name, str)
        spans.append((name, duration))
        previous_end = start + duration
    return Timeline(spans, start=first or 0, allow_empty=True)
