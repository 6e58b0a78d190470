"""Exporters: a timeline (and its mouth curves) written in the formats other tools read.

One small writer per format, chosen by name (``FORMATS``) or by the output's extension
(``format_for``):

- ``vmd``: MikuMikuDance motion, morph keyframes only (``lipsync.export.vmd``);
- ``rhubarb-json``, ``rhubarb-tsv``: Rhubarb Lip Sync's cues (``lipsync.export.rhubarb``);
- ``curves-json``, ``curves-csv``: per-morph weights at ``fps`` (``lipsync.export.curves``);
- ``lab``, ``textgrid``, ``audacity``: the phoneme labels (``lipsync.labels.write``).

Every format keeps the timeline's start: speech whose first phoneme is at 0.5 s is
written from 0.5 s on.

Many exports at once (``lipsync export --batch`` / ``--manifest``): ``batch`` and ``manifest``
read the two table formats (``tables`` their lines) into ``lines.Line`` values, checked so that
every output stays inside its folder; ``runner`` sends them in chunks to a pool (``pools``:
this process or local processes; ``cluster``: Dask) where ``work`` makes each output's bytes,
writes them, and records them in the ``ledger`` that ``--modified-only`` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lipsync.errors import ValueRefused

if TYPE_CHECKING:
    from lipsync.maps.lipmap import LipMap
    from lipsync.timeline import Timeline

__all__ = ["DEFAULT_MAPS", "FORMATS", "LABEL_EXPORTS", "export_bytes", "extension_for", "format_for"]

FORMATS = (
    "vmd", "rhubarb-json", "rhubarb-tsv", "curves-json", "curves-csv", "lab", "textgrid", "audacity",
)
#: Formats that write the phoneme labels themselves (no lip map, no curves).
LABEL_EXPORTS = frozenset({"lab", "textgrid", "audacity"})
#: The named map a format uses when none is given (the others: ``mmdagent``, the default).
DEFAULT_MAPS = {"vmd": "mmd", "rhubarb-json": "rhubarb", "rhubarb-tsv": "rhubarb"}
_EXTENSIONS = {
    ".vmd": "vmd", ".json": "curves-json", ".csv": "curves-csv", ".tsv": "rhubarb-tsv",
    ".lab": "lab", ".textgrid": "textgrid", ".txt": "audacity",
}


#: The extension a file of each format gets when lipsync names it (``--manifest`` outputs).
_NAMED_EXTENSIONS = {
    "vmd": ".vmd", "rhubarb-json": ".json", "rhubarb-tsv": ".tsv", "curves-json": ".json",
    "curves-csv": ".csv", "lab": ".lab", "textgrid": ".TextGrid", "audacity": ".txt",
}


def extension_for(format: str) -> str:
    """The file extension an output of ``format`` is named with (``.TextGrid`` for textgrid)."""
    try:
        return _NAMED_EXTENSIONS[format]
    except KeyError:
        raise ValueRefused(f"export format {format!r} is not one of {', '.join(FORMATS)}") from None


def format_for(path: str | Path) -> str:
    """The format an output file's extension asks for (``ValueRefused`` if none does)."""
    suffix = Path(path).suffix.lower()
    try:
        return _EXTENSIONS[suffix]
    except KeyError:
        known = ", ".join([*sorted(set(_EXTENSIONS) - {".textgrid"}), ".TextGrid"])
        raise ValueRefused(
            f"{path}: cannot tell the format from {suffix or 'no extension'!r} "
            f"(known: {known}); give --to-format ({', '.join(FORMATS)})"
        ) from None


def export_bytes(
    timeline: Timeline,
    format: str,
    lipmap: LipMap | None = None,
    *,
    fps: float = 60.0,
    duration: float | None = None,
    sound_file: str = "",
    model: str = "",
) -> bytes:
    """The file ``format`` makes of ``timeline`` (names already resolved against ``lipmap``).

    ``lipmap`` is needed by every format but the label ones. ``duration`` (seconds) is the
    audio's length where known: Rhubarb cues then run to it. ``sound_file`` goes into
    Rhubarb's metadata, ``model`` into the VMD header.
    """
    if format not in FORMATS:
        raise ValueRefused(f"export format {format!r} is not one of {', '.join(FORMATS)}")
    if format in LABEL_EXPORTS:
        from lipsync.labels.write import LABEL_FORMATS

        return LABEL_FORMATS[format](timeline).encode("utf-8")
    if lipmap is None:
        raise ValueRefused(f"the {format} export needs a lip map")
    from lipsync.curves import mouth_curves

    curves = mouth_curves(timeline, lipmap)
    if format == "vmd":
        from lipsync.export.vmd import vmd_bytes

        return vmd_bytes(curves, model)
    if format.startswith("rhubarb"):
        from lipsync.export.rhubarb import rhubarb_json, rhubarb_tsv

        if format == "rhubarb-json":
            return rhubarb_json(curves, sound_file=sound_file, duration=duration).encode()
        return rhubarb_tsv(curves, duration=duration).encode()
    from lipsync.export.curves import curves_csv, curves_json

    text = curves_json(curves, fps) if format == "curves-json" else curves_csv(curves, fps)
    return text.encode("utf-8")
