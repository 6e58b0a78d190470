"""The worker's side of a batch: a chunk of lines in, their outputs' bytes out, no file touched.

A ``Chunk`` carries everything its lines read (audio and label bytes, lip map files, the
voice), so a worker needs no disk shared with the submitting side, and ``work_chunk``
returns the bytes to write: the submitting side writes every output (and the ledger). Its
only file is a copy of a ``--voice`` in a temporary folder (one per voice, kept for the next
run), since the HTS engine loads voices from a path.

A line's failure is its own (``Made.error``); ``work_chunk`` itself raises only if the
worker is broken, and its lipsync version comes back with the results, so a submitting side
can refuse outputs made by another version.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync._atomic import write_atomic
from lipsync._version import __version__
from lipsync.alignment.engine import use_threads
from lipsync.errors import LipsyncError
from lipsync.export.job import ExportJob, render

if TYPE_CHECKING:
    from lipsync.maps.lipmap import LipMap

__all__ = ["Chunk", "Made", "Task", "work_chunk"]


@dataclass(frozen=True)
class Task:
    """One line's job and the bytes it reads.

    ``job.output`` is the output's key (it names the file in errors; it is never written
    here); ``job.wav`` and ``job.labels`` only name their bytes. ``map_key`` picks a lip map
    file from the chunk; without it ``job.map`` is a named map (or None: the default).
    """

    job: ExportJob
    audio: bytes | None = None
    labels: bytes | None = None
    map_key: str | None = None

    @property
    def size(self) -> int:
        return len(self.audio or b"") + len(self.labels or b"") + len(self.job.text or "") + 256


@dataclass(frozen=True)
class Chunk:
    """Lines sent to a worker together, with the lip map files and the voice they use.

    ``maps``: digest -> (the file's name, for messages; its bytes); ``voice``: (digest, bytes).
    """

    tasks: tuple[Task, ...]
    maps: Mapping[str, tuple[str, bytes]] = field(default_factory=dict)
    voice: tuple[str, bytes] | None = None


@dataclass(frozen=True)
class Made:
    """One line's result: its output's bytes, or the reason it has none; warnings either way."""

    data: bytes | None
    error: str | None = None
    warnings: tuple[str, ...] = ()


_lock = threading.Lock()
_maps: dict[str, LipMap] = {}
_voices: dict[str, Path] = {}
_CACHED_MAPS = 64


def work_chunk(chunk: Chunk) -> tuple[str, list[Made]]:
    """Make every line of ``chunk``; return this worker's lipsync version and the results.

    The aligner's model runs on one thread here: a batch's parallelism is its workers (one
    per core), and a model on every core in each of them only made them wait on each other.
    """
    use_threads(1)
    voice = _voice(*chunk.voice) if chunk.voice is not None else None
    return __version__, [_make(task, chunk.maps, voice) for task in chunk.tasks]


def _make(task: Task, maps: Mapping[str, tuple[str, bytes]], voice: Path | None) -> Made:
    warnings: list[str] = []
    try:
        lipmap = _lipmap(task.map_key, *maps[task.map_key]) if task.map_key is not None else None
        data = render(task.job, audio=task.audio, labels=task.labels, lipmap=lipmap, voice=voice,
                      on_warning=warnings.append)
    except LipsyncError as exc:
        return Made(None, str(exc), tuple(warnings))
    except Exception as exc:  # a bug must not take the chunk down: report the line
        return Made(None, f"unexpected {type(exc).__name__}: {exc}", tuple(warnings))
    return Made(data, None, tuple(warnings))


def _lipmap(key: str, source: str, data: bytes) -> LipMap:
    from lipsync.maps.lipmap import LipMap

    with _lock:
        cached = _maps.get(key)
    if cached is None:
        cached = LipMap.parse(data, source)
        with _lock:
            if len(_maps) >= _CACHED_MAPS:
                _maps.clear()
            _maps[key] = cached
    return cached


def _voice(key: str, data: bytes) -> Path:
    """The voice as a file (the HTS engine reads voices from a path), kept once per voice.

    A folder of this user's own in the temporary folder holds each voice by its digest, so
    runs and worker processes share one copy and none is left behind per run.
    """
    from lipsync.export.ledger import digest

    with _lock:
        path = _voices.get(key)
        if path is None:
            folder = _voice_folder()
            path = folder / f"{key}.htsvoice"
            try:
                fresh = digest(path.read_bytes()) != key
            except OSError:
                fresh = True
            if fresh:
                write_atomic(path, data)
            _voices[key] = path
    return path


def _voice_folder() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else None
    folder = Path(tempfile.gettempdir()) / f"lipsync-voices-{uid if uid is not None else 'user'}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
        if stat.S_ISDIR(info.st_mode) and (uid is None or info.st_uid == uid):
            return folder
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="lipsync-voice-"))  # someone else's: one of our own
