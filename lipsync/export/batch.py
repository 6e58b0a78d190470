"""The ``--batch`` list: one export per line, four tab-separated columns.

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
``sequence`` is a LIPSYNC sequence. Relative paths are taken from the list's folder, and every
output lands inside it (``lipsync.export.lines`` has the rules). The output's extension picks
its format unless the command gives ``--to-format``; the other options apply to every row.
``lipsync.export.runner`` runs the lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from lipsync.errors import LipsyncError, ValueRefused
from lipsync.export.job import ExportJob
from lipsync.export.lines import Line, Plan, Root, output_key, plan
from lipsync.export.tables import check_table, text_lines

__all__ = ["KINDS", "read_batch"]

KINDS = ("text", "labels", "audio", "sequence")
_WHERE = "the list's folder"


def _field(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "-") else value


def _row(fields: list[str], root: Root, template: ExportJob) -> tuple[str, ExportJob]:
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
    key = output_key(output, where=_WHERE)
    folder = root.path
    fields_of: dict[str, object] = {"output": root.place(key),
                                    "text": text if kind in ("text", "audio") else None}
    if kind == "labels":
        fields_of["labels"] = folder / str(given)
    elif kind == "audio":
        fields_of["wav"] = folder / str(given)
    elif kind == "sequence":
        fields_of["sequence"] = given
    job = dataclasses.replace(template, **fields_of)  # type: ignore[arg-type]
    job.target_format  # noqa: B018 - refuses an extension no format has, here, by line
    return key, job


def read_batch(path: Path, template: ExportJob) -> Plan:
    """The lines of list ``path``, each with ``template``'s options; bad lines carry an error.

    A list that cannot be read, or is not UTF-8, is refused whole (``LipsyncError``), before
    any line is handed out.
    """
    check_table(path)
    root = Root(path.parent)

    def read() -> Iterator[Line]:
        for number, raw in text_lines(path):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            name = fields[3].strip() if len(fields) == 4 else ""
            try:
                key, job = _row(fields, root, template)
            except LipsyncError as exc:
                yield Line(number, name, "", None, str(exc))
                continue
            yield Line(number, name, key, job)

    checked = plan(read, root, {path: "the list itself"})
    if checked.total == 0:
        raise ValueRefused(f"{path}: no rows (expected lines of KIND<TAB>INPUT<TAB>TEXT<TAB>OUTPUT)")
    return checked
