"""The ledger beside a batch's outputs: what each output was made from, to redo only what changed.

``ROOT/.lipsync-ledger`` holds a line per output written: its key, a digest of everything it
was made from (``fingerprint``: the text, the audio's and labels' bytes, the lip map, the
options, lipsync's version) and its size. ``--modified-only`` skips a line whose digest is the
one recorded and whose output is still there at that size.

Every run records what it writes, one line appended (and flushed) right after each output
is in place, so a run that is interrupted, even by ``kill -9``, leaves a ledger of exactly
the outputs it finished: the next ``--modified-only`` run resumes there. An output written
but not yet recorded is made again, never skipped wrongly. A torn last line (a crash of the
machine mid-write) is ignored, and the next run rewrites the ledger whole, atomically.

One run at a time writes into a root: the ledger holds a lock on the root folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from lipsync._atomic import write_atomic
from lipsync.errors import ValueRefused
from lipsync.export.lines import LEDGER_NAME

__all__ = ["Ledger", "digest", "fingerprint"]

_HEADER = "# lipsync ledger 1: OUTPUT<TAB>DIGEST OF ITS INPUTS<TAB>BYTES; the last line of an output counts\n"


def digest(data: bytes) -> str:
    """A content digest: SHA-256 cut to 128 bits, hex (SHA-256 has CPU instructions: ~2x BLAKE2b)."""
    return hashlib.sha256(data).hexdigest()[:32]


def fingerprint(parts: Sequence[object]) -> str:
    """The digest of ``parts`` (JSON values) in one canonical spelling."""
    text = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))
    return digest(text.encode("utf-8"))


class Ledger:
    """The ledger of one root, open for a run (a context manager; ``close`` flushes it to disk)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / LEDGER_NAME
        #: output -> (the digest it was made from, its size); 16 + 8 bytes packed, ~150 B a line.
        self.entries: dict[str, bytes] = {}
        self._lock = _lock_folder(root)
        self._out: BinaryIO | None = None
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def _load(self) -> None:
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ValueRefused(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(info.st_mode):
            # A link (or anything else) in its place could send the ledger's writes out of the folder.
            raise ValueRefused(f"{self.path}: not a regular file (a link?): remove it; lipsync writes "
                               "the ledger there itself")
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ValueRefused(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        lines = data.split(b"\n")
        torn = lines.pop() != b""  # the text after the last line break: a torn line, or nothing
        bad = torn
        for raw in lines:
            entry = _entry(raw)
            if entry is None:
                bad = bad or not raw.startswith(b"#")
                continue
            self.entries[entry[0]] = _pack(*entry[1:])
        if bad or len(lines) > 2 * len(self.entries) + 64:
            self._rewrite()

    def _rewrite(self) -> None:
        body = "".join(f"{key}\t{packed[:16].hex()}\t{int.from_bytes(packed[16:], 'little')}\n"
                       for key, packed in sorted(self.entries.items()))
        write_atomic(self.path, (_HEADER + body).encode("utf-8"))

    def unchanged(self, key: str, made_from: str) -> bool:
        """Whether ``key``'s output was made from ``made_from`` and is still there, whole."""
        entry = self.entries.get(key)
        if entry is None or entry[:16] != bytes.fromhex(made_from):
            return False
        try:
            return os.stat(self.root / key).st_size == int.from_bytes(entry[16:], "little")
        except OSError:
            return False

    def record(self, key: str, made_from: str, size: int) -> None:
        """Note that ``key``'s output, ``size`` bytes, was just written from ``made_from``."""
        if self._out is None:
            fresh = not self.path.exists()
            try:  # kept open for the run; never through a link put there since it was read
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(
                    os, "O_CLOEXEC", 0)
                self._out = os.fdopen(os.open(self.path, flags, 0o644), "ab")
            except OSError as exc:
                raise ValueRefused(f"{self.path}: cannot write: {exc.strerror or exc}") from exc
            if fresh:
                self._out.write(_HEADER.encode("utf-8"))
        # One write per line, flushed: a killed process leaves whole lines behind.
        self._out.write(f"{key}\t{made_from}\t{size}\n".encode())
        self._out.flush()
        self.entries[key] = _pack(made_from, size)

    def close(self) -> None:
        """Put the ledger on disk and let another run write into the root."""
        if self._out is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _pack(made_from: str, size: int) -> bytes:
    return bytes.fromhex(made_from) + size.to_bytes(8, "little")


def _entry(raw: bytes) -> tuple[str, str, int] | None:
    fields = raw.split(b"\t")
    if len(fields) != 3 or len(fields[1]) != 32 or not fields[2].isdigit() or len(fields[2]) > 18:
        return None
    try:
        bytes.fromhex(fields[1].decode("ascii"))
        return fields[0].decode("utf-8"), fields[1].decode("ascii"), int(fields[2])
    except (UnicodeDecodeError, ValueError):
        return None


def _lock_folder(root: Path) -> int | None:
    """An exclusive lock on the root folder for this run, or ``ValueRefused`` if another has it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: no lock, as with lip map edits there
        return None
    try:
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ValueRefused(f"{root}: cannot open the output folder: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ValueRefused(f"{root}: another lipsync export is writing here; let it finish first") from None
    return fd
