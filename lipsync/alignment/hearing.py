"""The recogniser's settings, and audio heard whole: the model's output over all of it, searched.

``Settings`` holds every knob (the search's, the gate's, the pause edges', the warp); its
defaults were chosen on the tuning set alone (bench/recognition.py). ``decode_whole`` turns
the model's output over a whole utterance into ``(name, first frame, end frame)`` spans;
``spans_timeline`` turns frame spans into a ``Timeline`` of whole samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from lipsync.alignment.gate import GateSettings, frame_levels, quiet_frames
from lipsync.alignment.model import Transitions
from lipsync.alignment.pauses import EdgeSettings, Span, place_pauses
from lipsync.alignment.stream import StreamSettings
from lipsync.alignment.viterbi import Search, SearchSettings
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["LONG", "WHOLE", "Settings", "decode_whole", "heard_spans", "join_spans", "spans_timeline"]

#: Audio up to this long (seconds) is heard at once; longer, in windows (``LONG``).
WHOLE = 10.0
#: How long audio is heard: 8 s windows every 4 s, committed 2 s behind each window's end.
LONG = StreamSettings(commit_lag=2.0, hop=4.0, window=8.0, level_memory=60.0)


@dataclass(frozen=True)
class Settings:
    """Everything the recogniser weighs (defaults chosen on the tuning set alone)."""

    search: SearchSettings = field(default_factory=SearchSettings)
    gate: GateSettings = field(default_factory=GateSettings)
    edges: EdgeSettings = field(default_factory=EdgeSettings)
    #: The audio is heard slowed down by this factor (pitch and formants lowered alike);
    #: ``None``: by the voice's pitch (``lipsync.alignment.pitch``).
    warp: float | None = None


def decode_whole(
    transitions: Transitions, trans: npt.NDArray[np.float32], blank: npt.NDArray[np.float32],
    samples: npt.NDArray[np.float32], settings: Settings,
) -> list[Span]:
    """Spans from the model's output over all of ``samples`` at once."""
    return place_pauses(heard_spans(transitions, trans, blank, samples, settings), settings.edges)


def heard_spans(
    transitions: Transitions, trans: npt.NDArray[np.float32], blank: npt.NDArray[np.float32],
    samples: npt.NDArray[np.float32], settings: Settings,
) -> list[Span]:
    """The search's spans over all of ``samples``, pause edges where the model heard them."""
    quiet = quiet_frames(frame_levels(samples, len(blank)), settings.gate)
    runs = Search(transitions, settings.search).decode(trans, blank, quiet)
    names = transitions.phonemes
    ends = [a for _, a in runs[1:]] + [len(blank)]
    spans = [(names[p], a, end) for (p, a), end in zip(runs, ends, strict=True)]
    return _outer_sil(spans)


def _outer_sil(spans: list[Span]) -> list[Span]:
    out = list(spans)
    for k in (0, len(out) - 1):
        if out and out[k][0] == "pau":
            out[k] = ("sil", out[k][1], out[k][2])
    return out


def join_spans(spans: Iterable[Span]) -> list[Span]:
    """Pieces of one phoneme (a stream commits them split) as one span; silences joined."""
    out: list[Span] = []
    for name, a, b in spans:
        if out and out[-1][2] == a and (out[-1][0] == name or {out[-1][0], name} <= {"sil", "pau"}):
            out[-1] = (out[-1][0], out[-1][1], b)
        else:
            out.append((name, a, b))
    return out


def spans_timeline(
    spans: Sequence[Span], samples: int, rate: int, *, start_frame: int = 0, frame_rate: Fraction | int = 100,
) -> Timeline:
    """Frame spans as a timeline of ``samples`` samples at ``rate``, from frame ``start_frame``.

    Frame ``f`` begins at sample ``round(f * rate / frame_rate)``; the last span runs to the end.
    """
    def sample(frame: int) -> int:
        return min(samples, max(0, round(Fraction((frame - start_frame) * rate) / frame_rate)))

    pieces: list[tuple[str, Fraction]] = []
    for k, (name, a, _) in enumerate(spans):
        begin = sample(a)
        end = samples if k == len(spans) - 1 else sample(spans[k + 1][1])
        if end > begin:
            pieces.append((name, Fraction(end - begin, rate)))
    if not pieces and samples:
        pieces.append(("sil", Fraction(samples, rate)))
    return Timeline(pieces)
