"""``lipsync map ...``: check, show and edit phoneme maps."""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections.abc import Callable
from pathlib import Path

from lipsync._atomic import locked, write_atomic
from lipsync.cli.io import Handler, UsageError, err, finite_float, out, report
from lipsync.errors import LipsyncError, ValueRefused
from lipsync.maps.lipmap import LipMap, format_weight
from lipsync.maps.named import MAP_NAMES, load_map, map_bytes

__all__ = ["add_map_commands"]

_weight = finite_float(-1000, 1000)  # not 1e309 nor nan; the map itself refuses below 0


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


# -- lipsync map ... ------------------------------------------------------------------------


def _map_check(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            lipmap = load_map(path)
        except LipsyncError as exc:
            report(exc)
            status = 2
            continue
        count = len(lipmap.warnings)
        endings = "CRLF" if lipmap.newline == "\r\n" else "LF"
        out(
            f"{path}: ok, {len(lipmap.morphs)} morphs, {len(lipmap.phonemes)} phonemes, "
            f"{lipmap.encoding}, {endings}, "
            f"{count} warning{'' if count == 1 else 's'}"
        )
        for warning in lipmap.warnings:
            out(f"  {warning}")
    return status


def _map_list(args: argparse.Namespace) -> int:
    width = max(len(name) for name in MAP_NAMES)
    for name, about in MAP_NAMES.items():
        out(f"{name.ljust(width)}  {about}")
    return 0


def _map_copy(args: argparse.Namespace) -> int:
    if args.name not in MAP_NAMES:
        raise UsageError(f"map copy: {args.name!r} is not a named map ({', '.join(MAP_NAMES)})")
    target = Path(args.target)
    if target.exists() and not args.force:
        raise UsageError(f"map copy: {target} exists (give --force to replace it)")
    write_atomic(target, map_bytes(args.name))
    out(f"{target}: copied map {args.name}")
    return 0


def _map_show(args: argparse.Namespace) -> int:
    lipmap = load_map(args.file)
    phonemes = args.phonemes or list(lipmap.phonemes)
    rows = {p: lipmap.weights(p) for p in phonemes}
    if args.json:
        data = lipmap.as_dict()
        data["phonemes"] = {p: list(w) for p, w in rows.items()}
        out(json.dumps(data, ensure_ascii=False))
        return 0
    header = ["phoneme", *lipmap.morphs]
    table = [header] + [[p, *(format_weight(w) for w in ws)] for p, ws in rows.items()]
    widths = [max(_width(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        out("  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _edit(args: argparse.Namespace, change: Callable[[LipMap], LipMap], done: str) -> int:
    if str(args.file) in MAP_NAMES and not args.file.exists():
        raise UsageError(f"{args.file} is a named map, shipped read-only: copy it first "
                         f"(lipsync map copy {args.file} my.lip.txt), then edit the copy")
    # Locked from read to write: two edits of one file at once both land, one after the other.
    with locked(args.file):
        lipmap = LipMap.load(args.file)
        try:
            edited = change(lipmap)
        except ValueRefused as exc:
            raise ValueRefused(f"{args.file}: {exc}") from exc
        target = edited.save(args.output or args.file)
    out(f"{target}: {done}")
    before = set(lipmap.warnings)  # a set: a map may carry 10^5 warnings
    for warning in edited.warnings:
        if warning not in before:
            err(str(warning))
    return 0


def _map_set(args: argparse.Namespace) -> int:
    return _edit(
        args, lambda m: m.set_weights(args.phoneme, args.weights),
        f"{args.phoneme} = {' '.join(format_weight(w) for w in args.weights)}",
    )


def _map_add(args: argparse.Namespace) -> int:
    if args.like is None and not args.weights:
        raise UsageError("map add needs the new phoneme's weights or --like PHONEME")
    if args.like is not None and args.weights:
        raise UsageError("map add takes weights or --like PHONEME, not both")
    weights = args.weights or None
    how = f"like {args.like}" if args.like else " ".join(format_weight(w) for w in args.weights)
    return _edit(
        args, lambda m: m.add_phoneme(args.phoneme, weights, like=args.like),
        f"added {args.phoneme} ({how})",
    )


def _map_remove(args: argparse.Namespace) -> int:
    return _edit(args, lambda m: m.remove_phoneme(args.phoneme), f"removed {args.phoneme}")


def _map_rename(args: argparse.Namespace) -> int:
    return _edit(
        args, lambda m: m.rename_phoneme(args.old, args.new), f"renamed {args.old} to {args.new}"
    )


def _map_add_morph(args: argparse.Namespace) -> int:
    return _edit(
        args, lambda m: m.add_morph(args.name, args.default),
        f"added morph {args.name} (every phoneme {format_weight(args.default)})",
    )


def _map_rename_morph(args: argparse.Namespace) -> int:
    return _edit(
        args, lambda m: m.rename_morph(args.old, args.new),
        f"renamed morph {args.old} to {args.new}",
    )


def add_map_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "map", help="check, show and edit MMDAgent-EX phoneme maps (lip.txt)",
        description="Check, show and edit MMDAgent-EX phoneme maps (lip.txt, <model>.lip). "
        "Edits keep comments, layout, line endings and encoding, and are saved atomically.",
    )
    sub = parser.add_subparsers(dest="map_command", metavar="COMMAND", required=True)

    def edit_parser(name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("file", type=Path, help="the lip map to edit")
        p.set_defaults(handler=handler)
        return p

    def finish(p: argparse.ArgumentParser) -> None:
        p.add_argument("-o", "--output", type=Path, help="write here instead of over FILE")

    p = sub.add_parser("list", help="list the named maps (one per avatar standard)")
    p.set_defaults(handler=_map_list)

    p = sub.add_parser("copy", help="copy a named map to a file, to start editing it")
    p.add_argument("name", metavar="NAME", help="a named map (see 'lipsync map list')")
    p.add_argument("target", metavar="FILE")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(handler=_map_copy)

    p = sub.add_parser("check", help="validate maps (files or names); exit 2 at the first fault of a bad one")
    p.add_argument("files", nargs="+", metavar="FILE|NAME")
    p.set_defaults(handler=_map_check)

    p = sub.add_parser("show", help="print a map (a file or a name) as a table (or --json)")
    p.add_argument("file", metavar="FILE|NAME")
    p.add_argument("phonemes", nargs="*", metavar="PHONEME", help="only these rows")
    p.add_argument("--json", action="store_true", help="print JSON: morphs, phonemes, encoding")
    p.set_defaults(handler=_map_show)

    p = edit_parser("set", "set a phoneme's weights (one per morph)", _map_set)
    p.add_argument("phoneme", metavar="PHONEME")
    p.add_argument("weights", nargs="+", type=_weight, metavar="W")
    finish(p)

    p = edit_parser("add", "add a phoneme row with weights, or --like an existing one", _map_add)
    p.add_argument("phoneme", metavar="PHONEME")
    p.add_argument("weights", nargs="*", type=_weight, metavar="W")
    p.add_argument("--like", metavar="P", help="copy the weights of phoneme P")
    finish(p)

    p = edit_parser("remove", "remove a phoneme row", _map_remove)
    p.add_argument("phoneme", metavar="PHONEME")
    finish(p)

    p = edit_parser("rename", "rename a phoneme", _map_rename)
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    finish(p)

    p = edit_parser("add-morph", "add a morph: every row gains a column", _map_add_morph)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--default", type=_weight, default=0.0, metavar="W",
                   help="the new column's weight in every row (default 0.0)")
    finish(p)

    p = edit_parser("rename-morph", "rename a morph", _map_rename_morph)
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    finish(p)
