"""Godot 4 ``.tres``: an Animation resource of blend-shape tracks, for an AnimationPlayer.

Godot's text resource format 3 (Godot 4.0 and later), the fields as the engine itself writes
an Animation: ``length``, then per morph a track of type ``blend_shape`` whose path is
``NodePath("<mesh path>:<blend shape>")`` (the MeshInstance3D relative to the player's root
node, one subname: the shape), linear (``interp = 1``), and keys as a
``PackedFloat32Array`` of ``(time, transition, value)`` triples (transition 1: no easing).
"""

from __future__ import annotations

from lipsync.curves import MouthCurves
from lipsync.errors import ValueRefused
from lipsync.export.curves import tracks
from lipsync.export.unity import DEFAULT_MESH_PATH

__all__ = ["tres_text"]

_BREAKS = frozenset(':"\\')


def _number(value: float) -> str:
    text = f"{value:.7g}"
    return "0" if text in ("-0", "0") else text


def tres_text(curves: MouthCurves, *, name: str = "mouth", mesh_path: str = DEFAULT_MESH_PATH) -> str:
    """The ``.tres`` of ``curves``: Animation ``name``, blend shapes named as the morphs, on ``mesh_path``."""
    named = [("mesh path", mesh_path), ("animation name", name), *(("blend shape", m) for m in curves.morphs)]
    for what, text in named:
        bad = "".join(sorted({c for c in text if c in _BREAKS or ord(c) < 32}))
        if bad or not text:
            raise ValueRefused(f"{what} {text!r}: a Godot NodePath cannot hold {bad or 'an empty name'}")
    found = tracks(curves, from_zero=True)
    length = max(points[-1][0] for _, points in found)
    lines = ['[gd_resource type="Animation" format=3]', "", "[resource]", f'resource_name = "{name}"',
             f"length = {_number(length)}"]
    for index, (morph, points) in enumerate(found):
        keys = ", ".join(f"{_number(t)}, 1, {_number(w)}" for t, w in points)
        lines += [
            f'tracks/{index}/type = "blend_shape"',
            f"tracks/{index}/imported = false",
            f"tracks/{index}/enabled = true",
            f'tracks/{index}/path = NodePath("{mesh_path}:{morph}")',
            f"tracks/{index}/interp = 1",
            f"tracks/{index}/loop_wrap = true",
            f"tracks/{index}/keys = PackedFloat32Array({keys})",
        ]
    return "\n".join(lines) + "\n"
