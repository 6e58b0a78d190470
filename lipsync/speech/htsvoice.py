"""Check an ``.htsvoice`` before the HTS engine (C, no bounds checks) reads it.

The file is a text header, ``[GLOBAL]``, ``[STREAM]`` and ``[POSITION]`` sections of
``KEY:VALUE`` lines, then ``[DATA]`` and the models. ``[POSITION]`` gives each model's byte
range ``FIRST-LAST`` in the data. A one-byte change in the header makes the engine read
past its buffers and crash the process, so here every range must lie in the data, every
stream be described, and each PDF block's size agree with what the header says it holds:
per tree an ``int32`` count, then per PDF ``2 x vector length x windows`` floats (+1 for a
multi-space stream; durations: ``2 x states``; GV: ``2 x vector length``).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import NoReturn

from lipsync._numbers import short, whole
from lipsync.errors import SourceError, ValueRefused

__all__ = ["check_voice"]

_MAX_BYTES = 256 * 1024 * 1024
_MAX_HEADER = 64 * 1024
_DATA = b"[DATA]\n"
_SECTIONS = ("[GLOBAL]", "[STREAM]", "[POSITION]")
_RANGE = re.compile(r"([0-9]{1,10})-([0-9]{1,10})\Z")
_TREE_HEAD = re.compile(rb"^\{[^\n]*\}\[[0-9]+\]", re.M)
#: The keys hts_engine API 1.10 reads; ``[]`` takes a stream name. Any other key (a typo
#: from a flipped byte) makes the engine warn and then crash, so it is refused here.
_KEYS = {
    "[GLOBAL]": {"HTS_VOICE_VERSION", "SAMPLING_FREQUENCY", "FRAME_PERIOD", "NUM_STATES", "NUM_STREAMS",
                 "STREAM_TYPE", "FULLCONTEXT_FORMAT", "FULLCONTEXT_VERSION", "GV_OFF_CONTEXT", "COMMENT"},
    "[STREAM]": {"VECTOR_LENGTH[]", "IS_MSD[]", "NUM_WINDOWS[]", "USE_GV[]", "OPTION[]"},
    "[POSITION]": {"DURATION_PDF", "DURATION_TREE", "STREAM_WIN[]", "STREAM_PDF[]", "STREAM_TREE[]",
                   "GV_PDF[]", "GV_TREE[]"},
}
_STREAM_KEY = re.compile(r"([A-Z_]+)\[([^\]]*)\]\Z")


class _Header:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.text = text
        self.values: dict[str, tuple[str, int]] = {}
        section = ""
        for number, line in enumerate(text.split("\n"), start=1):
            line = line.rstrip("\r")
            if line in _SECTIONS:
                if _SECTIONS.index(line) != (_SECTIONS.index(section) + 1 if section else 0):
                    self.fail(number, "[GLOBAL], [STREAM] and [POSITION] in this order", short(line))
                section = line
            elif line:
                key, colon, value = line.partition(":")
                if not colon or not section:
                    self.fail(number, "KEY:VALUE inside a section", short(line))
                if f"{section}{key}" in self.values:
                    self.fail(number, f"{short(key)} once", "it twice")
                self.values[f"{section}{key}"] = (value, number)
        if section != "[POSITION]":
            self.fail(1, "the sections [GLOBAL], [STREAM] and [POSITION]", "fewer")

    def check_keys(self, streams: list[str]) -> None:
        """Every key is one the engine knows, naming a stream of STREAM_TYPE."""
        for full, (_, line) in self.values.items():
            section, key = full[: full.index("]") + 1], full[full.index("]") + 1 :]
            match = _STREAM_KEY.match(key)
            generic = f"{match.group(1)}[]" if match else key
            if generic not in _KEYS[section] or (match and match.group(2) not in streams):
                self.fail(line, f"a key of {section} for streams {','.join(streams)}", short(key))

    def fail(self, line: int, expected: str, found: str) -> NoReturn:
        raise SourceError(self.source, line, 1, f"expected {expected}, found {found}")

    def get(self, section: str, key: str) -> tuple[str, int]:
        try:
            return self.values[f"[{section}]{key}"]
        except KeyError:
            raise SourceError(self.source, 1, 1, f"expected {key} in [{section}], found none") from None

    def number(self, section: str, key: str, low: int, high: int) -> int:
        text, line = self.get(section, key)
        value = whole(text.strip())
        if value is None or not low <= value <= high:
            self.fail(line, f"{key} from {low} to {high}", short(text))
        return value

    def ranges(self, key: str, size: int) -> list[tuple[int, int]]:
        text, line = self.get("POSITION", key)
        found = []
        for part in text.split(","):
            match = _RANGE.match(part.strip())
            if match is None:
                self.fail(line, f"{key} as FIRST-LAST byte ranges", short(text))
            first, last = int(match.group(1)), int(match.group(2))
            if not first <= last < size:
                self.fail(line, f"{key} within the {size} bytes of data", short(part))
            found.append((first, last + 1))
        return found


def check_voice(path: str | Path) -> None:
    """Refuse (``SourceError`` naming the header line) a voice the HTS engine cannot read."""
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as handle:
            blob = handle.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(blob) > _MAX_BYTES:
        raise ValueRefused(f"{path}: an HTS voice of more than {_MAX_BYTES >> 20} MB")
    end = blob.find(_DATA, 0, _MAX_HEADER)
    if end < 0:
        raise SourceError(source, 1, 1, "expected an HTS voice: a text header, then [DATA]")
    try:
        text = blob[:end].decode("ascii")
    except UnicodeDecodeError as exc:
        line = blob[: exc.start].count(b"\n") + 1
        raise SourceError(source, line, 1, "expected an ASCII header") from None
    header = _Header(text, source)
    data = memoryview(blob)[end + len(_DATA) :]
    size = len(data)
    header.number("GLOBAL", "SAMPLING_FREQUENCY", 1, 384_000)
    header.number("GLOBAL", "FRAME_PERIOD", 1, 100_000)
    states = header.number("GLOBAL", "NUM_STATES", 1, 100)
    count = header.number("GLOBAL", "NUM_STREAMS", 1, 100)
    types_text, types_line = header.get("GLOBAL", "STREAM_TYPE")
    types = types_text.split(",")
    if len(types) != count or len(set(types)) != count or not all(types):
        header.fail(types_line, f"{count} different stream names in STREAM_TYPE", short(types_text))
    header.check_keys(types)
    _check_model(header, data, "DURATION_PDF", "DURATION_TREE", 2 * states)
    for name in types:
        length = header.number("STREAM", f"VECTOR_LENGTH[{name}]", 1, 1000)
        msd = header.number("STREAM", f"IS_MSD[{name}]", 0, 1)
        windows = header.number("STREAM", f"NUM_WINDOWS[{name}]", 1, 10)
        found = header.ranges(f"STREAM_WIN[{name}]", size)
        if len(found) != windows:
            header.fail(header.get("POSITION", f"STREAM_WIN[{name}]")[1],
                        f"{windows} windows (NUM_WINDOWS[{name}])", str(len(found)))
        for first, stop in found:
            _check_window(header, bytes(data[first:stop]), name)
        _check_model(header, data, f"STREAM_PDF[{name}]", f"STREAM_TREE[{name}]", 2 * length * windows + msd)
        if header.number("STREAM", f"USE_GV[{name}]", 0, 1):
            _check_model(header, data, f"GV_PDF[{name}]", f"GV_TREE[{name}]", 2 * length)


def _check_model(header: _Header, data: memoryview, pdf_key: str, tree_key: str, floats: int) -> None:
    """A tree block of ``{...}[n]`` trees and a PDF block of that many counted groups."""
    size = len(data)
    (tree_first, tree_stop), *more = header.ranges(tree_key, size)
    (pdf_first, pdf_stop), *more_pdf = header.ranges(pdf_key, size)
    line = header.get("POSITION", pdf_key)[1]
    if more or more_pdf:
        header.fail(line, f"one range for {pdf_key} and {tree_key}", "more")
    tree_text = bytes(data[tree_first:tree_stop])
    heads = list(_TREE_HEAD.finditer(tree_text))
    bodies = [
        tree_text[head.end() : following.start() if following else len(tree_text)].strip()
        for head, following in zip(heads, [*heads[1:], None], strict=True)
    ]
    trees = len(heads)
    # Each tree is one quoted leaf or a whole {...} block: a range cut short leaves one open,
    # and the engine's tree reader then corrupts its heap.
    if trees == 0 or not all(
        (body[:1] == body[-1:] == b'"') or (body[:1] == b"{" and body[-1:] == b"}") for body in bodies
    ):
        header.fail(header.get("POSITION", tree_key)[1], f"{tree_key} to hold whole decision trees",
                    "a cut one")
    pdf = data[pdf_first:pdf_stop]
    if len(pdf) < 4 * trees:
        header.fail(line, f"{pdf_key} to hold {trees} PDF counts", f"{len(pdf)} bytes")
    counts = struct.unpack(f"<{trees}i", pdf[: 4 * trees])
    if any(c <= 0 for c in counts) or 4 * trees + 4 * floats * sum(counts) != len(pdf):
        header.fail(line, f"{pdf_key} to hold {sum(counts)} PDFs of {floats} floats "
                    "(as the [STREAM] section says)", f"{len(pdf)} bytes")


def _check_window(header: _Header, text: bytes, name: str) -> None:
    fields = text.split()
    size = whole(fields[0].decode("ascii", "replace")) if fields else None
    if size is None or size % 2 == 0 or len(fields) != size + 1:
        header.fail(header.get("POSITION", f"STREAM_WIN[{name}]")[1],
                    "windows of an odd count of coefficients", short(text[:40]))
