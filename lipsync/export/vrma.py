"""VRM Animation (``.vrma``): the mouth as VRM 1.0 expression tracks, for three-vrm, UniVRM and
every VRM 1.0 player.

The file is binary glTF 2.0 (GLB) with the ``VRMC_vrm_animation`` extension (VRM Animation
1.0, vrm-c/vrm-specification): one node per expression, listed under
``expressions.preset`` (``aa ih ou ee oh`` and the other VRM presets) or
``expressions.custom`` (any other name); the X of each node's translation is the
expression's weight, 0 to 1, linear between keys (``VEC3`` outputs ``(w, 0, 0)``). There is
no humanoid: the animation moves the mouth only. Every expression node is in the default
scene (three-vrm needs one), and the animation is the file's first (the one players load).
"""

from __future__ import annotations

import json
import struct

from lipsync.curves import MouthCurves
from lipsync.errors import ValueRefused
from lipsync.export.curves import tracks

__all__ = ["PRESETS", "vrma_bytes"]

#: VRM 1.0's preset expressions a VRM Animation may animate (look* are the lookAt's job).
PRESETS = frozenset({
    "happy", "angry", "sad", "relaxed", "surprised", "aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft",
    "blinkRight", "neutral",
})
_FORBIDDEN = frozenset({"lookUp", "lookDown", "lookLeft", "lookRight"})
_FLOAT = 5126  # glTF componentType FLOAT
_JSON, _BIN = 0x4E4F534A, 0x004E4942


def vrma_bytes(curves: MouthCurves, generator: str = "lipsync") -> bytes:
    """The GLB of ``curves``: one expression per morph (named as the morph), weights clamped to 0-1."""
    blocked = [m for m in curves.morphs if m in _FORBIDDEN]
    if blocked:
        raise ValueRefused(f"a VRM Animation cannot animate {blocked[0]!r} as an expression (the lookAt "
                           "moves the eyes): rename the morph (--rename)")
    binary = bytearray()
    views: list[dict[str, int]] = []
    accessors: list[dict[str, object]] = []

    def add(data: bytes, accessor: dict[str, object]) -> int:
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(data)})
        binary.extend(data)
        binary.extend(b"\0" * (-len(binary) % 4))
        accessors.append({"bufferView": len(views) - 1, "componentType": _FLOAT, **accessor})
        return len(accessors) - 1

    samplers: list[dict[str, object]] = []
    channels: list[dict[str, object]] = []
    preset: dict[str, dict[str, int]] = {}
    custom: dict[str, dict[str, int]] = {}
    for node, (name, points) in enumerate(tracks(curves, from_zero=True)):
        times = [struct.unpack("<f", struct.pack("<f", t))[0] for t, _ in points]
        weights = [min(max(w, 0.0), 1.0) for _, w in points]
        found = add(struct.pack(f"<{len(times)}f", *times), {
            "count": len(times), "type": "SCALAR", "min": [min(times)], "max": [max(times)]})
        values = add(struct.pack(f"<{3 * len(weights)}f", *(v for w in weights for v in (w, 0.0, 0.0))), {
            "count": len(weights), "type": "VEC3"})
        samplers.append({"input": found, "output": values, "interpolation": "LINEAR"})
        channels.append({"sampler": node, "target": {"node": node, "path": "translation"}})
        (preset if name in PRESETS else custom)[name] = {"node": node}
    expressions: dict[str, object] = {}
    if preset:
        expressions["preset"] = preset
    if custom:
        expressions["custom"] = custom
    document = {
        "asset": {"version": "2.0", "generator": generator},
        "extensionsUsed": ["VRMC_vrm_animation"],
        "extensions": {"VRMC_vrm_animation": {"specVersion": "1.0", "expressions": expressions}},
        "scene": 0,
        "scenes": [{"nodes": list(range(len(channels)))}],
        "nodes": [{"name": name} for name in _names(preset, custom)],
        "animations": [{"name": "lipsync", "samplers": samplers, "channels": channels}],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join([
        struct.pack("<4sII", b"glTF", 2, total),
        struct.pack("<II", len(text), _JSON), text,
        struct.pack("<II", len(binary), _BIN), bytes(binary),
    ])


def _names(preset: dict[str, dict[str, int]], custom: dict[str, dict[str, int]]) -> list[str]:
    """Node names in node order."""
    by_node = {ref["node"]: name for name, ref in (*preset.items(), *custom.items())}
    return [by_node[i] for i in range(len(by_node))]
