"""Many exports at once: a TSV list of jobs, run on every core, one failure never stops the rest.

The list has four tab-separated columns per line (blank lines and lines starting with
``#`` are skipped; ``-`` or an empty field means "none")::

    KIND       INPUT            TEXT          OUTPUT
    text       -                こんにちは     out/hello.vmd
    labels     speech.lab       -             out/speech.tsv
    audio      speech.wav       こんにちは     out/speech.json
    sequence   sil,100,a,200    -             out/a.csv

``text`` is timed by Open JTalk (durations only); ``labels`` reads a label file; ``audio``
aligns a recording (WAV, FLAC, MP3, Ogg) to its text (``lipsync.align``), or with ``-`` for the
text hears its phonemes without it (less accurate: give the text when it is known);
``sequence`` is a LIPSYNC sequence. Relative paths are taken from the list's folder. The
output's extension picks its format unless the command gives ``--to-format``; the other
options apply to every row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lipsync.errors import LipsyncError, SourceError, ValueRefused
from lipsync.export.job import ExportJob, run

__all__ = ["KINDS", "BatchRow", "read_batch", "run_batch"]

KINDS = ("text", "labels", "audio", "sequence")


@dataclass(frozen=True)
class BatchRow:
    """One line of the list: its number and its job (or the reason it has none)."""

    line: int
    job: ExportJob | None
    error: str | None = None


def _field(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "-") else value


def _row(fields: list[str], folder: Path, template: ExportJob) -> ExportJob:
    if len(fields) != 4:
        raise ValueRefused(f"expected 4 tab-separated columns (KIND INPUT TEXT OUTPUT), found {len(fields)}")
    kind, given, text, output = (_field(f) for f in fields)
    if kind not in KINDS:
        raise ValueRefused(f"expected a kind ({', '.join(KINDS)}), found {kind!r}")
    if output is None:
        raise ValueRefused("expected an output path in column 4")
    needs_input = kind != "text"
    needs_text = kind == "text"  # an audio row without text is heard alone
    if needs_input and given is None:
        raise ValueRefused(f"a {kind} row needs its input in column 2")
    if needs_text and text is None:
        raise ValueRefused(f"a {kind} row needs its text in column 3")
    fields_of: dict[str, object] = {"output": folder / output,
                                    "text": text if kind in ("text", "audio") else None}
    if kind == "labels":
        fields_of["labels"] = folder / str(given)
    elif kind == "audio":
        fields_of["wav"] = folder / str(given)
    elif kind == "sequence":
        fields_of["sequence"] = given
    return dataclasses.replace(template, **fields_of)  # type: ignore[arg-type]


def read_batch(path: Path, template: ExportJob) -> list[BatchRow]:
    """The rows of list ``path``; each takes ``template``'s options. Bad rows carry an error."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(str(path), 1, 1, "expected UTF-8 text") from exc
    rows: list[BatchRow] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            rows.append(BatchRow(number, _row(line.split("\t"), path.parent, template)))
        except LipsyncError as exc:
            rows.append(BatchRow(number, None, str(exc)))
    if not rows:
        raise ValueRefused(f"{path}: no rows (expected lines of KIND<TAB>INPUT<TAB>TEXT<TAB>OUTPUT)")
    return rows


def _work(job: ExportJob) -> str | None:
    """Run one job in a worker; its error as one line, or None."""
    try:
        run(job)
    except LipsyncError as exc:
        return str(exc)
    except Exception as exc:  # a bug must not take the whole batch down: report the row
        return f"unexpected {type(exc).__name__}: {exc}"
    return None


def run_batch(
    rows: list[BatchRow], jobs: int, on_done: Callable[[BatchRow, str | None], None]
) -> int:
    """Run the rows on ``jobs`` processes (spawned); ``on_done`` hears each; return the failures."""
    failed = 0
    for row, error in _results(rows, jobs):
        failed += error is not None
        on_done(row, error)
    return failed


def _results(rows: list[BatchRow], jobs: int) -> Iterator[tuple[BatchRow, str | None]]:
    runnable = [(r, r.job) for r in rows if r.job is not None]
    for row in rows:
        if row.job is None:
            yield row, row.error
    if jobs <= 1 or len(runnable) <= 1:
        for row, job in runnable:
            yield row, _work(job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: a fresh interpreter per worker (no forked locks or Open JTalk state), on every OS.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(runnable)), mp_context=context) as pool:
        futures = {pool.submit(_work, job): row for row, job in runnable}
        for future in as_completed(futures):
            yield futures[future], future.result()
