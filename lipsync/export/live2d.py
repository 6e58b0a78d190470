"""Live2D Cubism motion (``.motion3.json``): the mouth as parameter curves, for every Cubism SDK.

As Live2D's CubismSpecs ``motion3.json`` describes it (Version 3): ``Meta`` with ``Duration``,
``Fps``, the curve, segment and point counts the SDK sizes its arrays by (they must be exact:
a point for each curve's start, one per linear segment), no fades (a Cubism motion fades in
over 1 s unless told otherwise, which would flatten the first second of speech), and one
``Parameter`` curve per morph of the map: linear segments ``[t0, v0, 0, t1, v1, 0, t2, v2,
...]``. With the ``live2d`` map that is ``ParamMouthOpenY`` (0..1) and ``ParamMouthForm``
(-1..1, its two columns joined). Every curve starts at 0 s and the motion lasts to its last key.
"""

from __future__ import annotations

import json

from lipsync.curves import MouthCurves
from lipsync.export.curves import tracks

__all__ = ["motion3_json"]


def motion3_json(curves: MouthCurves) -> str:
    """The motion3.json of ``curves``: a ``Parameter`` curve per (signed-joined) morph."""
    found = tracks(curves, signed=True, from_zero=True)
    duration = max(points[-1][0] for _, points in found)
    out_curves = []
    segments = points_total = 0
    for name, points in found:
        if points[-1][0] < duration:  # every curve runs the motion's whole length
            points.append((duration, points[-1][1]))
        flat: list[float] = [round(points[0][0], 6), round(points[0][1], 6)]
        for t, w in points[1:]:
            flat += [0, round(t, 6), round(w, 6)]
        segments += len(points) - 1
        points_total += len(points)
        out_curves.append({"Target": "Parameter", "Id": name, "Segments": flat})
    return json.dumps({
        "Version": 3,
        "Meta": {
            "Duration": round(duration, 6), "Fps": 30.0, "Loop": False, "AreBeziersRestricted": True,
            "FadeInTime": 0.0, "FadeOutTime": 0.0, "CurveCount": len(out_curves),
            "TotalSegmentCount": segments, "TotalPointCount": points_total,
            "UserDataCount": 0, "TotalUserDataSize": 0,
        },
        "Curves": out_curves,
    }, ensure_ascii=False, separators=(",", ":")) + "\n"
