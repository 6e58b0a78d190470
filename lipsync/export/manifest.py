"""A studio's localisation table (``--manifest``): a CSV or TSV with a header row, a line per take.

The header names the columns; ``Columns`` says which column holds each field (by default the
column named like the field, in any case). Other columns (English text, notes) are ignored.

- ``id``: names the output: ``OUT_DIR/ID.EXT``, EXT from the format (``.vmd``, ``.json``...);
- ``output``: instead, a path under ``OUT_DIR`` (its extension picks the format unless one is given);
- ``text``: the line's Japanese text;
- ``audio``: its recording (aligned to the text); ``labels``: its label file (the timing);
- ``character``: who speaks it, to pick a lip map (``character_maps``; others use the default).

A line with labels is timed by them (its audio, if any, gives the length); with audio and
text, by aligning the text to the audio; with text alone, by Open JTalk. Paths are relative to
the table's folder. Ids and outputs never lead out of ``OUT_DIR`` (``lipsync.export.lines``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lipsync.errors import LipsyncError, SourceError, ValueRefused
from lipsync.export import extension_for
from lipsync.export.job import ExportJob
from lipsync.export.lines import Line, Plan, Root, output_key, plan
from lipsync.export.tables import check_table, delimiter_for, records, text_lines

__all__ = ["FIELDS", "Columns", "read_manifest"]

FIELDS = ("id", "text", "audio", "labels", "output", "character")
_WHERE = "--out-dir"


@dataclass(frozen=True)
class Columns:
    """Which header names each field: ``{"id": "LineID", ...}``; unnamed fields use their own name."""

    names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, header in self.names.items():
            if name not in FIELDS:
                raise ValueRefused(f"no field {name!r} in a manifest (fields: {', '.join(FIELDS)})")
            if not header.strip():
                raise ValueRefused(f"the {name} column needs a name")

    @classmethod
    def parse(cls, specs: list[str]) -> Columns:
        """From ``FIELD=HEADER`` texts (``--column id=LineID``)."""
        names: dict[str, str] = {}
        for spec in specs:
            name, sep, header = spec.partition("=")
            if not sep:
                raise ValueRefused(f"--column {spec!r}: expected FIELD=HEADER, e.g. id=LineID")
            if name.strip() in names:
                raise ValueRefused(f"--column {name.strip()} given twice")
            names[name.strip()] = header.strip()
        return cls(names)

    def locate(self, header: list[str], source: str) -> dict[str, int]:
        """Each field's column index in ``header`` (a named column that is missing is an error)."""
        folded = [cell.strip().casefold() for cell in header]
        found: dict[str, int] = {}
        for name in FIELDS:
            wanted = self.names.get(name, name)
            matches = [i for i, cell in enumerate(folded) if cell == wanted.strip().casefold()]
            if len(matches) > 1:
                raise SourceError(source, 1, 1, f"two columns are named {wanted!r}")
            if matches:
                found[name] = matches[0]
            elif name in self.names:
                shown = ", ".join(repr(cell.strip()) for cell in header)
                raise SourceError(source, 1, 1, f"expected a column {wanted!r} for the {name}, found {shown}")
        shown = ", ".join(repr(cell.strip()) for cell in header)
        if "id" not in found and "output" not in found:
            raise SourceError(source, 1, 1, f"expected an id column (or an output column) to name the "
                              f"outputs, found {shown}; --column id=NAME says which")
        if not {"text", "audio", "labels"} & set(found):
            raise SourceError(source, 1, 1, f"expected a text, audio or labels column, found {shown}")
        return found


def read_manifest(
    path: Path, out_dir: Path, template: ExportJob, *, columns: Columns | None = None,
    character_maps: Mapping[str, str] | None = None,
) -> Plan:
    """The lines of the table at ``path``, outputs under ``out_dir``, options from ``template``.

    ``template.format`` names every output's format (needed when there is no output column);
    ``character_maps`` maps a character to a ``--map`` (others keep ``template.map``).
    A table that cannot be read, is not UTF-8, or lacks the columns is refused whole.
    """
    check_table(path)
    source = str(path)
    columns = columns or Columns()
    maps = dict(character_maps or {})
    first = next(text_lines(path), (1, ""))[1]
    delimiter = delimiter_for(path, first)
    header = next(records(path, delimiter), None)
    if header is None:
        raise ValueRefused(f"{path}: empty (expected a header row, then a row per line)")
    if header[0] != 1:
        raise SourceError(source, header[0], 1, "expected the header row on line 1")
    index = columns.locate(header[1], source)
    if "output" not in index and template.format is None:  # every line would need it
        raise ValueRefused(f"{path}: outputs are named from the ids: give --to-format (or an output column)")
    width = len(header[1])
    root = Root(out_dir)
    unmapped: Counter[str] = Counter()

    def read() -> Iterator[Line]:
        unmapped.clear()
        rows = records(path, delimiter)
        next(rows)  # the header
        for number, cells in rows:
            got = {name: cells[i].strip() if i < len(cells) else "" for name, i in index.items()}
            name = got.get("id") or got.get("output", "")
            try:
                if any(cell.strip() for cell in cells[width:]):
                    raise ValueRefused(f"{len(cells)} cells, the header has {width}")
                key, job = _job(got, path.parent, root, template, maps)
            except LipsyncError as exc:
                yield Line(number, name, "", None, str(exc))
                continue
            if maps and got.get("character", "") not in maps:
                unmapped[got.get("character", "")] += 1
            yield Line(number, name, key, job)

    checked = plan(read, root, {path: "the manifest itself"})
    if checked.total == 0:
        raise ValueRefused(f"{path}: no rows after the header")
    if not unmapped:
        return checked
    who = ", ".join(f"{c!r} ({n} line{'s' * (n != 1)})" for c, n in sorted(unmapped.items()))
    fallback = f"--map {template.map}" if template.map else "the format's default map"
    note = f"{path}: no --character-map for {who}: they use {fallback}"
    return dataclasses.replace(checked, notes=(note,))


def _job(
    got: dict[str, str], folder: Path, root: Root, template: ExportJob, maps: dict[str, str]
) -> tuple[str, ExportJob]:
    written = got.get("output", "")
    if written:
        key = output_key(written, where=_WHERE)
    else:
        ident = got.get("id", "")
        if not ident:
            raise ValueRefused("no id (it names the output)")
        if "/" in ident or "\\" in ident:
            raise ValueRefused(f"id {ident!r} has a '/' or '\\': an id names one file in --out-dir")
        if ident.startswith("."):
            raise ValueRefused(f"id {ident!r} starts with '.': it would name a hidden file")
        if template.format is None:
            raise ValueRefused("no output, and no --to-format to name one from the id")
        key = output_key(ident + extension_for(template.format), where=_WHERE)
    text, audio, labels = got.get("text") or None, got.get("audio"), got.get("labels")
    options: dict[str, object] = {"output": root.place(key), "text": None}
    if labels:
        options["labels"] = folder / labels
        if audio:
            options["wav"] = folder / audio
    elif audio:
        if text is None:
            raise ValueRefused("a line with audio needs its text (to align)")
        options.update(wav=folder / audio, text=text)
    elif text is not None:
        options["text"] = text
    else:
        raise ValueRefused("nothing to export: no text, audio or labels")
    character = got.get("character", "")
    if character in maps:
        options["map"] = maps[character]
    job = dataclasses.replace(template, **options)  # type: ignore[arg-type]
    job.target_format  # noqa: B018 - refuses an extension no format has, here, by line
    return key, job
