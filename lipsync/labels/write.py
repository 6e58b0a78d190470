"""Timeline -> label files other tools open: HTK ``.lab``, Praat ``.TextGrid``, Audacity, JSON.

Every writer keeps the timeline's start: a timeline that begins 0.5 s into its audio is
written from 0.5 s on, and ``lipsync.labels.read_labels`` reads it back from there. Each
boundary is the exact time rounded once (100 ns for HTK, 1 ns for TextGrid, 1 µs for
Audacity), so a long file never drifts and neighbouring spans share the same written time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

from lipsync.errors import ValueRefused
from lipsync.labels.segments import format_mono
from lipsync.timeline import Timeline

__all__ = [
    "LABEL_FORMATS",
    "format_audacity",
    "format_json",
    "format_lab",
    "format_textgrid",
    "label_format_for",
]


def _decimal(seconds: Fraction, places: int, *, trim: bool) -> str:
    """``seconds`` rounded (halves up) to ``places`` decimals; ``trim`` drops trailing zeros."""
    scaled = math.floor(seconds * 10**places + Fraction(1, 2))
    whole, part = divmod(scaled, 10**places)
    digits = f"{part:0{places}d}"
    if trim:
        digits = digits.rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def format_lab(timeline: Timeline) -> str:
    """An HTK mono label: ``start end phoneme`` per line, in 100 ns integers."""
    return format_mono(timeline)


def format_textgrid(timeline: Timeline) -> str:
    """A Praat TextGrid (long text form, UTF-8) with one IntervalTier named ``phones``.

    The grid spans the timeline itself, from its start to its end.
    """
    start = _decimal(timeline.start, 9, trim=True)
    end = _decimal(timeline.end, 9, trim=True)
    lines = [
        'File type = "ooTextFile"',
        'Object class = "TextGrid"',
        "",
        f"xmin = {start} ",
        f"xmax = {end} ",
        "tiers? <exists> ",
        "size = 1 ",
        "item []: ",
        "    item [1]:",
        '        class = "IntervalTier" ',
        '        name = "phones" ',
        f"        xmin = {start} ",
        f"        xmax = {end} ",
        f"        intervals: size = {len(timeline)} ",
    ]
    for index, phone in enumerate(timeline, start=1):
        name = phone.name.replace('"', '""')
        lines += [
            f"        intervals [{index}]:",
            f"            xmin = {_decimal(phone.start, 9, trim=True)} ",
            f"            xmax = {_decimal(phone.end, 9, trim=True)} ",
            f'            text = "{name}" ',
        ]
    return "\n".join(lines) + "\n"


def format_audacity(timeline: Timeline) -> str:
    """An Audacity label track: ``start<TAB>end<TAB>label`` in seconds (6 decimals), per line."""
    return "".join(
        f"{_decimal(p.start, 6, trim=False)}\t{_decimal(p.end, 6, trim=False)}\t{p.name}\n"
        for p in timeline
    )


def format_json(
    timeline: Timeline, *, sample_rate: int | None = None, samples: int | None = None,
    confidence: Sequence[float] | None = None,
) -> str:
    """The JSON ``lipsync timeline --json`` prints, one line with its newline.

    ``sample_rate`` and ``samples`` (the audio's) come first when given; then ``phonemes``,
    each ``{name, start_ms, duration_ms}`` with exact times as floats, and, for an alignment,
    its ``confidence`` (0 to 1, one per phoneme: ``lipsync.alignment``). Readers of the
    timeline JSON take the first three keys and leave the rest.
    """
    if confidence is not None and len(confidence) != len(timeline):
        raise ValueRefused(f"{len(confidence)} confidences for {len(timeline)} phonemes")
    data: dict[str, object] = {}
    if sample_rate is not None:
        data["sample_rate"] = sample_rate
    if samples is not None:
        data["samples"] = samples
    phonemes: list[dict[str, object]] = [
        {"name": p.name, "start_ms": p.start_ms, "duration_ms": p.duration_ms} for p in timeline
    ]
    if confidence is not None:
        for entry, value in zip(phonemes, confidence, strict=True):
            entry["confidence"] = value
    data["phonemes"] = phonemes
    return json.dumps(data, ensure_ascii=False) + "\n"


#: Writers by format name; each takes a timeline and returns the file's text.
LABEL_FORMATS: dict[str, Callable[[Timeline], str]] = {
    "lab": format_lab,
    "textgrid": format_textgrid,
    "audacity": format_audacity,
    "json": format_json,
}

_EXTENSIONS = {".lab": "lab", ".textgrid": "textgrid", ".txt": "audacity", ".json": "json"}


def label_format_for(path: str | Path) -> str | None:
    """The label format a file name asks for by its extension (None: not a label file)."""
    return _EXTENSIONS.get(Path(path).suffix.lower())
