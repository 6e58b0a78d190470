"""MikuMikuDance motion (``.vmd``) with morph keyframes only: the mouth of a lip-sync motion.

Layout (little-endian), as MMD and mmd_tools read it: the 30-byte signature
``Vocaloid Motion Data 0002`` padded with NUL, the model name in 20 bytes of Shift_JIS, a
bone keyframe count of 0, the morph keyframe count and one 23-byte record per keyframe
(morph name in 15 bytes of Shift_JIS, frame as uint32, weight as float32), then camera,
light and self-shadow counts of 0.

The keyframes are exactly ``MouthCurves.keyframes()`` (``lipsync curves --keyframes``): MMD
interpolates morph keys linearly, as the curves do, so it plays the same motion as every
other consumer, at 30 frames per second.
"""

from __future__ import annotations

import struct

from lipsync.curves import MouthCurves
from lipsync.errors import ValueRefused

__all__ = ["MAX_KEYFRAMES", "vmd_bytes"]

SIGNATURE = b"Vocaloid Motion Data 0002"
#: MikuMikuDance reads at most this many morph keyframes from one file.
MAX_KEYFRAMES = 20_000
_MODEL_FIELD = 20
_MORPH_FIELD = 15
_RECORD = struct.Struct("<15sIf")


def _field(text: str, size: int, what: str) -> bytes:
    try:
        data = text.encode("cp932")
    except UnicodeEncodeError:
        raise ValueRefused(f"{what} {text!r} has no Shift_JIS form: a VMD file cannot name it") from None
    if len(data) > size:
        raise ValueRefused(
            f"{what} {text!r} is {len(data)} bytes in Shift_JIS; a VMD file holds {size} "
            "(rename it in the lip map: lipsync map rename-morph)"
        )
    return data.ljust(size, b"\0")


def vmd_bytes(curves: MouthCurves, model: str = "") -> bytes:
    """The VMD file of ``curves``' keyframes for a model named ``model`` (may be empty).

    Raises ``ValueRefused`` for a name that does not fit its field, and for a motion of
    more than ``MAX_KEYFRAMES`` keyframes (MMD would not load it: export shorter pieces).
    """
    keyframes = curves.keyframes()
    names = {morph: _field(morph, _MORPH_FIELD, "morph") for morph in keyframes}
    count = sum(len(keys) for keys in keyframes.values())
    if count > MAX_KEYFRAMES:
        raise ValueRefused(
            f"{count} morph keyframes ({len(keyframes)} morphs x {count // max(len(keyframes), 1)} keys): "
            f"MikuMikuDance reads at most {MAX_KEYFRAMES} from one VMD file; export the speech "
            "in shorter pieces (one per sentence, or --batch)"
        )
    parts = [SIGNATURE.ljust(30, b"\0"), _field(model, _MODEL_FIELD, "model name"), struct.pack("<I", 0)]
    parts.append(struct.pack("<I", count))
    for morph, keys in keyframes.items():
        for frame, weight in keys:
            parts.append(_RECORD.pack(names[morph], frame, weight))
    parts.append(struct.pack("<III", 0, 0, 0))  # camera, light, self-shadow keyframes
    return b"".join(parts)
