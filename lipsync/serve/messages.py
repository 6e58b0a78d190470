"""The messages ``lipsync serve`` sends that take some making: ``hello`` and ``speech``."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from lipsync.serve.protocol import PATH

if TYPE_CHECKING:
    from lipsync.maps.lipmap import LipMap
    from lipsync.motion.settings import Motion
    from lipsync.speech.pieces import Piece
    from lipsync.timeline import Timeline

__all__ = ["hello", "speech"]


def hello(sample_rate: int) -> dict[str, Any]:
    """The ``hello`` a client gets on connecting: the version, the named maps, the sample rate."""
    from lipsync._version import __version__
    from lipsync.maps.named import MAP_NAMES

    return {"type": "hello", "version": __version__, "path": PATH, "maps": list(MAP_NAMES),
            "sample_rate": sample_rate}


def speech(request_id: str, offset: float, piece: Piece, timeline: Timeline, lipmap: LipMap,
           shares: dict[str, tuple[float, float]], motion: Motion) -> dict[str, Any]:
    """The ``speech`` message of one piece (``timeline``: its phonemes in ``lipmap``'s names),
    its keyframes drawn with ``motion``."""
    from lipsync.curves import FPS
    from lipsync.motion import mouth_curves

    keyframes: dict[str, list[list[float]]] = {}
    if any(name not in ("sil", "pau") for name in timeline.names):
        curves = mouth_curves(timeline, lipmap, motion)
        keyframes = {m: [[round(f / FPS, 6), round(w, 4)] for f, w in keys]
                     for m, keys in curves.keyframes().items()}
    return {
        "type": "speech", "id": request_id, "offset": offset, "sample_rate": piece.audio.sample_rate,
        "pcm16": base64.b64encode(piece.audio.samples.astype("<i2").tobytes()).decode("ascii"),
        "timeline": [[p.name, float(p.start), float(p.end)] for p in timeline],
        "morphs": list(lipmap.morphs), "keyframes": keyframes,
        "shape": {m: list(share) for m, share in shares.items()},
    }
