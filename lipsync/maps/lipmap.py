"""The phoneme map (MMDAgent-EX ``lip.txt``): parse, validate, edit and write back.

A ``LipMap`` is an immutable value: the morph names, the phonemes in file order and one
weight per morph for each phoneme. It keeps the text it came from, so an edit changes only
the bytes that must change (comments, blank lines, alignment, line endings and encoding of
the rest stay as they were), and ``parse(text).to_bytes() == text`` byte for byte.

Files may be UTF-8, UTF-8 with a BOM (which MMDAgent-EX cannot load: a warning), or
Shift_JIS (MMDAgent before 2015); the encoding is detected and kept. The text's layout,
validation and warnings are ``lipsync.maps.layout``'s.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lipsync._atomic import recover, write_atomic
from lipsync.errors import ValueRefused
from lipsync.maps.layout import (
    BOM,
    CODECS,
    Layout,
    LipWarning,
    Row,
    Splice,
    checked_weights,
    decode,
    find_warnings,
    format_weight,
    line_bounds,
    parse_layout,
    row_text,
    validate,
)
from lipsync.maps.phonemes import OPEN_JTALK_PHONEMES
from lipsync.names import check_token_name

__all__ = ["OPEN_JTALK_PHONEMES", "LipMap", "LipWarning", "format_weight"]


class LipMap:
    """A validated MMDAgent-EX phoneme map; every edit returns a new ``LipMap``.

    Build one with ``LipMap.load(path)``, ``LipMap.parse(data)`` or ``LipMap.build(...)``.
    Equality compares morphs, phonemes, weights and encoding, not layout.
    """

    __slots__ = (
        "_layout", "_loaded", "_morphs", "_rows", "_text", "encoding", "path", "source", "warnings",
    )

    _layout: Layout
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
        layout = parse_layout(text, source)
        morphs, rows = validate(layout, text, source)
        self = object.__new__(cls)
        self._text = text
        self._layout = layout
        self._morphs = morphs
        self._rows = rows
        self.encoding = encoding
        self.source = source
        self.path = path
        self.warnings = find_warnings(layout, rows, encoding, source)
        self._loaded = None
        return self

    # -- building -------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes | str, source: str = "<string>") -> LipMap:
        """Parse a lip map from bytes (encoding detected) or text (kept as UTF-8)."""
        if isinstance(data, str):
            return cls._from_text(data.removeprefix("\ufeff"), "utf-8", source, None)
        text, encoding = decode(data, source)
        return cls._from_text(text, encoding, source, None)

    @classmethod
    def load(cls, path: str | Path) -> LipMap:
        """Read and validate the lip map at ``path``."""
        path = Path(path)
        recover(path)  # a save killed half-way: read the map as it was, not torn
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc
        text, encoding = decode(data, str(path))
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
        if encoding not in CODECS:
            raise ValueRefused(f"encoding {encoding!r} is not one of {', '.join(CODECS)}")
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
            values = checked_weights(weights, len(morphs), phoneme)
            lines.append(phoneme.ljust(width) + " ".join(format_weight(v) for v in values))
        text = newline.join(lines) + newline
        try:
            text.encode(CODECS[encoding])
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
        data = self._text.encode(CODECS[self.encoding])
        return BOM + data if self.encoding == "utf-8-sig" else data

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

    def _edited(self, splice: Splice) -> LipMap:
        text = splice.result()
        try:
            text.encode(CODECS[self.encoding])
        except UnicodeEncodeError as exc:
            raise ValueRefused(
                f"{exc.object[exc.start:exc.end]!r} cannot be written in {self.encoding} "
                f"({self.source})"
            ) from None
        edited = type(self)._from_text(text, self.encoding, self.source, self.path)
        edited._loaded = self._loaded
        return edited

    def _row(self, phoneme: str) -> Row:
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
        values = checked_weights(weights, len(self._morphs), phoneme)
        splice = Splice(self._text)
        for token, value in zip(row.weights, values, strict=True):
            if float(token) != value:
                splice.replace(token, format_weight(value))
        return self._edited(splice)

    def rename_phoneme(self, old: str, new: str) -> LipMap:
        """Return a map where phoneme ``old`` is called ``new``."""
        row = self._row(old)
        self._new_name(new, "phoneme", self._rows)
        splice = Splice(self._text)
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
            else checked_weights(weights or (), len(self._morphs), phoneme)
        )
        template = self._layout.rows[-1]
        splice = Splice(self._text)
        _, line_end = line_bounds(self._text, template.name.start_pos or 0)
        line_end = max(line_end, line_bounds(self._text, template.weights[-1].start_pos or 0)[1])
        splice.insert(line_end, self.newline + row_text(self._text, template, phoneme, values))
        splice.replace(self._layout.phoneme_count, str(len(self._rows) + 1))
        return self._edited(splice)

    def remove_phoneme(self, phoneme: str) -> LipMap:
        """Return a map without ``phoneme``'s row (a map keeps at least one row)."""
        row = self._row(phoneme)
        if len(self._rows) == 1:
            raise ValueRefused(f"{phoneme!r} is the only phoneme in {self.source}: a map needs one")
        text = self._text
        first, last = row.name, row.weights[-1]
        line_start, _ = line_bounds(text, first.start_pos or 0)
        _, line_end = line_bounds(text, last.start_pos or 0)
        before = text[line_start : first.start_pos]
        after = text[last.end_pos : line_end]
        splice = Splice(text)
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
        (value,) = checked_weights([default], 1, name)
        text = self._text
        splice = Splice(text)
        last = self._layout.morphs[-1]
        line_start, line_end = line_bounds(text, last.start_pos or 0)
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
        splice = Splice(self._text)
        splice.replace(self._layout.morphs[self._morphs.index(old)], new)
        return self._edited(splice)
