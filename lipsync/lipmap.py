"""The phoneme map (MMDAgent-EX ``lip.txt``): parse, validate, edit and write back.

A ``LipMap`` is an immutable value: the morph names, the phonemes in file order and one
weight per morph for each phoneme. It keeps the text it came from, so an edit changes only
the bytes that must change (comments, blank lines, alignment, line endings and encoding of
the rest stay as they were), and ``parse(text).to_bytes() == text`` byte for byte.

Files may be UTF-8, UTF-8 with a BOM (which MMDAgent-EX cannot load: a warning), or
Shift_JIS (MMDAgent before 2015); the encoding is detected and kept.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lipsync._atomic import write_atomic
from lipsync._grammar import grammar
from lipsync._numbers import whole
from lipsync.errors import ParseError, SourceError, ValueRefused, quote
from lipsync.names import check_token_name, name_fault

if TYPE_CHECKING:
    from lark import Token

__all__ = [
    "LipMap",
    "LipWarning",
    "OPEN_JTALK_PHONEMES",
    "load_map",
]

#: Every phoneme Open JTalk emits for speech (``xx``, its "unknown", is left out).
OPEN_JTALK_PHONEMES: tuple[str, ...] = tuple(
    "a i u e o A I U E O N cl pau sil b by ch d dy f g gw gy h hy j k kw ky m my n ny "
    "p py r ry s sh t ts ty v w y z".split()
)

#: Encodings a lip map may have, as ``LipMap.encoding`` names them, and their codecs.
_CODECS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "shift_jis": "cp932"}
_BOM = b"\xef\xbb\xbf"
_SJIS_MORPH_LIMIT = 15  # bytes: MMDAgent-EX (the VMD format) cuts morph names here
logger = logging.getLogger("lipsync.lipmap")


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
class _Row:
    name: Token
    weights: tuple[Token, ...]


@dataclass(frozen=True)
class _Layout:
    """Where each token of the map stands in its text."""

    morph_count: Token
    morphs: tuple[Token, ...]
    phoneme_count: Token
    rows: tuple[_Row, ...]


def _decode(data: bytes, source: str) -> tuple[str, str]:
    """Detect the encoding of a lip map; return (text, encoding name)."""
    if data.startswith(_BOM):
        try:
            return data[len(_BOM) :].decode("utf-8"), "utf-8-sig"
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


def _parse_layout(text: str, source: str) -> _Layout:
    from lark import Token as LarkToken
    from lark.exceptions import UnexpectedInput, UnexpectedToken

    try:
        tree = grammar("lipsync", "lipmap.lark").parse(text)
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
    rows: list[_Row] = []
    phoneme_count = None
    for child in tree.children[1:]:
        if isinstance(child, LarkToken):
            phoneme_count = child
        elif child.data == "morph":
            morphs.append(cast("Token", child.children[0]))
        else:
            name, *weights = cast("list[Token]", child.children)
            rows.append(_Row(name, tuple(weights)))
    assert isinstance(morph_count, LarkToken) and phoneme_count is not None
    return _Layout(morph_count, tuple(morphs), phoneme_count, tuple(rows))


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


def _validate(
    layout: _Layout, text: str, source: str
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


def _warnings(
    layout: _Layout, rows: Mapping[str, tuple[float, ...]], encoding: str, source: str
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
    from lipsync.resolver import ALIASES

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


def _checked_weights(weights: Iterable[object], count: int, phoneme: str) -> tuple[float, ...]:
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


class _Splice:
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


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    """Return (start of the line holding ``pos``, end of its content before the newline)."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    if end > start and text[end - 1] == "\r":
        end -= 1
    return start, end


class LipMap:
    """A validated MMDAgent-EX phoneme map; every edit returns a new ``LipMap``.

    Build one with ``LipMap.load(path)``, ``LipMap.parse(data)`` or ``LipMap.build(...)``.
    Equality compares morphs, phonemes, weights and encoding, not layout.
    """

    __slots__ = (
        "_layout", "_loaded", "_morphs", "_rows", "_text", "encoding", "path", "source", "warnings",
    )

    _layout: _Layout
    #: The file's bytes when this map (or the one it was edited from) was read or saved:
    #: ``save()`` refuses to overwrite the file if it holds other bytes by then.
    _loaded: bytes | None
    _morphs: tuple[str, ...]
    _rows: dict[str, tuple[float, ...]]
    _text: str
    #: "utf-8", "utf-8-sig" (with a BOM) or "shift_jis"; kept on save.
    encoding: str
    #: The file it was loaded from (``save()`` writes there), or None.
    path: Path | None
    #: The name errors and warnings give the text (the path, or "<string>").
    source: str
    warnings: tuple[LipWarning, ...]

    def __init__(self) -> None:  # pragma: no cover - use load(), parse() or build()
        raise TypeError("use LipMap.load(), LipMap.parse() or LipMap.build()")

    @classmethod
    def _from_text(cls, text: str, encoding: str, source: str, path: Path | None) -> LipMap:
        layout = _parse_layout(text, source)
        morphs, rows = _validate(layout, text, source)
        self = object.__new__(cls)
        self._text = text
        self._layout = layout
        self._morphs = morphs
        self._rows = rows
        self.encoding = encoding
        self.source = source
        self.path = path
        self.warnings = _warnings(layout, rows, encoding, source)
        self._loaded = None
        return self

    # -- building -------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes | str, source: str = "<string>") -> LipMap:
        """Parse a lip map from bytes (encoding detected) or text (kept as UTF-8)."""
        if isinstance(data, str):
            return cls._from_text(data.removeprefix("\ufeff"), "utf-8", source, None)
        text, encoding = _decode(data, source)
        return cls._from_text(text, encoding, source, None)

    @classmethod
    def load(cls, path: str | Path) -> LipMap:
        """Read and validate the lip map at ``path``."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc
        text, encoding = _decode(data, str(path))
        lipmap = cls._from_text(text, encoding, str(path), path)
        lipmap._loaded = data
        return lipmap

    @classmethod
    def build(
        cls,
        morphs: Sequence[str],
        rows: Mapping[str, Sequence[float]],
        *,
        encoding: str = "utf-8",
        newline: str = "\n",
    ) -> LipMap:
        """Make a new map laid out like MMDAgent-EX's own lip.txt."""
        if encoding not in _CODECS:
            raise ValueRefused(f"encoding {encoding!r} is not one of {', '.join(_CODECS)}")
        if newline not in ("\n", "\r\n"):
            raise ValueRefused("newline must be '\\n' or '\\r\\n'")
        morphs = [check_token_name(m, "morph name") for m in morphs]
        if not morphs or not rows:
            raise ValueRefused("a lip map needs at least one morph and one phoneme")
        if len(set(morphs)) != len(morphs):
            raise ValueRefused("morph names must be unique")
        width = max(len(check_token_name(p, "phoneme name")) for p in rows) + 2
        lines = ["# number of expressions", str(len(morphs)), "# expression names", *morphs]
        lines += ["# number of phonemes", str(len(rows)), "# phone names and interpolation weight"]
        for phoneme, weights in rows.items():
            values = _checked_weights(weights, len(morphs), phoneme)
            lines.append(phoneme.ljust(width) + " ".join(format_weight(v) for v in values))
        text = newline.join(lines) + newline
        try:
            text.encode(_CODECS[encoding])
        except UnicodeEncodeError as exc:
            raise ValueRefused(f"{exc.object[exc.start:exc.end]!r} cannot be written in {encoding}") from None
        return cls._from_text(text, encoding, "<built>", None)

    # -- reading --------------------------------------------------------------------------

    @property
    def morphs(self) -> tuple[str, ...]:
        """Morph names, in file order."""
        return self._morphs

    @property
    def phonemes(self) -> tuple[str, ...]:
        """Phoneme names, in file order (the first row is MMDAgent-EX's fallback)."""
        return tuple(self._rows)

    @property
    def newline(self) -> str:
        """The line ending the file uses (of its first line)."""
        end = self._text.find("\n")
        return "\r\n" if end > 0 and self._text[end - 1] == "\r" else "\n"

    def weights(self, phoneme: str) -> tuple[float, ...]:
        """One weight per morph for ``phoneme``; ``ValueRefused`` if the map lacks it."""
        try:
            return self._rows[phoneme]
        except KeyError:
            raise ValueRefused(f"phoneme {phoneme!r} is not in {self.source}") from None

    def __contains__(self, phoneme: object) -> bool:
        return phoneme in self._rows

    def as_dict(self) -> dict[str, Any]:
        """``{"morphs": [...], "phonemes": {name: [weights]}, "encoding": ...}``."""
        return {
            "morphs": list(self._morphs),
            "phonemes": {p: list(w) for p, w in self._rows.items()},
            "encoding": self.encoding,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LipMap):
            return NotImplemented
        return (self._morphs, list(self._rows.items()), self.encoding) == (
            other._morphs, list(other._rows.items()), other.encoding,
        )

    def __hash__(self) -> int:
        return hash((self._morphs, tuple(self._rows.items()), self.encoding))

    def __repr__(self) -> str:
        return (
            f"<LipMap {self.source}: {len(self._morphs)} morphs, {len(self._rows)} phonemes, "
            f"{self.encoding}>"
        )

    # -- writing --------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The file's bytes: the original layout with this map's edits."""
        data = self._text.encode(_CODECS[self.encoding])
        return _BOM + data if self.encoding == "utf-8-sig" else data

    def save(self, path: str | Path | None = None) -> Path:
        """Write the map atomically to ``path`` (default: where it was loaded from).

        Saving over the file it was loaded from refuses (``ValueRefused``) if that file
        changed meanwhile: another edit would be silently lost. A symlink is written
        through; owner and mode are kept (see ``lipsync._atomic.write_atomic``).
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueRefused("this map was not loaded from a file: give save() a path")
        same = self.path is not None and os.path.realpath(target) == os.path.realpath(self.path)
        data = self.to_bytes()
        write_atomic(target, data, expect=self._loaded if same else None)
        if same:
            self._loaded = data  # later edits of this map build on what is now in the file
        return target

    # -- editing --------------------------------------------------------------------------

    def _edited(self, splice: _Splice) -> LipMap:
        text = splice.result()
        try:
            text.encode(_CODECS[self.encoding])
        except UnicodeEncodeError as exc:
            raise ValueRefused(
                f"{exc.object[exc.start:exc.end]!r} cannot be written in {self.encoding} "
                f"({self.source})"
            ) from None
        edited = type(self)._from_text(text, self.encoding, self.source, self.path)
        edited._loaded = self._loaded
        return edited

    def _row(self, phoneme: str) -> _Row:
        for row in self._layout.rows:
            if str(row.name) == phoneme:
                return row
        raise ValueRefused(f"phoneme {phoneme!r} is not in {self.source}")

    def _new_name(self, name: str, what: str, taken: Iterable[str]) -> str:
        check_token_name(name, what)
        if name in taken:
            raise ValueRefused(f"{what} {name!r} is already in {self.source}")
        return name

    def set_weights(self, phoneme: str, weights: Sequence[float]) -> LipMap:
        """Return a map where ``phoneme`` has these weights (one per morph)."""
        row = self._row(phoneme)
        values = _checked_weights(weights, len(self._morphs), phoneme)
        splice = _Splice(self._text)
        for token, value in zip(row.weights, values, strict=True):
            if float(token) != value:
                splice.replace(token, format_weight(value))
        return self._edited(splice)

    def rename_phoneme(self, old: str, new: str) -> LipMap:
        """Return a map where phoneme ``old`` is called ``new``."""
        row = self._row(old)
        self._new_name(new, "phoneme", self._rows)
        splice = _Splice(self._text)
        splice.replace(row.name, new)
        return self._edited(splice)

    def add_phoneme(
        self, phoneme: str, weights: Sequence[float] | None = None, *, like: str | None = None
    ) -> LipMap:
        """Return a map with a new last row: these weights, or a copy of row ``like``."""
        self._new_name(phoneme, "phoneme", self._rows)
        if (weights is None) == (like is None):
            raise ValueRefused("give the new phoneme's weights or like=OTHER, not both")
        values = (
            self.weights(like) if like is not None
            else _checked_weights(weights or (), len(self._morphs), phoneme)
        )
        template = self._layout.rows[-1]
        splice = _Splice(self._text)
        _, line_end = _line_bounds(self._text, template.name.start_pos or 0)
        line_end = max(line_end, _line_bounds(self._text, template.weights[-1].start_pos or 0)[1])
        splice.insert(line_end, self.newline + _row_text(self._text, template, phoneme, values))
        splice.replace(self._layout.phoneme_count, str(len(self._rows) + 1))
        return self._edited(splice)

    def remove_phoneme(self, phoneme: str) -> LipMap:
        """Return a map without ``phoneme``'s row (a map keeps at least one row)."""
        row = self._row(phoneme)
        if len(self._rows) == 1:
            raise ValueRefused(f"{phoneme!r} is the only phoneme in {self.source}: a map needs one")
        text = self._text
        first, last = row.name, row.weights[-1]
        line_start, _ = _line_bounds(text, first.start_pos or 0)
        _, line_end = _line_bounds(text, last.start_pos or 0)
        before = text[line_start : first.start_pos]
        after = text[last.end_pos : line_end]
        splice = _Splice(text)
        if not before.strip(" \t") and not after.split("#", 1)[0].strip(" \t"):
            # The row has its lines to itself: drop them whole, with one line ending.
            newline_end = text.find("\n", line_end)
            splice.delete(line_start, len(text) if newline_end < 0 else newline_end + 1)
        else:
            end = last.end_pos or 0
            while end < len(text) and text[end] in " \t":
                end += 1
            splice.delete(first.start_pos or 0, end)
        splice.replace(self._layout.phoneme_count, str(len(self._rows) - 1))
        return self._edited(splice)

    def add_morph(self, name: str, default: float = 0.0) -> LipMap:
        """Return a map with a new morph; every row gains a column of ``default``."""
        self._new_name(name, "morph", self._morphs)
        (value,) = _checked_weights([default], 1, name)
        text = self._text
        splice = _Splice(text)
        last = self._layout.morphs[-1]
        line_start, line_end = _line_bounds(text, last.start_pos or 0)
        if not text[line_start : last.start_pos].strip(" \t"):
            # One morph name per line: the new one gets a line of its own, indented alike.
            indent = text[line_start : last.start_pos]
            splice.insert(line_end, self.newline + indent + name)
        else:
            splice.insert(last.end_pos or 0, " " + name)
        weight = format_weight(value)
        for row in self._layout.rows:
            tokens = (row.name, *row.weights)
            gap = text[tokens[-2].end_pos : tokens[-1].start_pos]
            if "\n" in gap or not gap:
                gap = " "
            splice.insert(row.weights[-1].end_pos or 0, gap + weight)
        splice.replace(self._layout.morph_count, str(len(self._morphs) + 1))
        return self._edited(splice)

    def rename_morph(self, old: str, new: str) -> LipMap:
        """Return a map where morph ``old`` is called ``new``."""
        if old not in self._morphs:
            raise ValueRefused(f"morph {old!r} is not in {self.source}")
        self._new_name(new, "morph", self._morphs)
        splice = _Splice(self._text)
        splice.replace(self._layout.morphs[self._morphs.index(old)], new)
        return self._edited(splice)


def _row_text(text: str, template: _Row, name: str, weights: Sequence[float]) -> str:
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


def load_map(source: str | Path | None = None) -> LipMap:
    """Load a named map (``"vrm"``, see ``lipsync.maps.MAP_NAMES``) or the lip map at a path.

    ``None`` gives the default, ``mmdagent``: MMDAgent-EX's stock map as the agent ships it
    (it has no ``gw``/``kw`` rows: ``lipsync.resolve`` sends them as ``g``/``k``). A ``str``
    that is a map name is the named map even if a file of that name exists (write ``./vrm``
    for the file); a ``Path`` is always a file.
    """
    from lipsync.maps import DEFAULT_MAP, MAP_NAMES, named_map

    if source is None:
        return named_map(DEFAULT_MAP)
    if isinstance(source, str) and source in MAP_NAMES:
        if Path(source).exists():
            logger.warning("%s: the named map %r, not the file of that name (write ./%s for it)",
                           source, source, source)
        return named_map(source)
    path = Path(source)
    if isinstance(source, str) and not path.exists() and path.name == source and not path.suffix:
        raise ValueRefused(f"{source}: no such file, and not a named map ({', '.join(MAP_NAMES)})")
    return LipMap.load(path)
