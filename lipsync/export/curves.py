"""Mouth curves as text: CSV (a time column, then one column per morph) and JSON.

A map may write a signed parameter as two columns, ``X`` (its positive half) and ``-X``
(its negative half), because a lip map holds only weights of 0 or more (the ``live2d`` map
does this for ``ParamMouthForm``). These formats join them: column ``X`` is ``X - (-X)``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

from lipsync.curves import FPS, MouthCurves, needed_keys

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Track", "curves_csv", "curves_json", "keyframes_json", "signed_columns", "tracks", "unity_json"]

#: One morph's keyframes: its name and ``(seconds on the audio's clock, weight)`` points.
Track = tuple[str, list[tuple[float, float]]]


def signed_columns(
    morphs: tuple[str, ...], weights: npt.NDArray[np.float64]
) -> tuple[list[str], npt.NDArray[np.float64]]:
    """Join each ``-X`` column into column ``X`` (as ``X - (-X)``); others stay as they are."""
    import numpy as np

    names: list[str] = []
    columns: list[npt.NDArray[np.float64]] = []
    for i, morph in enumerate(morphs):
        if morph.startswith("-") and morph[1:] in morphs:
            continue
        column = weights[:, i]
        negative = f"-{morph}"
        if negative in morphs:
            column = column - weights[:, morphs.index(negative)]
        names.append(morph)
        columns.append(column)
    stacked = np.stack(columns, axis=1) if columns else np.empty((len(weights), 0))
    return names, stacked


def curves_csv(curves: MouthCurves, fps: float) -> str:
    """``time,<morph>...`` rows at ``fps`` from 0 to the end, six decimals."""
    times, weights = curves.sample(fps)
    names, weights = signed_columns(curves.morphs, weights)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["time", *names])
    for t, row in zip(times.tolist(), weights.tolist(), strict=True):
        writer.writerow([f"{t:.6f}", *(f"{w:.6f}" for w in row)])
    return buffer.getvalue()


def curves_json(curves: MouthCurves, fps: float) -> str:
    """``{"fps", "morphs", "times", "weights": {morph: [...]}}`` at ``fps``, one line."""
    times, weights = curves.sample(fps)
    names, weights = signed_columns(curves.morphs, weights)
    return json.dumps({
        "fps": fps, "morphs": names, "times": times.round(6).tolist(),
        "weights": {m: (weights[:, i].round(6) + 0.0).tolist() for i, m in enumerate(names)},
    }, ensure_ascii=False) + "\n"


def keyframes_json(curves: MouthCurves, sequence: str | None = None) -> str:
    """``{"fps": 30, "start_frame", "morphs", "keyframes": {morph: [[frame, weight], ...]}}``,
    and the LIPSYNC ``sequence`` the curves were drawn from, when given."""
    data: dict[str, object] = {
        "fps": FPS, "start_frame": curves.start_frame, "morphs": list(curves.morphs),
        "keyframes": curves.keyframes(),
    }
    if sequence is not None:
        data["sequence"] = sequence
    return json.dumps(data, ensure_ascii=False) + "\n"


def tracks(curves: MouthCurves, *, signed: bool = False, from_zero: bool = False) -> list[Track]:
    """Each morph's keyframes, linear in between (the 30 fps keys, those on a line left out).

    ``signed`` joins ``-X`` columns into ``X`` (``signed_columns``); ``from_zero`` starts every
    track at 0 s (with the rest weight) when its first key is later, for players that hold a
    track's first value back to its first key only from 0.
    """
    names, weights = signed_columns(curves.morphs, curves.weights) if signed else (
        list(curves.morphs), curves.weights)
    numbers = curves.numbers
    result: list[Track] = []
    for i, name in enumerate(names):
        column = weights[:, i]
        points = [(int(numbers[k]) / FPS, float(column[k]) + 0.0) for k in needed_keys(numbers, column)]
        if from_zero and points[0][0] > 0:
            points.insert(0, (0.0, points[0][1]))
        result.append((name, points))
    return result


def unity_json(curves: MouthCurves, fps: float) -> str:
    """Weights at ``fps`` as Unity's ``JsonUtility`` reads them: an object of arrays of objects.

    ``{"version": 1, "fps", "duration", "morphs": [...], "frames": [{"time", "weights": [...]}]}``,
    ``weights[i]`` belonging to ``morphs[i]`` (JsonUtility reads no dictionaries and no nested
    arrays, so each frame is an object).
    """
    times, weights = curves.sample(fps)
    names, weights = signed_columns(curves.morphs, weights)
    frames = [{"time": t, "weights": row} for t, row in
              zip(times.round(6).tolist(), (weights.round(6) + 0.0).tolist(), strict=True)]
    return json.dumps({
        "version": 1, "fps": fps, "duration": round(float(times[-1]), 6), "morphs": names, "frames": frames,
    }, ensure_ascii=False, separators=(",", ":")) + "\n"
