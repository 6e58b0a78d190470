"""Praat TextGrid (long and short text forms; UTF-8 or UTF-16) -> a timeline of one tier.

The phone tier is the one named by ``tier``, else the first named phones/phone/phonemes/
segments, else the only interval tier. Empty intervals are silence: ``sil`` at either end,
``pau`` inside.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING

from lipsync._grammar import grammar
from lipsync._numbers import MAX_LENGTH_SECONDS, decimal, short, whole
from lipsync.errors import ParseError, SourceError, quote
from lipsync.names import name_fault
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    from lark import Token

__all__ = ["decode_textgrid", "read_textgrid"]

#: xmin, xmax, text, and the line of the text (for errors).
_Interval = tuple[Fraction, Fraction, str, int]
_PHONE_TIERS = ("phones", "phone", "phonemes", "phoneme", "segments")


def decode_textgrid(data: bytes) -> str:
    """TextGrids are UTF-16 when they start with its BOM, else UTF-8."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    return data.decode("utf-8").removeprefix("\ufeff")


class _Values:
    """The value stream, read front to back with errors that point at the token.

    Tokens are lexed as they are read, never held all at once: a file of a million intervals
    costs the intervals, not millions of token objects too.
    """

    def __init__(self, tokens: Iterator[Token], text: str, source: str) -> None:
        self.tokens, self.text, self.source = tokens, text, source
        self.last: Token | None = None

    def _next(self, kind: str, what: str) -> Token:
        from lark.exceptions import UnexpectedInput

        try:
            token = next(self.tokens, None)
        except UnexpectedInput as exc:
            raise ParseError(
                self.source, exc.line, exc.column, "a number, a \"string\" or a <flag>", "a stray character",
                text=self.text,
            ) from None
        if token is None:
            lines = self.text.splitlines() or [""]
            raise ParseError(self.source, len(lines), len(lines[-1]) + 1, what, "end of file")
        if token.type != kind:
            raise ParseError(
                self.source, token.line or 1, token.column or 1, what, quote(str(token)), text=self.text
            )
        self.last = token
        return token

    def string(self, what: str) -> str:
        return str(self._next("STRING", what))[1:-1].replace('""', '"')

    def number(self, what: str) -> Fraction:
        token = self._next("NUMBER", what)
        value = decimal(str(token))
        if value is None or abs(value) > MAX_LENGTH_SECONDS:
            raise ParseError(
                self.source, token.line or 1, token.column or 1,
                f"{what} (seconds, within {MAX_LENGTH_SECONDS // 3600} hours)", quote(str(token)),
                text=self.text,
            )
        return value

    def count(self, what: str) -> int:
        token = self._next("NUMBER", what)
        value = whole(str(token))
        if value is None or str(token).startswith("+"):
            raise ParseError(self.source, token.line or 1, token.column or 1,
                             f"{what} (a whole number)", quote(str(token)), text=self.text)
        return value

    def flag(self, what: str) -> str:
        return str(self._next("FLAG", what))

    def place(self) -> tuple[int, int]:
        token = self.last
        return (1, 1) if token is None else (token.line or 1, token.column or 1)


def read_textgrid(text: str, source: str, *, tier: str | None = None) -> Timeline:
    """Read the phone tier of a TextGrid as a timeline."""
    values = _Values(iter(grammar("lipsync.labels", "textgrid.lark").lex(text)), text, source)
    if values.string('"ooTextFile"') != "ooTextFile" or values.string('"TextGrid"') != "TextGrid":
        line, column = values.place()
        raise ParseError(source, line, column, 'File type "ooTextFile", Object class "TextGrid"',
                         "another kind of file", text=text)
    values.number("the grid's xmin")
    values.number("the grid's xmax")
    if values.flag("<exists>") != "<exists>":
        raise SourceError(source, 1, 1, "expected tiers, found a TextGrid without tiers")
    tiers: dict[str, tuple[int, list[_Interval]]] = {}
    for _ in range(values.count("the number of tiers")):
        kind = values.string('a tier class ("IntervalTier" or "TextTier")')
        name = values.string("a tier name")
        line, _ = values.place()
        values.number("the tier's xmin")
        values.number("the tier's xmax")
        size = values.count("the number of intervals")
        items: list[_Interval] = []
        for _ in range(size):
            if kind == "IntervalTier":
                start = values.number("an interval's xmin")
                end = values.number("an interval's xmax")
                label = values.string("an interval's text")
                items.append((start, end, label, values.place()[0]))
            else:
                values.number("a point's time")
                values.string("a point's mark")
        if kind == "IntervalTier":
            tiers.setdefault(name, (line, items))
    chosen = _choose_tier(tiers, tier, source)
    return _tier_timeline(*tiers[chosen], source, text)


def _choose_tier(tiers: Mapping[str, object], wanted: str | None, source: str) -> str:
    # Name a few tiers, not all of them: a file may have thousands.
    names = ", ".join(short(n, 30) for n in list(tiers)[:5]) or "none"
    if len(tiers) > 5:
        names += f" and {len(tiers) - 5} more"
    if wanted is not None:
        if wanted not in tiers:
            raise SourceError(
                source, 1, 1, f"expected an interval tier named {short(wanted, 30)}, found {names}"
            )
        return wanted
    for name in tiers:
        if name.lower() in _PHONE_TIERS:
            return name
    if len(tiers) == 1:
        return next(iter(tiers))
    raise SourceError(source, 1, 1, f"expected a tier named phones (or choose one), found {names}")


def _tier_timeline(line: int, items: list[_Interval], source: str, text: str) -> Timeline:
    if not items:
        raise SourceError(source, line, 1, "expected intervals in the phone tier, found none", text=text)
    spans: list[tuple[str, Fraction]] = []
    previous_end = items[0][0]
    for index, (start, end, label, label_line) in enumerate(items):
        if start != previous_end or end < start:
            raise SourceError(
                source, label_line, 1,
                f"expected interval {index + 1} to start at {float(previous_end)} and not end "
                f"before it starts, found {float(start)}..{float(end)}", text=text,
            )
        name = label.strip() or ("sil" if index in (0, len(items) - 1) else "pau")
        fault = name_fault(name)
        if fault:
            raise SourceError(
                source, label_line, 1, f"interval {index + 1} {short(name)}: {fault}", text=text
            )
        spans.append((name, end - start))
        previous_end = end
    return Timeline(spans, start=items[0][0], allow_empty=True)
