"""``lipsync export``: speech into the files other tools read (VMD, Rhubarb, curves, labels)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lipsync.cli.export_batch import add_batch_arguments, job_template, run_batch
from lipsync.cli.heard import NO_TEXT
from lipsync.cli.io import UsageError, err, finite_float, out
from lipsync.cli.progress import long_text_note
from lipsync.cli.speech import add_motion_arguments, add_source_arguments
from lipsync.export import FORMATS

__all__ = ["add_export_command"]


def _export(args: argparse.Namespace) -> int:
    from lipsync.export.job import run
    if not (args.fps > 0 and args.fps <= 1000):
        raise UsageError(f"--fps must be above 0 and at most 1000, not {args.fps:g}")
    if args.batch is not None or args.manifest is not None:
        return run_batch(args)
    for option, given in (("--out-dir", args.out_dir), ("--column", args.column),
                          ("--character-map", args.character_map), ("--modified-only", args.modified_only),
                          ("--cluster", args.cluster), ("--json", args.json), ("-j", args.jobs)):
        if given:
            raise UsageError(f"{option} goes with --batch LIST or --manifest TABLE")
    if args.output is None:
        raise UsageError("export needs -o OUT (its extension picks the format, or give --to-format)")
    if args.text is not None and args.spoken is not None:
        raise UsageError("give the text once: TEXT or --text TEXT")
    if args.spoken is not None and args.wav is None:
        raise UsageError("--text goes with --wav AUDIO (for text alone, give TEXT)")
    if args.kana is not None or args.phonemes is not None or args.fit:
        raise UsageError("export aligns --wav AUDIO to --text; for --kana, --phonemes or --fit, write "
                         "the timing with 'lipsync align ... -o take.json', then export --labels take.json")
    job = job_template(args, args.output)
    with long_text_note(job.text, "timing"):
        target = run(job, on_warning=lambda w: err(f"lipsync: warning: {w}"))
    out(f"{target}: {job.target_format}")
    return 0


def add_export_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "export", help="write speech as the file a tool loads: VMD, VRMA, motion3.json, Unity .anim, "
        "Godot .tres, Rhubarb cues, curves or labels",
        description="Write the mouth motion of speech (text, labels, a sequence, or audio with its "
        "text, or --wav AUDIO alone: " + NO_TEXT + ") as a file other tools read: "
        + ", ".join(FORMATS) + ". The format follows OUT's "
        "extension (.vmd, .vrma, .motion3.json, .anim = unity-anim, .tres = godot-tres, .unity.json, "
        ".json = curves-json, .csv, .tsv = rhubarb-tsv, .lab, .TextGrid, .txt = audacity) unless "
        "--to-format is given. Without --map: VMD uses the mmd map, .vrma vrm, .motion3.json "
        "live2d, .anim, .tres and .unity.json rpm, the Rhubarb formats rhubarb, the others mmdagent.",
    )
    add_source_arguments(p)
    add_motion_arguments(p)
    p.add_argument("-o", "--output", type=Path, metavar="OUT", help="the file to write (atomically)")
    p.add_argument("--to-format", choices=FORMATS, metavar="F", help="one of: " + ", ".join(FORMATS))
    p.add_argument("--fps", type=finite_float(1, 1000), default=60.0,
                   help="curves samples per second (default 60)")
    p.add_argument("--vmd-model", default="", metavar="NAME", help="model name in the VMD header")
    p.add_argument("--mesh-path", metavar="PATH",
                   help="the face mesh's path from the animated root, for .anim and .tres "
                   "(default Wolf3D_Head, a Ready Player Me avatar's)")
    p.add_argument("--rename", action="append", default=[], metavar="MORPH=NAME",
                   help="write a morph under the model's own name for it (repeatable), e.g. aa=Fcl_MTH_A")
    add_batch_arguments(p)
    p.set_defaults(handler=_export)
