"""Phoneme timelines and their text form, the LIPSYNC sequence ``sil,187,k,75,...``.

A ``Timeline`` is a run of back-to-back ``Phone`` spans with exact times (``Fraction``
seconds, so 100 ns label units, 48 kHz samples and VOICEVOX's 256/24000 s frames all stay
exact). It is built only through validation: names follow ``lipsync.names``, durations are
never negative, and zero-length spans are kept only when a reader says its source had them.

Whole milliseconds are written with carried rounding: each phone ends at the true end time
rounded to the millisecond, so the running sum is never more than 0.5 ms off, however long
the speech.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

from lipsync._numbers import MAX_LENGTH_SECONDS, MAX_NUMBER_CHARS, MAX_SPAN_SECONDS, decimal, short
from lipsync.errors import SourceError, ValueRefused
from lipsync.names import check_alias, check_sequence, name_fault

__all__ = ["MESSAGE_LIMIT", "PAUSES", "Chunk", "Phone", "Timeline", "start_line", "stop_line"]

#: The default byte limit of a LIPSYNC_START line (MMDAgent-EX cuts at 2047 bytes).
MESSAGE_LIMIT = 2000
_MS = Fraction(1, 1000)
_DURATION = re.compile(r"[0-9]+(\.[0-9]+)?\Z")  # ASCII digits: C reads no others
#: Phoneme names that mean a closed mouth at rest: no speech.
PAUSES = frozenset({"sil", "pau"})
_PAUSES = frozenset({"pau", "sil", "sp", "silB", "silE"})
_ALIAS_RESERVE = 64


def _round_ms(seconds: Fraction) -> int:
    """Round to whole milliseconds, halves up (exact: no float on the way)."""
    return math.floor(seconds * 1000 + Fraction(1, 2))


@dataclass(frozen=True)
class Phone:
    """One phoneme span: its Open JTalk-style name, start and duration in seconds."""

    name: str
    start: Fraction
    duration: Fraction

    @property
    def end(self) -> Fraction:
        return self.start + self.duration

    @property
    def start_ms(self) -> float:
        return float(self.start * 1000)

    @property
    def duration_ms(self) -> float:
        return float(self.duration * 1000)


def start_line(alias: str, sequence: str) -> str:
    """The LIPSYNC_START message for ``alias`` and ``sequence`` (both checked), with its ``\\n``."""
    return f"LIPSYNC_START|{check_alias(alias)}|{check_sequence(sequence)}\n"


def stop_line(alias: str) -> str:
    """The LIPSYNC_STOP message for ``alias`` (checked), with its ``\\n``."""
    return f"LIPSYNC_STOP|{check_alias(alias)}\n"


class Timeline:
    """Back-to-back phoneme spans from ``start`` on; immutable, compared by value."""

    __slots__ = ("_durations", "_names", "start")

    _names: tuple[str, ...]
    _durations: tuple[Fraction, ...]
    start: Fraction

    def __init__(
        self,
        spans: Iterable[tuple[str, Fraction | int | float | str]],
        *,
        start: Fraction | int = 0,
        allow_empty: bool = False,
    ) -> None:
        """Make a timeline from ``(name, duration in seconds)`` pairs.

        Durations may be ``Fraction``, ``int``, decimal ``str`` or ``float`` (taken as the
        decimal it prints as). Zero-length spans are refused unless ``allow_empty``. A span
        lasts at most an hour and the whole timeline ends within 6 hours
        (``lipsync._numbers``): past that a file is wrong, not long.
        """
        names: list[str] = []
        durations: list[Fraction] = []
        origin = _seconds(start, -1, "start")
        if not 0 <= origin <= MAX_LENGTH_SECONDS:
            raise ValueRefused(f"a timeline starts between 0 and {MAX_LENGTH_SECONDS} s, not {short(start)}")
        end = origin
        for index, (name, duration) in enumerate(spans):
            fault = name_fault(name)
            if fault:
                raise ValueRefused(f"phoneme {index + 1} {short(name)}: {fault}")
            value = _seconds(duration, index, name)
            if value < 0 or (value == 0 and not allow_empty):
                raise ValueRefused(
                    f"phoneme {index + 1} {short(name)} has duration {float(value)} s: "
                    "spans must be longer than zero"
                )
            if value > MAX_SPAN_SECONDS:
                raise ValueRefused(
                    f"phoneme {index + 1} {short(name)} lasts {float(value):.6g} s: longer than the "
                    f"{MAX_SPAN_SECONDS} s a span may last (is the file in another unit?)"
                )
            end += value
            if end > MAX_LENGTH_SECONDS:
                raise ValueRefused(
                    f"phoneme {index + 1} {short(name)} ends at {float(end):.6g} s: past the "
                    f"{MAX_LENGTH_SECONDS} s a timeline may last (is the file in another unit?)"
                )
            names.append(name)
            durations.append(value)
        self._names = tuple(names)
        self._durations = tuple(durations)
        self.start = origin

    # -- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[Phone]:
        at = self.start
        for name, duration in zip(self._names, self._durations, strict=True):
            yield Phone(name, at, duration)
            at += duration

    def __getitem__(self, index: int) -> Phone:
        return list(self)[index]

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def durations(self) -> tuple[Fraction, ...]:
        return self._durations

    @property
    def duration(self) -> Fraction:
        return sum(self._durations, Fraction(0))

    @property
    def end(self) -> Fraction:
        return self.start + self.duration

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timeline):
            return NotImplemented
        return (self._names, self._durations, self.start) == (
            other._names, other._durations, other.start,
        )

    def __hash__(self) -> int:
        return hash((self._names, self._durations, self.start))

    def __repr__(self) -> str:
        return f"<Timeline {len(self)} phonemes, {float(self.duration):.3f} s from {float(self.start):.3f} s>"

    def with_names(self, names: Sequence[str]) -> Timeline:
        """The same spans under other names (one per span)."""
        if len(names) != len(self._names):
            raise ValueRefused(f"{len(names)} names for {len(self._names)} spans")
        return Timeline(zip(names, self._durations, strict=True), start=self.start, allow_empty=True)

    def shifted(self, start: Fraction | int) -> Timeline:
        """The same spans starting at ``start``."""
        return Timeline(zip(self._names, self._durations, strict=True), start=start, allow_empty=True)

    def since(self, offset: Fraction) -> Timeline:
        """What is left ``offset`` seconds after the start: later spans, the current one cut."""
        spans: list[tuple[str, Fraction]] = []
        at = Fraction(0)
        for name, duration in zip(self._names, self._durations, strict=True):
            end = at + duration
            if end > offset:
                spans.append((name, end - max(at, offset)))
            at = end
        return Timeline(spans, start=self.start + min(offset, at), allow_empty=True)

    def __add__(self, other: Timeline) -> Timeline:
        """This timeline followed by ``other`` (whose own start is ignored)."""
        spans = list(zip(self._names + other._names, self._durations + other._durations, strict=True))
        return Timeline(spans, start=self.start, allow_empty=True)

    # -- the LIPSYNC sequence -------------------------------------------------------------

    def milliseconds(self) -> list[int]:
        """Whole-ms durations with carried rounding: each end is the true end, rounded."""
        result: list[int] = []
        origin = _round_ms(self.start)
        at = self.start
        previous = origin
        for duration in self._durations:
            at += duration
            end = _round_ms(at)
            result.append(end - previous)
            previous = end
        return result

    def to_sequence(self) -> str:
        """``sil,187,k,75,...``: names and whole milliseconds, as LIPSYNC_START carries."""
        return ",".join(f"{n},{ms}" for n, ms in zip(self._names, self.milliseconds(), strict=True))

    @classmethod
    def from_sequence(cls, text: str, source: str = "<sequence>") -> Timeline:
        """Parse ``name,ms,name,ms,...``; faults name the column of the bad field."""
        text = text.strip()
        if not text:
            raise SourceError(source, 1, 1, "expected a phoneme name, found an empty sequence")
        fields = text.split(",")
        spans: list[tuple[str, Fraction]] = []
        column = 1
        for index, field in enumerate(fields):
            if index % 2 == 0:
                fault = name_fault(field)
                if fault:
                    raise SourceError(
                        source, 1, column, f"expected a phoneme name, found {short(field)}: {fault}",
                        text=text,
                    )
            elif len(field) > MAX_NUMBER_CHARS or not _DURATION.match(field):
                raise SourceError(
                    source, 1, column,
                    f"expected a duration in milliseconds after {short(fields[index - 1])}, "
                    f"found {short(field)}",
                    text=text,
                )
            else:
                spans.append((fields[index - 1], Fraction(field) * _MS))
            column += len(field) + 1
        if len(fields) % 2:
            raise SourceError(
                source, 1, len(text) + 1,
                f"expected a duration in milliseconds after {short(fields[-1])}, found end of sequence",
                text=text,
            )
        return cls(spans, allow_empty=True)

    def chunks(self, max_bytes: int = MESSAGE_LIMIT, *, alias: str | None = None) -> list[Chunk]:
        """Split into consecutive chunks whose LIPSYNC_START line is under ``max_bytes``.

        The line's size counts ``alias`` (checked) and the newline; without an alias, 64
        bytes are kept for one.

        Cuts fall on phoneme boundaries, after a pause where one is in the second half of
        the chunk. Milliseconds are rounded over the whole timeline, so the chunks'
        sequences joined with ``,`` equal ``to_sequence()``.
        """
        reserve = "x" * _ALIAS_RESERVE if alias is None else alias
        head = len(f"LIPSYNC_START|{check_alias(reserve)}|".encode())
        tokens = [
            f"{n},{ms}" for n, ms in zip(self._names, self.milliseconds(), strict=True)
        ]
        sizes = [len(t.encode()) for t in tokens]
        phones = list(self)
        result: list[Chunk] = []
        first = 0
        while first < len(tokens):
            size = head + 1  # the newline
            last = first
            while last < len(tokens) and size + sizes[last] + (last > first) < max_bytes:
                size += sizes[last] + (last > first)
                last += 1
            if last == first:
                raise ValueRefused(f"phoneme {tokens[first]!r} alone does not fit in {max_bytes} bytes")
            if last < len(tokens):
                pauses = [
                    cut for cut in range(last, first + (last - first) // 2, -1)
                    if self._names[cut - 1] in _PAUSES
                ]
                if pauses:
                    last = pauses[0]
            span = phones[first:last]
            timeline = Timeline(
                [(p.name, p.duration) for p in span], start=span[0].start, allow_empty=True
            )
            result.append(Chunk(timeline, ",".join(tokens[first:last])))
            first = last
        return result


@dataclass(frozen=True)
class Chunk:
    """A piece of a timeline small enough for one LIPSYNC_START line."""

    timeline: Timeline
    sequence: str

    @property
    def start(self) -> Fraction:
        return self.timeline.start

    def line(self, alias: str) -> str:
        return start_line(alias, self.sequence)


def _seconds(value: object, index: int, name: object) -> Fraction:
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError
            return Fraction(repr(value))
        if isinstance(value, str):
            exact = decimal(value.strip())
            if exact is None:
                raise ValueError
            return exact
        if isinstance(value, int | Fraction):
            return Fraction(value)
        raise TypeError
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueRefused(
            f"phoneme {index + 1} {short(name)}: duration {short(value)} is not a number"
        ) from None
