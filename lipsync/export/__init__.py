"""Exporters: a timeline (and its mouth curves) written in the formats other tools read.

One small writer per format, chosen by name (``FORMATS``) or by the output's extension
(``format_for``):

- ``vmd``: MikuMikuDance motion, morph keyframes only (``lipsync.export.vmd``);
- ``vrma``: VRM Animation, VRM 1.0 expression tracks (``lipsync.export.vrma``);
- ``motion3``: Live2D Cubism motion3.json, parameter curves (``lipsync.export.live2d``);
- ``unity-anim``: a Unity AnimationClip of blend-shape curves (``lipsync.export.unity``);
- ``godot-tres``: a Godot 4 Animation resource of blend-shape tracks (``lipsync.export.godot``);
- ``unity-json``: weights at ``fps`` as Unity's JsonUtility reads them (``lipsync.export.curves``);
- ``rhubarb-json``, ``rhubarb-tsv``: Rhubarb Lip Sync's cues (``lipsync.export.rhubarb``);
- ``curves-json``, ``curves-csv``: per-morph weights at ``fps`` (``lipsync.export.curves``);
- ``lab``, ``textgrid``, ``audacity``: the phoneme labels (``lipsync.labels.write``).

The keyframe formats (VMD, VRMA, motion3, .anim, .tres) carry the curves' own 30 fps keys
(those on a straight line between their neighbours left out), so every engine plays the
same motion. Every format keeps the timeline's start: speech whose first phoneme is at
0.5 s is written from 0.5 s on (a shape may lead its sound by a frame).

Many exports at once (``lipsync export --batch`` / ``--manifest``): ``batch`` and ``manifest``
read the two table formats (``tables`` their lines) into ``lines.Line`` values, checked so that
every output stays inside its folder; ``runner`` sends them in chunks to a pool (``pools``:
this process or local processes; ``cluster``: Dask) where ``work`` makes each output's bytes;
the submitting side (``runner``) writes them and records them in the ``ledger`` that
``--modified-only`` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lipsync.errors import ValueRefused

if TYPE_CHECKING:
    from lipsync.curves import MouthCurves
    from lipsync.maps.lipmap import LipMap
    from lipsync.motion.settings import Motion
    from lipsync.timeline import Timeline

__all__ = ["DEFAULT_MAPS", "FORMATS", "LABEL_EXPORTS", "export_bytes", "extension_for", "format_for"]

FORMATS = (
    "vmd", "vrma", "motion3", "unity-anim", "godot-tres", "unity-json", "rhubarb-json", "rhubarb-tsv",
    "curves-json", "curves-csv", "lab", "textgrid", "audacity",
)
#: Formats that write the phoneme labels themselves (no lip map, no curves).
LABEL_EXPORTS = frozenset({"lab", "textgrid", "audacity"})
#: The named map a format uses when none is given (the others: ``mmdagent``, the default).
DEFAULT_MAPS = {
    "vmd": "mmd", "vrma": "vrm", "motion3": "live2d", "unity-anim": "rpm", "godot-tres": "rpm",
    "unity-json": "rpm", "rhubarb-json": "rhubarb", "rhubarb-tsv": "rhubarb",
}
_EXTENSIONS = {
    ".vmd": "vmd", ".vrma": "vrma", ".motion3.json": "motion3", ".anim": "unity-anim", ".tres": "godot-tres",
    ".unity.json": "unity-json", ".json": "curves-json", ".csv": "curves-csv", ".tsv": "rhubarb-tsv",
    ".lab": "lab", ".textgrid": "textgrid", ".txt": "audacity",
}


#: The extension a file of each format gets when lipsync names it (``--manifest`` outputs): the
#: one that picks it, spelled as Praat spells its own; Rhubarb's JSON has none of its own.
_NAMED_EXTENSIONS = {
    **{fmt: extension for extension, fmt in _EXTENSIONS.items()},
    "textgrid": ".TextGrid", "rhubarb-json": ".json",
}


def extension_for(format: str) -> str:
    """The file extension an output of ``format`` is named with (``.TextGrid`` for textgrid)."""
    try:
        return _NAMED_EXTENSIONS[format]
    except KeyError:
        raise ValueRefused(f"export format {format!r} is not one of {', '.join(FORMATS)}") from None


def format_for(path: str | Path) -> str:
    """The format an output file's extension asks for (``ValueRefused`` if none does)."""
    name = Path(path).name.lower()
    suffix = Path(path).suffix.lower()
    double = "".join(Path(name).suffixes[-2:])
    try:
        return _EXTENSIONS[double] if double in _EXTENSIONS else _EXTENSIONS[suffix]
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
    motion: Motion | None = None,
    name: str = "mouth",
    mesh_path: str | None = None,
    renames: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """The file ``format`` makes of ``timeline`` (names already resolved against ``lipmap``).

    ``lipmap`` is needed by every format but the label ones. ``duration`` (seconds) is the
    audio's length where known: Rhubarb cues then run to it. ``sound_file`` goes into
    Rhubarb's metadata, ``model`` into the VMD header. ``motion``: how the mouth moves
    (``lipsync.motion``; default: lipsync's rules at intensity 1). ``name`` names the clip
    (.anim, .tres); ``mesh_path`` is the face mesh's path from the animated root (.anim,
    .tres; default ``Wolf3D_Head``, a Ready Player Me avatar's); ``renames`` writes a morph
    under another name (the model's own blend shape), ``(morph, name)`` pairs.
    """
    if format not in FORMATS:
        raise ValueRefused(f"export format {format!r} is not one of {', '.join(FORMATS)}")
    if format in LABEL_EXPORTS:
        from lipsync.labels.write import LABEL_FORMATS

        return LABEL_FORMATS[format](timeline).encode("utf-8")
    if lipmap is None:
        raise ValueRefused(f"the {format} export needs a lip map")
    from lipsync.motion import mouth_curves

    curves = mouth_curves(timeline, lipmap, motion)
    if renames:
        curves.morphs = _renamed(curves.morphs, renames)
    if format in _ENGINES:
        return _engine_bytes(curves, format, fps=fps, name=name, mesh_path=mesh_path)
    if format == "vmd":
        from lipsync.export.vmd import vmd_bytes

        return vmd_bytes(curves, model)
    if format.startswith("rhubarb"):
        from lipsync.export.rhubarb import rhubarb_json, rhubarb_tsv

        end = float(timeline.end) if duration is None else duration  # the speech's end: no later
        if format == "rhubarb-json":
            return rhubarb_json(curves, sound_file=sound_file, duration=end).encode()
        return rhubarb_tsv(curves, duration=end).encode()
    from lipsync.export.curves import curves_csv, curves_json

    text = curves_json(curves, fps) if format == "curves-json" else curves_csv(curves, fps)
    return text.encode("utf-8")


_ENGINES = frozenset({"vrma", "motion3", "unity-anim", "godot-tres", "unity-json"})


def _engine_bytes(curves: MouthCurves, format: str, *, fps: float, name: str, mesh_path: str | None) -> bytes:
    if format == "vrma":
        from lipsync.export.vrma import vrma_bytes

        return vrma_bytes(curves)
    if format == "motion3":
        from lipsync.export.live2d import motion3_json

        return motion3_json(curves).encode("utf-8")
    if format == "unity-json":
        from lipsync.export.curves import unity_json

        return unity_json(curves, fps).encode("utf-8")
    from lipsync.export.unity import DEFAULT_MESH_PATH

    path = DEFAULT_MESH_PATH if mesh_path is None else mesh_path
    if format == "unity-anim":
        from lipsync.export.unity import anim_yaml

        return anim_yaml(curves, name=name, mesh_path=path).encode("utf-8")
    from lipsync.export.godot import tres_text

    return tres_text(curves, name=name, mesh_path=path).encode("utf-8")


def _renamed(morphs: tuple[str, ...], renames: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """``morphs`` with each ``(morph, name)`` of ``renames`` applied (names checked, none twice)."""
    from lipsync.names import name_fault

    given = dict(renames)
    unknown = [m for m in given if m not in morphs]
    if unknown:
        raise ValueRefused(f"cannot rename morph {unknown[0]!r}: the map's morphs are {' '.join(morphs)}")
    for old, new in renames:
        fault = name_fault(new)
        if fault:
            raise ValueRefused(f"new name for morph {old!r}: {fault}")
    result = tuple(given.get(m, m) for m in morphs)
    if len(set(result)) != len(result):
        raise ValueRefused("two morphs would have the same name after --rename")
    return result
