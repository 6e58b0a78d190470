"""The lines of a batch (a ``--batch`` list or a ``--manifest``), and where their outputs may go.

Every output lands inside one folder, the *root* (the list's folder for ``--batch``,
``--out-dir`` for a manifest), and is named by a path relative to it (the line's *key*).
A line is refused, with the reason, when its output would be written:

- outside the root: an absolute path, a ``..``, or a symlink leading out;
- over the list itself, the ledger, or a file some line reads (its audio or labels);
- by another line too (names that differ only in case or Unicode form count as one, since
  they are one file on Windows and macOS): every line naming it is refused, none written;
- under a name other systems cannot hold (control characters, ``\\ : * ? " < > |``, a
  trailing dot or space, ``CON``, ``NUL``...), or longer than 200 UTF-8 bytes.

A table is read twice, streaming: once to count its lines and find these clashes (keeping
only the names, never the jobs), once to hand the lines out.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lipsync.errors import ValueRefused
from lipsync.export.job import ExportJob

__all__ = ["LEDGER_NAME", "Line", "Plan", "Root", "inside", "output_key", "plan"]

#: The ledger's file name in the root (``lipsync.export.ledger``).
LEDGER_NAME = ".lipsync-ledger"
#: The longest file name (UTF-8 bytes) a line may give its output: ext4 allows 255, and an
#: atomic save puts its temporary file beside it under a longer name.
NAME_LIMIT = 200
_RESERVED = frozenset('\\:*?"<>|')
_DEVICES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(1, 10)] + [f"lpt{i}" for i in range(1, 10)]
)


@dataclass(frozen=True)
class Line:
    """One line of a table: where it is, what it is called, and its job (or why it has none).

    ``name`` is what the line calls itself (its id, or its output as written); ``key`` is
    its output relative to the root ("" when the line is refused before one is known);
    ``job.output`` is the full path.
    """

    number: int
    name: str
    key: str
    job: ExportJob | None
    error: str | None = None

    def failed(self, error: str) -> Line:
        return Line(self.number, self.name, self.key, None, error)

    @property
    def inputs(self) -> tuple[Path, ...]:
        job = self.job
        return tuple(p for p in (job.wav, job.labels) if p is not None) if job is not None else ()


def _part_fault(part: str) -> str | None:
    if part in ("", ".", ".."):
        return f"{part!r} is not a file name" if part else "an empty name"
    for ch in part:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return f"control character U+{ord(ch):04X} in a name"
        if ch in _RESERVED:
            return f"{ch!r} in a name (Windows cannot hold it)"
    if part[-1] in ". ":
        return "a name ending in a dot or a space (Windows drops it)"
    if part.split(".")[0].casefold() in _DEVICES:
        return f"{part!r} is a device name on Windows"
    if len(part.encode("utf-8")) > NAME_LIMIT:
        return f"a name of over {NAME_LIMIT} UTF-8 bytes"
    return None


def output_key(written: str, *, where: str) -> str:
    """A relative output path as a key (``a/b.vmd``), or ``ValueRefused`` saying why not.

    ``where`` names the root in the message (``the list's folder``, ``--out-dir``).
    """
    if written.startswith(("/", "\\")) or (len(written) > 1 and written[1] == ":"):
        raise ValueRefused(f"output {written!r} is an absolute path: outputs go inside {where}")
    parts = PurePosixPath(written).parts
    if ".." in parts:
        raise ValueRefused(f"output {written!r} leads out of {where} ('..')")
    for part in parts or ("",):
        fault = _part_fault(part)
        if fault is not None:
            raise ValueRefused(f"output {written!r}: {fault}")
    return "/".join(parts)


class Root:
    """The folder outputs go into, for one run: it places keys and names files one way.

    The real path of each folder a line names is looked up once (a run of 100 000 lines
    names a few folders); ``inside`` is the uncached form, for the moment of writing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cwd = os.getcwd()
        self.real = os.path.realpath(path)
        self._real_folders: dict[str, str] = {}

    def real_of(self, target: Path) -> str:
        """Where ``target`` really is: its folder's real path (remembered), then its own link."""
        folder, name = os.path.split(os.path.join(self._cwd, target))
        real_folder = self._real_folders.get(folder)
        if real_folder is None:
            real_folder = self._real_folders[folder] = os.path.realpath(folder)
        real = os.path.join(real_folder, name)
        return os.path.realpath(real) if os.path.islink(real) else real

    def place(self, key: str) -> Path:
        """``root / key``, refused if a symlink on the way leads it out of the root."""
        target = self.path / key
        real = self.real_of(target)
        if os.path.commonpath([self.real, real]) != self.real:
            raise ValueRefused(f"output {key!r} leads out of {self.path} (through a symlink, to {real})")
        return target

    def file_key(self, path: Path | str) -> str:
        """One spelling per file on any system: absolute, normalised, case- and NFC-folded."""
        return unicodedata.normalize("NFC", os.path.normpath(os.path.join(self._cwd, path))).casefold()


def inside(root: Path, key: str) -> Path:
    """``root / key``, refused if a symlink on the way leads it out of ``root`` (looked up now)."""
    return Root(root).place(key)


@dataclass(frozen=True)
class Plan:
    """A table's lines, counted and checked against each other: ``lines()`` streams them."""

    total: int
    lines: Callable[[], Iterator[Line]]
    #: Warnings about the table as a whole, to show before the run.
    notes: tuple[str, ...] = ()


def plan(read: Callable[[], Iterator[Line]], root: Root, protected: dict[Path, str]) -> Plan:
    """Check every line of ``read()`` against the others (see the module docstring).

    ``protected`` names files no output may replace (the list itself: ``"the list itself"``).
    ``read`` is called twice. Between the passes only a number per output and per input
    inside the root is held (a 64-bit hash of its name: two names of 100 000 meet by chance
    once in 10^9 runs), about 100 bytes each.
    """
    owners: dict[int, int] = {}  # output -> the first line writing it
    shared: dict[int, list[int]] = {}  # output -> every line writing it, when more than one
    read_by: dict[int, int] = {}  # input under the root -> a line reading it, times 2, + 1 for labels
    under = os.path.join(root.file_key(root.path), "")
    total = 0
    for line in read():
        total += 1
        for given, what in zip(line.inputs, _input_kinds(line), strict=True):
            name = root.file_key(given)
            if name.startswith(under):  # only there can an output be written over it
                read_by.setdefault(hash(name), 2 * line.number + (what == "labels"))
        if not line.key:
            continue
        folded = hash(unicodedata.normalize("NFC", line.key).casefold())
        first = owners.setdefault(folded, line.number)
        if first != line.number:
            shared.setdefault(folded, [first]).append(line.number)
    del owners
    guarded = {root.file_key(path): what for path, what in protected.items()}
    guarded.update({root.file_key(os.path.realpath(p)): what for p, what in protected.items()})
    guarded[root.file_key(root.path / LEDGER_NAME)] = "the ledger"

    def lines() -> Iterator[Line]:
        for line in read():
            if line.job is None:
                yield line
                continue
            fault = _clash(line, root, shared, read_by, guarded)
            yield line if fault is None else line.failed(fault)

    return Plan(total, lines)


def _input_kinds(line: Line) -> list[str]:
    job = line.job
    if job is None:
        return []
    return [what for what, path in (("audio", job.wav), ("labels", job.labels)) if path is not None]


def _clash(
    line: Line, root: Root, shared: dict[int, list[int]], read_by: dict[int, int], guarded: dict[str, str]
) -> str | None:
    assert line.job is not None
    numbers = shared.get(hash(unicodedata.normalize("NFC", line.key).casefold()))
    if numbers is not None:
        others = ", ".join(str(n) for n in numbers if n != line.number)
        return (f"output {line.key!r} is also written by line {others}: each line needs its own "
                "output (none of them written)")
    target = root.file_key(line.job.output)
    for spelling in (target, root.file_key(root.real_of(line.job.output))):
        if spelling in guarded:
            return f"output {line.key!r} would overwrite {guarded[spelling]}"
    for given, what in zip(line.inputs, _input_kinds(line), strict=True):
        if root.file_key(given) == target:
            return f"output {line.key!r} would overwrite its own {what}"
    reader = read_by.get(hash(target))
    if reader is not None:
        what = "labels" if reader % 2 else "audio"
        return f"output {line.key!r} would overwrite line {reader // 2}'s {what}"
    return None
