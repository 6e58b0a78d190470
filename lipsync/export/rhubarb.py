"""Rhubarb Lip Sync's output formats, so its importers (Blender, Godot, Spine, Unity, ...) work.

JSON: ``{"metadata": {"soundFile", "duration"}, "mouthCues": [{"start", "end", "value"}]}``;
TSV: one ``start<TAB>shape`` line per cue. Times are seconds with two decimals, as Rhubarb
writes them. Shapes are Rhubarb's A-H and X.

Each moment's shape is the strongest morph of the curves (drawn with the ``rhubarb`` map,
or any map whose morphs are Rhubarb shapes), X where none moves. The cues cover the speech
from 0 to its end and no further, as Rhubarb's end where the recording ends: a first phoneme
at 0.5 s gives an X cue from 0 to 0.5 s, and the mouth's closing keys after the last phoneme
are cut at the end.
"""

from __future__ import annotations

import json
import math

from lipsync.curves import MouthCurves
from lipsync.errors import ValueRefused

__all__ = ["SHAPES", "mouth_cues", "rhubarb_json", "rhubarb_tsv"]

#: Rhubarb's mouth shapes: A-F basic, G H X extended (X: at rest).
SHAPES = ("A", "B", "C", "D", "E", "F", "G", "H", "X")
_RATE = 100  # cues on Rhubarb's 10 ms grid


def mouth_cues(curves: MouthCurves, duration: float | None = None) -> list[tuple[float, float, str]]:
    """``(start, end, shape)`` cues, back to back from 0 to ``duration`` (the speech's end;
    without it, the curves')."""
    import numpy as np

    unknown = [m for m in curves.morphs if m not in SHAPES]
    if unknown:
        raise ValueRefused(
            f"the Rhubarb formats need a map whose morphs are Rhubarb shapes ({' '.join(SHAPES)}), "
            f"not {', '.join(unknown)}: use --map rhubarb"
        )
    end = curves.end if duration is None else duration
    count = math.ceil(end * _RATE - 1e-9)
    if count <= 0:
        return []
    # Each 10 ms step takes the shape of the curves at its middle.
    times = (np.arange(count, dtype=np.float64) + 0.5) / _RATE
    weights = curves.at(times - curves.start)
    strongest = weights.argmax(axis=1)
    moving = weights.max(axis=1) > 1e-6
    shapes = [curves.morphs[int(i)] if m else "X" for i, m in zip(strongest, moving, strict=True)]
    cues: list[tuple[float, float, str]] = []
    first = 0
    for step in range(1, count + 1):
        if step == count or shapes[step] != shapes[first]:
            cues.append((first / _RATE, min(step / _RATE, end), shapes[first]))
            first = step
    return cues


def rhubarb_json(curves: MouthCurves, *, sound_file: str = "", duration: float | None = None) -> str:
    """Rhubarb's JSON: metadata (``soundFile``, ``duration``) and ``mouthCues``."""
    cues = mouth_cues(curves, duration)
    total = cues[-1][1] if cues else 0.0
    return json.dumps({
        "metadata": {"soundFile": sound_file, "duration": round(total, 2)},
        "mouthCues": [{"start": round(s, 2), "end": round(e, 2), "value": v} for s, e, v in cues],
    }, indent=2, ensure_ascii=False) + "\n"


def rhubarb_tsv(curves: MouthCurves, *, duration: float | None = None) -> str:
    """Rhubarb's TSV: ``start<TAB>shape`` per cue."""
    return "".join(f"{s:.2f}\t{v}\n" for s, _, v in mouth_cues(curves, duration))
