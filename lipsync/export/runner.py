"""Running a batch: lines in, chunks out to a pool, outputs written here as results stream back.

The submitting side (this module) reads each line's inputs once, digests them
(``lipsync.export.ledger.fingerprint``), skips the line under ``modified_only`` if the ledger
says its output was made from the same, and otherwise packs it into a chunk
(``lipsync.export.work``). At most about two chunks per worker are in flight, so memory
stays bounded however long the table: lines are read as the workers need them, results are
written as they come and then dropped. Every output is written here, atomically, inside the
root, then recorded in the ledger: workers never write (nor read) a file of the batch.

A chunk lost with its worker is sent again; one lost twice (or given up by a cluster) is
split into single lines, and a line lost twice on its own fails with the reason. When a
local process dies, its pool takes every chunk in it down: those lines then run one at a
time, so the line that kills its process is found and fails alone. Results made by another lipsync
version than this one are refused (``ClusterError``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass
from pathlib import Path

from lipsync._atomic import sweep_temporaries, write_atomic
from lipsync._version import __version__
from lipsync.errors import ClusterError, LipsyncError, ValueRefused
from lipsync.export import DEFAULT_MAPS, LABEL_EXPORTS
from lipsync.export.inputs import Inputs, read_ahead, read_input
from lipsync.export.ledger import Ledger, digest, fingerprint
from lipsync.export.lines import Line, inside
from lipsync.export.pools import Done, Pool
from lipsync.export.work import Chunk, Made, Task

__all__ = ["LineResult", "Runner", "Tally"]

#: Lines per chunk at most: enough that a task's overhead is small against its work (a line
#: from text takes ~30 ms), few enough that a lost chunk costs little and the last ones even out.
CHUNK_LINES = 16
#: Input bytes per chunk at most (a cluster's scheduler warns about tasks of over 10 MB).
CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class LineResult:
    """What became of a line: ``done`` (written), ``skipped`` (unchanged) or ``failed`` (why)."""

    line: Line
    status: str
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass
class Tally:
    done: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Item:
    line: Line
    made_from: str
    task: Task


@dataclass(frozen=True)
class _Sent:
    items: list[_Item]
    attempts: int
    generation: int
    alone: bool = False  # the only chunk in the pool: if the pool breaks, this line broke it


class Runner:
    """Runs lines on ``pool``, writing into ``root`` and recording in ``ledger``.

    ``on_result`` hears every line once, as it ends. ``total`` (the lines to come, if known)
    sizes the chunks so that a short batch still spreads over every worker.
    """

    def __init__(
        self, root: Path, pool: Pool, ledger: Ledger, on_result: Callable[[LineResult], None], *,
        modified_only: bool = False, total: int | None = None, chunk_lines: int = CHUNK_LINES,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.root, self.pool, self.ledger, self.on_result = root, pool, ledger, on_result
        self.modified_only = modified_only
        self.total, self.chunk_lines, self.chunk_bytes = total, chunk_lines, chunk_bytes
        self.tally = Tally()
        self._in_flight: dict[Future[Done], _Sent] = {}
        self._files: dict[str, tuple[str, bytes] | str] = {}  # map or voice file -> (digest, bytes) or error
        self._folders: set[Path] = set()
        self._suspects: list[_Item] = []
        self._per_chunk: int | None = None

    def run(self, lines: Iterable[Line]) -> Tally:
        """Run every line; return the counts. On an exception, the pool's work is cancelled."""
        finished = False
        try:
            batch: list[_Item] = []
            size = 0
            for line, inputs in read_ahead(lines):
                item = self._prepare(line, inputs)
                if item is None:
                    continue
                batch.append(item)
                size += item.task.size
                if len(batch) >= self._chunk_size() or size >= self.chunk_bytes:
                    self._send(batch, 1)
                    batch, size = [], 0
                self._settle()
            if batch:
                self._send(batch, 1)
            self._settle(drain=True)
            finished = True
        finally:
            self.pool.close(cancel=not finished)
        return self.tally

    def _chunk_size(self) -> int:
        if self._per_chunk is None:
            spread = math.ceil(self.total / (4 * self.pool.slots)) if self.total else self.chunk_lines
            self._per_chunk = max(1, min(self.chunk_lines, spread))
        return self._per_chunk

    def _prepare(self, line: Line, inputs: Inputs | LipsyncError) -> _Item | None:
        """The line's chunk item, or None once its result is told (failed, or skipped)."""
        if line.job is None:
            self._tell(LineResult(line, "failed", line.error))
            return None
        job = line.job
        try:
            if isinstance(inputs, LipsyncError):
                raise inputs
            audio, labels = inputs.audio, inputs.labels
            fmt = job.target_format
            spec = None if fmt in LABEL_EXPORTS else (job.map or DEFAULT_MAPS.get(fmt) or "mmdagent")
            map_file = self._file(spec) if spec is not None and not _named(spec) else None
            voice = self._file(str(job.voice)) if job.voice is not None else None
        except LipsyncError as exc:
            self._tell(LineResult(line, "failed", str(exc)))
            return None
        timed_by_voice = job.labels is not None or (job.text is not None and job.wav is None)
        made_from = fingerprint([
            __version__, fmt, job.text, job.sequence, inputs.audio_digest, inputs.labels_digest,
            str(job.wav) if fmt == "rhubarb-json" and job.wav is not None else None,
            map_file[0] if map_file is not None else spec, job.fps, job.label_format, job.tier,
            # The voice and speed time text (and untimed labels); an aligned recording has its own.
            (voice[0] if voice is not None else None, job.speed) if timed_by_voice else None,
            job.unknown, job.model,
            # What shapes the motion and the file, and where text was spoken (a TTS engine).
            repr(job.motion), job.mesh_path, repr(job.renames), job.strict, job.tts, repr(job.tts_voice),
        ])
        if self.modified_only and self.ledger.unchanged(line.key, made_from):
            self._tell(LineResult(line, "skipped"))
            return None
        shipped = dataclasses.replace(job, output=Path(line.key), map=None if map_file else spec, voice=None)
        task = Task(shipped, audio, labels, map_file[0] if map_file is not None else None)
        return _Item(line, made_from, task)

    def _file(self, name: str) -> tuple[str, bytes]:
        """A map or voice file's digest and bytes, read once per run."""
        known = self._files.get(name)
        if known is None:
            try:
                data = read_input(Path(name))
            except LipsyncError as exc:
                known = str(exc)
            else:
                known = (digest(data), data)
            self._files[name] = known
        if isinstance(known, str):
            raise ValueRefused(known)
        return known

    def _chunk(self, items: list[_Item]) -> Chunk:
        maps: dict[str, tuple[str, bytes]] = {}
        for item in items:
            key = item.task.map_key
            if key is not None and key not in maps:
                name = item.line.job.map if item.line.job is not None else None
                maps[key] = (str(name), self._file(str(name))[1])
        job = items[0].line.job
        voice = self._file(str(job.voice)) if job is not None and job.voice is not None else None
        return Chunk(tuple(item.task for item in items), maps, voice)

    def _send(self, items: list[_Item], attempts: int, *, alone: bool = False) -> None:
        for _ in range(2):
            generation = self.pool.generation
            try:
                future = self.pool.submit(self._chunk(items))
            except BrokenExecutor as exc:  # the pool broke since the last chunk: renew it, once
                self.pool.lost(exc, generation)
                continue
            self._in_flight[future] = _Sent(items, attempts, generation, alone)
            return
        for item in items:
            self._fail(item, "the worker pool could not be started again")

    def _settle(self, *, drain: bool = False) -> None:
        """Take in finished chunks; wait while the window is full (with ``drain``: until all are in)."""
        while True:
            if self._suspects:
                self._quarantine()
            if not self._in_flight:
                return  # (and a cluster is not even asked how big it is: nothing may need it)
            if not drain and len(self._in_flight) < 2 * max(1, self.pool.slots):
                break
            done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
            self._collect(done)
        if self._in_flight:
            done, _ = wait(list(self._in_flight), timeout=0, return_when=FIRST_COMPLETED)
            self._collect(done)
            if self._suspects:
                self._quarantine()

    def _quarantine(self) -> None:
        """Lines that were in a local pool when one of its processes died: which one killed it?

        Once nothing else runs, each goes alone: a line that kills its process again fails,
        the others are written. (A cluster's scheduler tells whose task it was: no need there.)
        """
        while self._in_flight:
            done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
            self._collect(done)
        while self._suspects:
            self._send([self._suspects.pop(0)], 2, alone=True)
            while self._in_flight:
                done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
                self._collect(done)

    def _collect(self, done: set[Future[Done]]) -> None:
        for future in done:
            sent = self._in_flight.pop(future)
            try:
                version, made = future.result()
            except Exception as exc:  # lost with its worker (a line's own failure is in Made)
                self._lost(sent, exc)
                continue
            if version != __version__:
                raise ClusterError(f"a worker runs lipsync {version}, this side {__version__}: install "
                                   "the same version everywhere (outputs would differ)")
            for item, result in zip(sent.items, made, strict=True):
                self._finish(item, result)

    def _lost(self, sent: _Sent, exc: Exception) -> None:
        gave_up = self.pool.lost(exc, sent.generation)
        reason = str(exc).splitlines()[0][:200] if str(exc) else ""
        why = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
        if isinstance(exc, BrokenExecutor):  # a local process died: every chunk in the pool with it
            if sent.alone:
                self._fail(sent.items[0], f"its worker process died while exporting it, alone ({why})")
            else:
                self._suspects.extend(sent.items)
        elif not gave_up and sent.attempts < 2:
            self._send(sent.items, sent.attempts + 1)
        elif len(sent.items) > 1:
            for item in sent.items:
                self._send([item], 1)
        else:
            self._fail(sent.items[0], f"its worker was lost twice while exporting it ({why})")

    def _finish(self, item: _Item, made: Made) -> None:
        if made.data is None:
            self._fail(item, made.error or "no output", made.warnings)
            return
        try:
            self._write(item.line.key, made.data)
        except LipsyncError as exc:
            self._fail(item, str(exc), made.warnings)
            return
        self.ledger.record(item.line.key, item.made_from, len(made.data))
        self._tell(LineResult(item.line, "done", None, made.warnings))

    def _write(self, key: str, data: bytes) -> None:
        target = inside(self.root, key)  # again: a folder may have been swapped for a symlink since
        folder = target.parent
        if folder not in self._folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ValueRefused(f"{folder}: cannot make the folder: {exc.strerror or exc}") from exc
            sweep_temporaries(folder)  # once per folder, not once per file
            self._folders.add(folder)
        write_atomic(target, data, sweep=False)

    def _fail(self, item: _Item, error: str, warnings: tuple[str, ...] = ()) -> None:
        self._tell(LineResult(item.line, "failed", error, warnings))

    def _tell(self, result: LineResult) -> None:
        if result.status == "done":
            self.tally.done += 1
        elif result.status == "skipped":
            self.tally.skipped += 1
        else:
            self.tally.failed += 1
        self.on_result(result)


def _named(spec: str) -> bool:
    from lipsync.maps.named import MAP_NAMES

    return spec in MAP_NAMES
