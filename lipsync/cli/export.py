"""``lipsync export``: speech into the files other tools read (VMD, Rhubarb, curves, labels)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync.cli.heard import NO_TEXT
from lipsync.cli.io import UsageError, err, finite_float, out
from lipsync.cli.progress import Progress, long_text_note
from lipsync.cli.speech import add_source_arguments
from lipsync.export import FORMATS

if TYPE_CHECKING:
    from lipsync.export.job import ExportJob

__all__ = ["add_export_command"]


def _template(args: argparse.Namespace, output: Path) -> ExportJob:
    from lipsync.export.job import ExportJob
    text = args.text if args.text is not None else args.spoken
    return ExportJob(
        output=output, text=text, labels=args.labels, sequence=args.sequence, wav=args.wav,
        format=args.to_format, map=args.map, fps=args.fps, label_format=args.label_format,
        tier=args.tier, voice=args.voice, speed=args.speed, unknown=args.unknown, model=args.vmd_model,
    )


def _export(args: argparse.Namespace) -> int:
    from lipsync.export.job import run
    if not (args.fps > 0 and args.fps <= 1000):
        raise UsageError(f"--fps must be above 0 and at most 1000, not {args.fps:g}")
    if args.batch is not None:
        return _batch(args)
    if args.output is None:
        raise UsageError("export needs -o OUT (its extension picks the format, or give --to-format)")
    if args.text is not None and args.spoken is not None:
        raise UsageError("give the text once: TEXT or --text TEXT")
    if args.spoken is not None and args.wav is None:
        raise UsageError("--text goes with --wav AUDIO (for text alone, give TEXT)")
    if args.kana is not None or args.phonemes is not None or args.fit:
        raise UsageError("export aligns --wav AUDIO to --text; for --kana, --phonemes or --fit, write "
                         "the timing with 'lipsync align ... -o take.json', then export --labels take.json")
    job = _template(args, args.output)
    with long_text_note(job.text, "timing"):
        target = run(job, on_warning=lambda w: err(f"lipsync: warning: {w}"))
    out(f"{target}: {job.target_format}")
    return 0


def _batch(args: argparse.Namespace) -> int:
    from lipsync.export.batch import BatchRow, read_batch, run_batch

    single = ("text", "labels", "sequence", "wav", "spoken", "kana", "phonemes", "output")
    if any(getattr(args, n) is not None for n in single):
        raise UsageError("--batch takes its inputs and outputs from the list: no TEXT, --labels, "
                         "--sequence, --wav, --text or -o with it")
    jobs = args.jobs or os.cpu_count() or 1
    if jobs < 1:
        raise UsageError(f"-j must be 1 or more, not {jobs}")
    rows = read_batch(args.batch, _template(args, Path("-")))
    progress = Progress("export", len(rows))
    done = 0
    failures: list[tuple[int, str]] = []

    def finished(row: BatchRow, error: str | None) -> None:
        nonlocal done
        done += 1
        if error is not None:
            failures.append((row.line, error))
            progress.close()
            err(f"{args.batch}:{row.line}: {error}")
        progress.update(done, f" rows, {len(failures)} failed" if failures else " rows")

    try:
        run_batch(rows, jobs, finished)
    finally:
        progress.close()
    written = len(rows) - len(failures)
    failed = f", {len(failures)} failed" if failures else ""
    out(f"{args.batch}: {written} of {len(rows)} rows written{failed}")
    return 2 if failures else 0


def add_export_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "export", help="write speech as VMD, Rhubarb, curves or label files",
        description="Write the mouth motion of speech (text, labels, a sequence, or audio with its "
        "text, or --wav AUDIO alone: " + NO_TEXT + ") as a file other tools read: "
        + ", ".join(FORMATS) + ". The format follows OUT's "
        "extension (.vmd, .json = curves-json, .csv, .tsv = rhubarb-tsv, .lab, .TextGrid, "
        ".txt = audacity) unless --to-format is given. Without --map, VMD uses the mmd map, the "
        "Rhubarb formats the rhubarb map, the others mmdagent.",
    )
    add_source_arguments(p)
    p.add_argument("-o", "--output", type=Path, metavar="OUT", help="the file to write (atomically)")
    p.add_argument("--to-format", choices=FORMATS, metavar="F", help="one of: " + ", ".join(FORMATS))
    p.add_argument("--fps", type=finite_float(1, 1000), default=60.0,
                   help="curves samples per second (default 60)")
    p.add_argument("--vmd-model", default="", metavar="NAME", help="model name in the VMD header")
    p.add_argument("--batch", type=Path, metavar="LIST.tsv",
                   help="export every row of a list: KIND<TAB>INPUT<TAB>TEXT<TAB>OUTPUT (an audio row "
                   "with - for TEXT is heard without it)")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="processes for --batch (default: every core)")
    p.set_defaults(handler=_export)
