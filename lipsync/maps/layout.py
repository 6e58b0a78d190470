"""A lip map's text: decoding, where each token stands, validation, warnings, and text edits.

The ``LipMap`` type (``lipsync.maps.lipmap``) is built on these: it keeps its text and this
layout, so an edit rewrites only the tokens it changes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from lipsync._grammar import grammar
from lipsync._numbers import whole
from lipsync.errors import ParseError, SourceError, ValueRefused, quote
from lipsync.maps.phonemes import ALIASES, OPEN_JTALK_PHONEMES
from lipsync.names import name_fault

if TYPE_CHECKING:
    from lark import Token

__all__ = [
    "BOM", "CODECS", "Layout", "LipWarning", "Row", "Splice", "checked_weights", "decode", "find_warnings",
    "format_weight", "line_bounds", "parse_layout", "row_text", "validate",
]

#: Encodings a lip map may have, as ``LipMap.encoding`` names them, and their codecs.
CODECS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "shift_jis": "cp932"}
BOM = b"\xef\xbb\xbf"
_SJIS_MORPH_LIMIT = 15  # bytes: MMDAgent-EX (the VMD format) cuts morph names here
logger = logging.getLogger("lipsync.maps")


@dataclass(frozen=True)
class LipWarning:
    """Something MMDAgent-EX accepts but that will not do what the author meant."""

    source: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: warning: {self.message}"


@dataclass(frozen=True)
class Row:
    name: Token
    weights: tuple[Token, ...]


@dataclass(frozen=True)
class Layout:
    """Where each token of the map stands in its text."""

    morph_count: Token
    morphs: tuple[Token, ...]
    phoneme_count: Token
    rows: tuple[Row, ...]


def decode(data: bytes, source: str) -> tuple[str, str]:
    """Detect the encoding of a lip map; return (text, encoding name)."""
    if data.startswith(BOM):
        try:
            return data[len(BOM) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise _undecodable(data, exc, source, "UTF-8 text after the BOM") from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_exc:
        try:
            return data.decode("cp932"), "shift_jis"
        except UnicodeDecodeError:
            raise _undecodable(data, utf8_exc, source, "UTF-8 or Shift_JIS text") from utf8_exc


def _undecodable(data: bytes, exc: UnicodeDecodeError, source: str, expected: str) -> ParseError:
    head = data[: exc.start]
    line = head.count(b"\n") + 1
    column = exc.start - (head.rfind(b"\n") + 1) + 1
    return ParseError(source, line, column, expected, f"byte 0x{data[exc.start]:02x}")


def _end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1].rstrip("\r")) + 1


_EXPECTED = {
    frozenset({"NUMBER"}): "the morph count (a positive integer)",
    frozenset({"NAME", "NUMBER"}): "a morph name or the phoneme count",
    frozenset({"NAME", "$END"}): "a phoneme name",
}


def parse_layout(text: str, source: str) -> Layout:
    from lark import Token as LarkToken
    from lark.exceptions import UnexpectedInput, UnexpectedToken

    try:
        tree = grammar("lipsync.maps", "lipmap.lark").parse(text)
    except UnexpectedToken as exc:
        expected = _EXPECTED.get(frozenset(exc.expected), " or ".join(sorted(exc.expected)))
        if exc.token.type == "$END":
            line, column = _end_position(text)
            raise ParseError(source, line, column, expected, "end of file", text=text) from None
        raise ParseError(
            source, exc.line, exc.column, expected, quote(str(exc.token)), text=text
        ) from None
    except UnexpectedInput as exc:  # pragma: no cover - NAME matches every other character
        raise ParseError(source, exc.line, exc.column, "a token", "a stray character") from None
    morph_count = tree.children[0]
    morphs: list[Token] = []
    rows: list[Row] = []
    phoneme_count = None
    for child in tree.children[1:]:
        if isinstance(child, LarkToken):
            phoneme_count = child
        elif child.data == "morph":
            morphs.append(cast("Token", child.children[0]))
        else:
            name, *weights = cast("list[Token]", child.children)
            rows.append(Row(name, tuple(weights)))
    assert isinstance(morph_count, LarkToken) and phoneme_count is not None
    return Layout(morph_count, tuple(morphs), phoneme_count, tuple(rows))


def _fail(source: str, text: str, token: Token, expected: str, found: str | None = None) -> SourceError:
    return ParseError(
        source, token.line or 1, token.column or 1, expected,
        found if found is not None else quote(str(token)), text=text,
    )


def _read_count(source: str, text: str, token: Token, what: str) -> int:
    count = whole(str(token))
    if count is None or count <= 0:
        raise _fail(source, text, token, f"the {what} count (a positive integer of at most 9 digits)")
    return count


def _read_weight(source: str, text: str, token: Token) -> float:
    value = float(token)  # linear in the token's length, and format_weight writes 1e-300 in full
    if value < 0:
        raise _fail(source, text, token, "a weight of 0 or more")
    if value == math.inf:  # 1e309 or 400 digits: C reads infinity, JSON cannot carry it
        raise _fail(source, text, token, "a finite weight")
    return value


def _check_name(source: str, text: str, token: Token, what: str) -> str:
    fault = name_fault(str(token))
    if fault:
        raise SourceError(
            source, token.line or 1, token.column or 1, f"{what} {quote(str(token))}: {fault}",
            text=text,
        )
    return str(token)


def validate(
    layout: Layout, text: str, source: str
) -> tuple[tuple[str, ...], dict[str, tuple[float, ...]]]:
    n_morphs = _read_count(source, text, layout.morph_count, "morph")
    if len(layout.morphs) < n_morphs:
        raise _fail(
            source, text, layout.phoneme_count, f"{n_morphs} morph names (declared at line "
            f"{layout.morph_count.line}), then the phoneme count",
            f"{len(layout.morphs)} names, then {quote(str(layout.phoneme_count))}",
        )
    if len(layout.morphs) > n_morphs:
        extra = layout.morphs[n_morphs]
        raise _fail(
            source, text, extra,
            f"the phoneme count after {n_morphs} morph names (declared at line "
            f"{layout.morph_count.line})",
        )
    morphs: dict[str, None] = {}  # a dict, not a list: membership stays O(1) for 10^5 morphs
    for token in layout.morphs:
        name = _check_name(source, text, token, "morph name")
        if name in morphs:
            raise _fail(source, text, token, "a morph name not used before", f"duplicate {quote(name)}")
        morphs[name] = None
    n_phonemes = _read_count(source, text, layout.phoneme_count, "phoneme")
    rows: dict[str, tuple[float, ...]] = {}
    for index, row in enumerate(layout.rows):
        if index >= n_phonemes:
            raise _fail(
                source, text, row.name,
                f"end of file after {n_phonemes} phoneme rows (declared at line "
                f"{layout.phoneme_count.line})",
                f"another row {quote(str(row.name))}",
            )
        if len(row.weights) < n_morphs:
            following = layout.rows[index + 1].name if index + 1 < len(layout.rows) else None
            if following is not None and following.line == (row.weights or (row.name,))[-1].line:
                raise _fail(source, text, following, "a weight (a number)")
            last = (row.weights or (row.name,))[-1]
            raise ParseError(
                source, last.end_line or 1, (last.end_column or 1), f"{n_morphs} weights for "
                f"phoneme {quote(str(row.name))}", f"{len(row.weights)}", text=text,
            )
        if len(row.weights) > n_morphs:
            extra = row.weights[n_morphs]
            if extra.line != row.name.line:
                raise _fail(source, text, extra, "a phoneme name")
            raise _fail(
                source, text, extra,
                f"the end of row {quote(str(row.name))} after {n_morphs} weights",
                f"another weight {quote(str(extra))}",
            )
        name = _check_name(source, text, row.name, "phoneme name")
        if name in rows:
            raise _fail(source, text, row.name, "a phoneme not listed before", f"duplicate {quote(name)}")
        rows[name] = tuple(_read_weight(source, text, w) for w in row.weights)
    if len(rows) < n_phonemes:
        line, column = _end_position(text)
        raise ParseError(
            source, line, column, f"{n_phonemes} phoneme rows (declared at line "
            f"{layout.phoneme_count.line})", f"end of file after {len(rows)}", text=text,
        )
    return tuple(morphs), rows


def find_warnings(
    layout: Layout, rows: Mapping[str, tuple[float, ...]], encoding: str, source: str
) -> tuple[LipWarning, ...]:
    found: list[LipWarning] = []

    def warn(token: Token | None, message: str) -> None:
        line, column = (token.line or 1, token.column or 1) if token is not None else (1, 1)
        found.append(LipWarning(source, line, column, message))

    if encoding == "utf-8-sig":
        warn(None, "UTF-8 byte order mark: MMDAgent-EX cannot load this file (save it without a BOM)")
    for token in layout.morphs:
        try:
            size = len(str(token).encode("cp932"))
        except UnicodeEncodeError:
            warn(token, f"morph {quote(str(token))} has no Shift_JIS form: MMDAgent-EX will never match it")
            continue
        if size > _SJIS_MORPH_LIMIT:
            warn(
                token,
                f"morph {quote(str(token))} is {size} bytes in Shift_JIS; MMDAgent-EX cuts it to "
                f"{_SJIS_MORPH_LIMIT}, so it will not match a model morph",
            )
    for row in layout.rows:
        for token in row.weights:
            if float(token) > 1:
                warn(token, f"weight {token} of {quote(str(row.name))} is above 1")
    # A phoneme whose alias the map has is sent as that alias (gw as g in the stock map).
    missing = [p for p in OPEN_JTALK_PHONEMES if p not in rows and ALIASES.get(p) not in rows]
    if missing:
        warn(
            layout.phoneme_count,
            "Open JTalk phonemes missing, with no alias in the map (MMDAgent-EX draws them as "
            "the first row): "
            + ", ".join(missing),
        )
    return tuple(found)


def format_weight(value: float) -> str:
    """Write a weight as a plain decimal that reads back as the same float (``0.5``, ``1.0``)."""
    text = format(Decimal(repr(float(value))), "f")
    return text if "." in text else text + ".0"


def checked_weights(weights: Iterable[object], count: int, phoneme: str) -> tuple[float, ...]:
    values: list[float] = []
    for raw in weights:
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueRefused(f"weight {raw!r} for {phoneme!r} is not a number") from None
        if not (value >= 0 and value != float("inf")):
            raise ValueRefused(f"weight {raw!r} for {phoneme!r} must be a finite number of 0 or more")
        values.append(value + 0.0)  # -0.0 -> 0.0
    if len(values) != count:
        raise ValueRefused(f"{phoneme!r} needs {count} weights (one per morph), got {len(values)}")
    return tuple(values)


class Splice:
    """Edits to a text, applied together from the end so earlier offsets stay valid."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.edits: list[tuple[int, int, str]] = []

    def insert(self, at: int, new: str) -> None:
        self.edits.append((at, at, new))

    def delete(self, start: int, end: int) -> None:
        self.edits.append((start, end, ""))

    def replace(self, token: Token, new: str) -> None:
        """Replace a token, taking up or giving back padding after it to keep later columns."""
        start, end = token.start_pos or 0, token.end_pos or 0
        gap_end = end
        while gap_end < len(self.text) and self.text[gap_end] == " ":
            gap_end += 1
        gap = gap_end - end
        at_line_end = gap_end >= len(self.text) or self.text[gap_end] in "\r\n"
        if gap == 0 or at_line_end:
            self.edits.append((start, end, new))
            return
        width = max(1, gap + (end - start) - len(new))
        self.edits.append((start, gap_end, new + " " * width))

    def result(self) -> str:
        # One pass over the text in edit order: linear however many rows an edit touches.
        pieces: list[str] = []
        at = 0
        for start, end, new in sorted(self.edits, key=lambda e: (e[0], e[1])):
            pieces.append(self.text[at:start])
            pieces.append(new)
            at = max(at, end)
        pieces.append(self.text[at:])
        return "".join(pieces)


def line_bounds(text: str, pos: int) -> tuple[int, int]:
    """Return (start of the line holding ``pos``, end of its content before the newline)."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    if end > start and text[end - 1] == "\r":
        end -= 1
    return start, end


def row_text(text: str, template: Row, name: str, weights: Sequence[float]) -> str:
    """Lay out a new row like ``template``: its separators, its weights' columns where spaces allow."""
    tokens = (template.name, *template.weights)
    if any(t.line != template.name.line for t in tokens):
        return " ".join([name, *(format_weight(w) for w in weights)])
    origin = template.name.start_pos or 0
    row = name
    aligned = True  # a tab in the template makes columns unknowable: copy gaps from then on
    for previous, token, value in zip(tokens, template.weights, weights, strict=False):
        gap = text[previous.end_pos : token.start_pos]
        aligned = aligned and not gap.strip(" ")
        if aligned:
            gap = " " * max(1, (token.start_pos or 0) - origin - len(row))
        row += gap + format_weight(value)
    return row
