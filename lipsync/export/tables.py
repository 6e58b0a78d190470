"""Reading a table file line by line: UTF-8 (a BOM allowed), bounded lines, faults by line.

A list of 100 000 lines is never held whole: ``text_lines`` streams it, and ``records``
streams its CSV or TSV records with the line each starts on. Only regular files are read
(a FIFO or a device would be read once, or forever; a table is read twice).
"""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from lipsync.errors import SourceError, ValueRefused

__all__ = ["LINE_LIMIT", "check_table", "delimiter_for", "records", "text_lines"]

#: The longest line read (bytes): a table's line is a few hundred bytes; a 1 GB "line" is not one.
LINE_LIMIT = 1 << 20
_BOM = b"\xef\xbb\xbf"


def check_table(path: Path) -> None:
    """Refuse what is not a readable regular file, before any work."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ValueRefused(f"{path}: not a regular file (a list is read twice: save it to a file)")


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(number, line)`` for each line of ``path`` (the line ending kept), numbered from 1."""
    source = str(path)
    try:
        handle = open(path, "rb")  # closed by the with below
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with handle:
        number = 0
        while True:
            raw = handle.readline(LINE_LIMIT + 1)
            if not raw:
                return
            number += 1
            if len(raw) > LINE_LIMIT:
                raise SourceError(source, number, 1, f"expected lines of at most {LINE_LIMIT} bytes")
            if number == 1:
                raw = raw.removeprefix(_BOM)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                column = len(raw[: exc.start].decode("utf-8", "replace")) + 1
                found = f"0x{raw[exc.start]:02x}"
                raise SourceError(source, number, column, f"expected UTF-8 text, found byte {found} "
                                  "(save the table as UTF-8, e.g. 'CSV UTF-8')") from None
            yield number, text


def delimiter_for(path: Path, first_line: str) -> str:
    """Tab for ``.tsv``/``.tab``, comma for ``.csv``; otherwise a tab if the header has one."""
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        return ","
    return "\t" if "\t" in first_line else ","


def records(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(first line, cells)`` for each CSV/TSV record of ``path`` (quoted cells may span lines).

    Blank records are skipped. A malformed record is a ``SourceError`` at its line.
    """
    numbers = text_lines(path)
    read = 0

    def texts() -> Iterator[str]:
        nonlocal read
        for number, text in numbers:
            read = number
            yield text

    reader = csv.reader(texts(), delimiter=delimiter, strict=True)
    while True:
        start = read + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SourceError(str(path), start, 1, f"expected a CSV record: {exc}") from None
        if any(cell.strip() for cell in cells):
            yield start, cells
