"""How much each morph of a map opens the jaw and rounds the lips, for simple drawn mouths.

A 2-D mouth has two controls, openness and rounding; a map has any morphs (``あ い う お``,
VRM's ``A I U E O``, ARKit's ``jawOpen mouthFunnel ...``). Each morph gets a share of both
such that the map's own rows for the five vowels, weighted by those shares, come out as a
reference shape for each vowel (``VOWEL_SHAPES``): least squares over the vowels the map has,
the smallest shares when that leaves freedom. A frame's openness is then the sum of each
morph's weight times its opening share (clamped to 0-1); rounding likewise.
"""

from __future__ import annotations

from lipsync.maps.lipmap import LipMap

__all__ = ["VOWEL_SHAPES", "mouth_shares"]

#: (openness, rounding) of a plainly spoken Japanese vowel, 0 to 1.
VOWEL_SHAPES = {"a": (1.0, 0.0), "i": (0.3, 0.0), "u": (0.25, 1.0), "e": (0.55, 0.0), "o": (0.7, 0.7)}


def mouth_shares(lipmap: LipMap) -> dict[str, tuple[float, float]]:
    """``{morph: (opening share, rounding share)}`` fitted from ``lipmap``'s vowel rows."""
    import numpy as np

    vowels = [v for v in VOWEL_SHAPES if v in lipmap]
    if not vowels:
        return {m: (0.0, 0.0) for m in lipmap.morphs}
    rows = np.array([lipmap.weights(v) for v in vowels], dtype=np.float64)
    targets = np.array([VOWEL_SHAPES[v] for v in vowels], dtype=np.float64)
    shares, *_ = np.linalg.lstsq(rows, targets, rcond=None)
    pairs = zip(lipmap.morphs, shares, strict=True)
    return {m: (round(float(o), 4), round(float(r), 4)) for m, (o, r) in pairs}
