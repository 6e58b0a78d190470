"""A tiny VRM 1.0 model made for the tests: a humanoid of bare nodes and a one-triangle face
whose morph targets are the expressions asked for (three-vrm loads it; no texture, no skin).

Written from the VRM 1.0 specification (VRMC_vrm: meta, humanoid with its 15 required bones,
expressions bound to morph targets) and glTF 2.0's binary container.
"""

from __future__ import annotations

import json
import struct

#: The humanoid bones VRM 1.0 requires, and each one's parent.
BONES = {
    "hips": None, "spine": "hips", "head": "spine",
    "leftUpperLeg": "hips", "leftLowerLeg": "leftUpperLeg", "leftFoot": "leftLowerLeg",
    "rightUpperLeg": "hips", "rightLowerLeg": "rightUpperLeg", "rightFoot": "rightLowerLeg",
    "leftUpperArm": "spine", "leftLowerArm": "leftUpperArm", "leftHand": "leftLowerArm",
    "rightUpperArm": "spine", "rightLowerArm": "rightUpperArm", "rightHand": "rightLowerArm",
}
#: VRM 1.0 preset expression names (the rest are custom).
PRESETS = {"happy", "angry", "sad", "relaxed", "surprised", "aa", "ih", "ou", "ee", "oh", "blink",
           "blinkLeft", "blinkRight", "neutral", "lookUp", "lookDown", "lookLeft", "lookRight"}
FACE = "Face"


def tiny_vrm(expressions: list[str]) -> bytes:
    """A VRM 1.0 GLB whose face mesh has one morph target per name of ``expressions``, each bound
    at weight 1 to the expression of that name."""
    names = list(BONES)
    nodes: list[dict[str, object]] = []
    for name in names:
        nodes.append({"name": name, "translation": [0.0, 1.0 if name == "hips" else 0.1, 0.0]})
    for name, parent in BONES.items():
        if parent is not None:
            nodes[names.index(parent)].setdefault("children", []).append(names.index(name))  # type: ignore[attr-defined]
    face = len(nodes)
    nodes.append({"name": FACE, "mesh": 0})
    nodes[names.index("head")].setdefault("children", []).append(face)  # type: ignore[attr-defined]
    triangle = struct.pack("<9f", 0, 0, 0, 0.1, 0, 0, 0, 0.1, 0)
    binary = bytearray(triangle)
    views = [{"buffer": 0, "byteOffset": 0, "byteLength": len(triangle)}]
    accessors: list[dict[str, object]] = [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                                           "min": [0, 0, 0], "max": [0.1, 0.1, 0]}]
    targets = []
    for index in range(len(expressions)):
        delta = struct.pack("<9f", 0, 0.01 * (index + 1), 0, 0, 0, 0, 0, 0, 0)
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(delta)})
        binary.extend(delta)
        accessors.append({"bufferView": len(views) - 1, "componentType": 5126, "count": 3, "type": "VEC3",
                          "min": [0, 0, 0], "max": [0, 0.01 * (index + 1), 0]})
        targets.append({"POSITION": len(accessors) - 1})
    binds = {name: {"morphTargetBinds": [{"node": face, "index": i, "weight": 1.0}]}
             for i, name in enumerate(expressions)}
    document = {
        "asset": {"version": "2.0", "generator": "lipsync tests"},
        "extensionsUsed": ["VRMC_vrm"],
        "extensions": {"VRMC_vrm": {
            "specVersion": "1.0",
            "meta": {"name": "tiny", "authors": ["lipsync tests"], "licenseUrl": "https://vrm.dev/licenses/1.0/"},
            "humanoid": {"humanBones": {name: {"node": i} for i, name in enumerate(names)}},
            "expressions": {
                "preset": {n: b for n, b in binds.items() if n in PRESETS},
                "custom": {n: b for n, b in binds.items() if n not in PRESETS},
            },
        }},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": nodes,
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "targets": targets}],
                    "weights": [0.0] * len(expressions), "extras": {"targetNames": expressions}}],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
    }
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    binary.extend(b"\0" * (-len(binary) % 4))
    return (struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + 8 + len(binary))
            + struct.pack("<II", len(text), 0x4E4F534A) + text
            + struct.pack("<II", len(binary), 0x004E4942) + bytes(binary))
