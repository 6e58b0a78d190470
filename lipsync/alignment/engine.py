"""The aligner behind one call: pydomino's model and its search, guarded against input they cannot take.

pydomino's model listens at 16 kHz and gives one frame per 160 samples, plus one:
``len(samples) // 160 + 1`` frames (measured on the wheel, 1.2.1.post2). The search places
the transitions between consecutive tokens (``len(tokens) - 1`` of them) at least one frame
apart; pydomino's own aligner, given more transitions than frames, lowered that minimum to 0
and wrote outside its buffers (``double free or corruption``: the process aborted). ``run``
refuses such input before the model runs, whoever the caller.

The model runs on onnxruntime here (``lipsync.alignment.model``) and the search is
pydomino's, in numpy (``lipsync.alignment.forced``): same frames, but the number of threads
is lipsync's to choose. A command uses every core (``threads`` 0, onnxruntime's choice); a
batch's worker uses one (``use_threads(1)``): the batch's parallelism is its workers.

The model looks at its whole input at once: its memory grows with the square of the input's
length (measured: +44 MB for 10 s, +178 MB for 20 s, +350 MB for 30 s) and its time faster than
the length. ``PIECE_SECONDS`` is the longest audio given to it at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lipsync.alignment.forced import search, token_ids
from lipsync.alignment.model import HOP, RATE, frame_count, load_model
from lipsync.errors import AlignmentRefused

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["ALIGN_RATE", "FRAME", "PIECE_SECONDS", "Clip", "model_frames", "run", "use_threads"]

#: The rate pydomino's model listens at, and its frame (samples).
ALIGN_RATE = RATE
FRAME = HOP
#: The frames the model makes of so many samples at 16 kHz.
model_frames = frame_count
#: The longest speech (seconds) the model is given at once: one utterance up to this long is
#: aligned whole (a noisy 11 s sentence cut in two had its text split at the wrong place);
#: longer speech goes in stretches of at most 10 s (``split``), whose memory (+44 MB) is
#: then all a take of any length adds, and its time about 0.05 x the audio.
PIECE_SECONDS = 12.0

_threads = 0


def use_threads(count: int) -> None:
    """How many threads the model runs on in this process from now on (0: every core)."""
    global _threads
    _threads = count


class Clip:
    """16 kHz samples for the aligner. The model hears them on the first search and every
    later search (other tokens for the same audio: with or without a pause) reuses that:
    the model is nearly all of an alignment's time, the search a few percent of it."""

    def __init__(self, samples: npt.NDArray[np.float32]) -> None:
        self.samples = samples
        self.frames = model_frames(len(samples))
        self._scores: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None = None

    def scores(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """The model's transition and blank log-probabilities, per frame."""
        if self._scores is None:
            self._scores = load_model(_threads, arena=True).run(self.samples)
        return self._scores


def run(audio: npt.NDArray[np.float32] | Clip, tokens: list[str], min_frames: int = 1) -> list[int]:
    """Frame index where each token after the first starts, in ``audio`` (samples or a ``Clip``).

    ``tokens`` start and end with ``pau``. Raises ``AlignmentRefused`` when the tokens need
    more frames than the audio has (the search has no path; pydomino's aborted the process).
    """
    clip = audio if isinstance(audio, Clip) else Clip(audio)
    frames = clip.frames
    transitions = len(tokens) - 1
    if min_frames < 1 or transitions < 1 or min_frames * (transitions - 1) + 1 > frames:
        raise AlignmentRefused(
            f"{len(clip.samples) / ALIGN_RATE:.2f} s of audio is too short for {len(tokens)} aligner tokens "
            f"({frames} frames of 10 ms)"
        )
    ids = token_ids(load_model(_threads, arena=True).transitions, tokens)
    trans, blank = clip.scores()
    return search(trans, blank, ids, min_frames)
