"""Segment label files: ``START END PHONEME`` per line.

- HTS full-context labels: times in 100 ns units, the phoneme between ``-`` and ``+``.
- HTS/HTK mono labels: the same with just the phoneme; some tools write seconds instead,
  told apart by the numbers (any decimal point means seconds).
- Julius segmentation-kit / WaveSurfer: seconds (``0.0000000 0.2650000 silB``).

A gap between two segments becomes a ``pau`` span (``sil`` before the first); overlapping
or backwards segments are errors. Zero-length segments are kept: the source had them.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from lipsync._numbers import MAX_LENGTH_SECONDS, MAX_NUMBER_CHARS, short
from lipsync.errors import SourceError
from lipsync.names import name_fault
from lipsync.timeline import Timeline

__all__ = ["format_mono", "full_context_phoneme", "is_full_context", "read_segments"]

_HUNDRED_NS = Fraction(1, 10_000_000)
_TIME = re.compile(r"[0-9]+(\.[0-9]*)?\Z")  # ASCII digits only, as C reads them
_QUINPHONE = re.compile(r"[^-^+=/]*\^[^-^+=/]*-([^-^+=/]+)\+")


def is_full_context(label: str) -> bool:
    return "/A:" in label and _QUINPHONE.match(label) is not None


_P = r"[A-Za-z]+"
_V = r"(?:xx|-?\d+)"
#: Open JTalk's whole full-context label, field by field: the HTS engine that times untimed
#: labels crashes on text of any other shape, so nothing else may reach it.
OPEN_JTALK_LABEL = re.compile(
    rf"{_P}\^{_P}-{_P}\+{_P}={_P}/A:{_V}\+{_V}\+{_V}/B:{_V}-{_V}_{_V}/C:{_V}_{_V}\+{_V}"
    rf"/D:{_V}\+{_V}_{_V}/E:{_V}_{_V}!{_V}_{_V}-{_V}/F:{_V}_{_V}#{_V}_{_V}@{_V}_{_V}\|{_V}_{_V}"
    rf"/G:{_V}_{_V}%{_V}_{_V}_{_V}/H:{_V}_{_V}/I:{_V}-{_V}@{_V}\+{_V}&{_V}-{_V}\|{_V}\+{_V}"
    rf"/J:{_V}_{_V}/K:{_V}\+{_V}-{_V}\Z"
)


def full_context_phoneme(label: str) -> str | None:
    """The current phoneme of a full-context label (``xx^sil-k+o=N/A:...`` -> ``k``)."""
    # Open JTalk's labels are printable ASCII; anything else (a NUL above all) would crash
    # the HTS engine that times them.
    if not (label.isascii() and label.isprintable()):
        return None
    match = _QUINPHONE.match(label)
    return match.group(1) if match else None


def read_segments(text: str, source: str, *, seconds: bool | None = None) -> Timeline:
    """Read ``START END LABEL`` lines; ``seconds`` forces the unit (None: tell by the numbers).

    Times are plain ASCII decimals; every segment ends within 6 hours of zero, so a file
    read in the wrong unit is refused instead of becoming days of speech.
    """
    lines = text.splitlines()
    rows: list[tuple[int, str, str, str]] = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            what = "a label without times" if len(fields) == 1 else f"{len(fields)} fields"
            raise SourceError(
                source, number, 1, f"expected START END PHONEME, found {what}", text=text
            )
        rows.append((number, *fields))  # type: ignore[arg-type]
    if not rows:
        raise SourceError(source, 1, 1, "expected START END PHONEME lines, found none")
    if seconds is None:
        seconds = any("." in start or "." in end for _, start, end, _ in rows)
    unit = Fraction(1) if seconds else _HUNDRED_NS
    unit_name = "seconds" if seconds else "100 ns units (an integer)"
    limit = MAX_LENGTH_SECONDS / unit
    spans: list[tuple[str, Fraction]] = []
    first_start: Fraction | None = None
    previous_end: Fraction | None = None
    for number, start_text, end_text, label in rows:
        line = lines[number - 1]
        column = 1
        times = []
        for field in (start_text, end_text):
            column = line.find(field, column - 1) + 1
            if len(field) > MAX_NUMBER_CHARS or not _TIME.match(field) or (not seconds and "." in field):
                raise SourceError(
                    source, number, column, f"expected a time in {unit_name}, found {short(field)}",
                    text=text,
                )
            value = Fraction(field)
            if value > limit:
                raise SourceError(
                    source, number, column, f"expected a time in {unit_name} within "
                    f"{MAX_LENGTH_SECONDS // 3600} hours, found {short(field)} (is this the right --format?)",
                    text=text,
                )
            times.append(value * unit)
            column += len(field)
        start, end = times
        if end < start:
            raise SourceError(
                source, number, line.find(end_text, len(start_text)) + 1,
                f"expected an end time at or after the start {start_text}, found {end_text}", text=text,
            )
        if previous_end is not None and start < previous_end:
            raise SourceError(
                source, number, 1,
                f"expected a start at or after the previous end, found {start_text}", text=text,
            )
        name = full_context_phoneme(label) if "/A:" in label else label
        label_column = line.rfind(label) + 1
        if name is None:
            raise SourceError(
                source, number, label_column,
                "expected a full-context label (p1^p2-p3+p4=p5/A:...)", text=text,
            )
        fault = name_fault(name)
        if fault:
            raise SourceError(
                source, number, label_column, f"phoneme {short(name)}: {fault}", text=text,
            )
        if previous_end is not None and start > previous_end:
            spans.append(("pau", start - previous_end))
        if first_start is None:
            first_start = start
        spans.append((name, end - start))
        previous_end = end
    return Timeline(spans, start=first_start or 0, allow_empty=True)


def format_mono(timeline: Timeline) -> str:
    """An HTK mono label (``start end phoneme``, 100 ns units) with the timeline's times.

    Each boundary is the exact time rounded to 100 ns, so nothing drifts.
    """
    lines = []
    for phone in timeline:
        start = math.floor(phone.start / _HUNDRED_NS + Fraction(1, 2))
        end = math.floor(phone.end / _HUNDRED_NS + Fraction(1, 2))
        lines.append(f"{start} {end} {phone.name}\n")
    return "".join(lines)
