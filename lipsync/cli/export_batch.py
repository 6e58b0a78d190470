"""``lipsync export --batch LIST.tsv`` / ``--manifest TABLE``: many exports, locally or on a cluster.

Wires ``lipsync.export`` (the tables, the ledger, the pools, the runner) to the command line:
progress on a terminal, a line per failure on stderr (``FILE:LINE: reason``), a summary at
the end (or, with ``--json``, a JSON object per line and one for the summary on stdout).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync.cli.io import UsageError, err, out
from lipsync.cli.progress import Progress

if TYPE_CHECKING:
    from lipsync.export.job import ExportJob
    from lipsync.export.lines import Plan
    from lipsync.export.pools import Pool
    from lipsync.export.runner import LineResult, Tally

__all__ = ["add_batch_arguments", "job_template", "run_batch"]


def job_template(args: argparse.Namespace, output: Path) -> ExportJob:
    """The export job the command's options describe, writing ``output``."""
    from lipsync.cli.speech import engine_voice, motion_of
    from lipsync.export.job import ExportJob

    text = args.text if args.text is not None else args.spoken
    tts_voice = engine_voice(args)
    recorded = args.wav is not None or args.labels is not None or args.sequence is not None
    if tts_voice is not None and recorded:
        raise UsageError("--tts speaks TEXT; --wav, --labels and --sequence bring speech of their own")
    return ExportJob(
        output=output, text=text, labels=args.labels, sequence=args.sequence, wav=args.wav,
        format=args.to_format, map=args.map, fps=args.fps, label_format=args.label_format,
        tier=args.tier, voice=args.voice, speed=args.speed, unknown=args.unknown, model=args.vmd_model,
        tts=args.tts, tts_voice=tts_voice, motion=motion_of(args), mesh_path=args.mesh_path,
        renames=_renames(args.rename), strict=args.strict,
    )


def _renames(given: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in given:
        old, equals, new = item.partition("=")
        if not equals or not old or not new:
            raise UsageError(f"--rename {item[:40]!r}: expected MORPH=NAME, e.g. --rename aa=Fcl_MTH_A")
        pairs.append((old, new))
    return tuple(pairs)


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", type=Path, metavar="LIST.tsv",
                   help="export every row of a list: KIND<TAB>INPUT<TAB>TEXT<TAB>OUTPUT (an audio row "
                   "with - for TEXT is heard without it)")
    p.add_argument("--manifest", type=Path, metavar="TABLE",
                   help="export every line of a CSV/TSV table with a header row (id, text, audio, "
                   "labels, output, character columns); outputs go under --out-dir")
    p.add_argument("--out-dir", type=Path, metavar="DIR", help="where a --manifest's outputs go")
    p.add_argument("--column", action="append", default=[], metavar="FIELD=NAME",
                   help="the --manifest column holding FIELD (id, text, audio, labels, output, "
                   "character), e.g. --column id=LineID (default: the column named FIELD)")
    p.add_argument("--character-map", action="append", default=[], metavar="NAME=MAP",
                   help="the lip map for a --manifest's character NAME (others use --map)")
    p.add_argument("--modified-only", action="store_true",
                   help="skip lines whose inputs, map and options are those their output was made from")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="local processes (default: every core)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="run on a Dask cluster: its scheduler, e.g. tcp://10.0.0.5:8786 "
                   "(pip install 'lipsync-ja[cluster]')")
    p.add_argument("--json", action="store_true",
                   help="a JSON object per line (and a summary) on stdout, for tools")


def run_batch(args: argparse.Namespace) -> int:
    """Run ``--batch`` or ``--manifest``; 0 if every line is done or skipped, 2 if any failed."""
    from lipsync.export.ledger import Ledger
    from lipsync.export.runner import Runner

    table, checked, root = _plan(args)
    for note in checked.notes:
        err(f"lipsync: warning: {_shown(note)}")
    pool = _pool(args, checked.total)
    show = _Show(args, table, root, checked.total)
    start = time.monotonic()
    runner: Runner | None = None
    try:
        with Ledger(root) as ledger:
            runner = Runner(root, pool, ledger, show.result, modified_only=args.modified_only,
                            total=checked.total)
            tally = runner.run(checked.lines())
    except KeyboardInterrupt:
        if runner is not None:
            show.summary(runner.tally, time.monotonic() - start, interrupted=True)
        raise
    finally:
        show.progress.close()
    show.summary(tally, time.monotonic() - start)
    return 2 if tally.failed else 0


def _plan(args: argparse.Namespace) -> tuple[Path, Plan, Path]:
    single = ("text", "labels", "sequence", "wav", "spoken", "kana", "phonemes", "output")
    option = "--batch" if args.batch is not None else "--manifest"
    if args.batch is not None and args.manifest is not None:
        raise UsageError("give --batch LIST or --manifest TABLE, not both")
    if any(getattr(args, n) is not None for n in single):
        raise UsageError(f"{option} takes its inputs and outputs from the list: no TEXT, --labels, "
                         "--sequence, --wav, --text or -o with it")
    if args.cluster is not None and args.jobs:
        raise UsageError("-j is for local processes; with --cluster the cluster's workers run the lines")
    if args.jobs < 0:
        raise UsageError(f"-j must be 1 or more, not {args.jobs}")
    _check_maps(args)
    template = job_template(args, Path("-"))
    if args.batch is not None:
        if args.out_dir is not None or args.column or args.character_map:
            raise UsageError("--out-dir, --column and --character-map go with --manifest (a --batch "
                             "list names its outputs, inside its folder)")
        from lipsync.export.batch import read_batch

        return args.batch, read_batch(args.batch, template), args.batch.parent
    if args.out_dir is None:
        raise UsageError("--manifest needs --out-dir DIR: the outputs are named from the ids there")
    from lipsync.export.manifest import Columns, read_manifest

    columns = Columns.parse(args.column)
    maps = dict(_pair(spec, "--character-map", "NAME=MAP") for spec in args.character_map)
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{args.out_dir}: cannot make the folder: {exc.strerror or exc}") from exc
    checked = read_manifest(args.manifest, args.out_dir, template, columns=columns, character_maps=maps)
    return args.manifest, checked, args.out_dir


def _pair(spec: str, option: str, shape: str) -> tuple[str, str]:
    name, sep, value = spec.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise UsageError(f"{option} {_shown(spec)!r}: expected {shape}")
    return name.strip(), value.strip()


def _check_maps(args: argparse.Namespace) -> None:
    """Load every map once, before any line: a bad map is one error, not one per line."""
    from lipsync.maps.named import load_map

    for spec in [args.map, *(_pair(s, "--character-map", "NAME=MAP")[1] for s in args.character_map)]:
        if spec is not None:
            load_map(spec)
    if args.voice is not None and not args.voice.is_file():
        raise UsageError(f"{args.voice}: no such voice file")


def _pool(args: argparse.Namespace, total: int) -> Pool:
    if args.cluster is not None:
        from lipsync.export.cluster import DaskPool

        return DaskPool(args.cluster)
    from lipsync.export.pools import InlinePool, ProcessPool

    jobs = min(args.jobs or os.cpu_count() or 1, max(1, total))
    return InlinePool() if jobs == 1 else ProcessPool(jobs)


class _Show:
    """What the user sees of a run: progress, failures, warnings, the JSON log, the summary."""

    def __init__(self, args: argparse.Namespace, table: Path, root: Path, total: int) -> None:
        self.table, self.root, self.total, self.json = table, root, total, bool(args.json)
        self.progress = Progress("export", total)
        self.seen = 0
        self.skipped = 0
        self.failed = 0

    def result(self, result: LineResult) -> None:
        line = result.line
        self.seen += 1
        self.skipped += result.status == "skipped"
        self.failed += result.status == "failed"
        if result.error is not None or result.warnings:
            self.progress.close()
        for warning in result.warnings:
            err(f"lipsync: warning: {self.table}:{line.number}: {_shown(warning)}")
        if result.error is not None:
            err(f"{self.table}:{line.number}: {_shown(result.error)}")
        if self.json:
            self._record({
                "event": "line", "file": str(self.table), "line": line.number, "id": line.name,
                "output": str(self.root / line.key) if line.key else None, "status": result.status,
                "error": result.error, "warnings": list(result.warnings),
            })
        extra = f" lines, {self.skipped} skipped" if self.skipped else " lines"
        self.progress.update(self.seen, extra + (f", {self.failed} failed" if self.failed else ""))

    def summary(self, tally: Tally, seconds: float, *, interrupted: bool = False) -> None:
        self.progress.close()
        if self.json:
            self._record({"event": "summary", "file": str(self.table), "lines": self.total,
                          "done": tally.done, "skipped": tally.skipped, "failed": tally.failed,
                          "seconds": round(seconds, 3), "interrupted": interrupted})
            return
        counts = f"{tally.done} done, {tally.skipped} skipped, {tally.failed} failed"
        if interrupted:
            err(f"lipsync: {self.table}: interrupted after {counts} of {self.total} lines; "
                "run again with --modified-only to go on from there")
        else:
            out(f"{self.table}: {self.total} lines: {counts} in {seconds:.1f} s")

    def _record(self, record: dict[str, object]) -> None:
        out(json.dumps(record, ensure_ascii=False))
        sys.stdout.flush()  # a tool reading the log sees each line as it ends


def _shown(text: str) -> str:
    """``text`` with control characters escaped: a table's bytes never drive the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)
