"""``Speaker.say``'s per-utterance options (what ``serve`` uses): map, fps, weights, pieces, silence."""

from __future__ import annotations

import numpy as np
import pytest

from lipsync.errors import ValueRefused
from lipsync.live.audio.null import NullOutput
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.maps.named import load_map
from lipsync.sound import Audio
from lipsync.speech.pieces import Piece
from lipsync.timeline import Timeline


class Recording(NullOutput):
    """A null output that keeps every sample queued."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(clock=clock)
        self.samples: list[np.ndarray] = []

    def _queue(self, samples: np.ndarray, start: int) -> None:
        self.samples.append(samples)


TIMELINE = Timeline.from_sequence("sil,100,k,60,o,120,N,80,a,150,sil,100")


def speech() -> Audio:
    rng = np.random.default_rng(1)
    count = round(float(TIMELINE.duration) * 48000)
    return Audio(rng.integers(-3000, 3000, count).astype(np.int16), 48000)


def test_each_utterance_has_its_own_map_fps_and_weights_callback() -> None:
    clock = VirtualClock()
    speaker_frames: list[float] = []
    mine: list[tuple[float, dict[str, float]]] = []
    vrm0 = load_map("vrm0")
    with Speaker(None, audio="null", clock=clock, fps=30,
                 on_weights=lambda t, w: speaker_frames.append(t)) as speaker:
        speaker.say(speech(), TIMELINE, lipmap=vrm0, fps=50,
                    on_weights=lambda t, w: mine.append((t, w))).wait()
        speaker.say(speech(), TIMELINE).wait()
    assert [t for t, _ in mine] == pytest.approx([n / 50 for n in range(len(mine))], abs=1e-6)
    assert all(set(w) == set(vrm0.morphs) for _, w in mine)
    assert max(w["A"] for _, w in mine) > 0.5  # the "a" opens VRM's A
    assert speaker_frames and speaker_frames == pytest.approx([n / 30 for n in range(len(speaker_frames))])


def test_on_piece_hears_each_piece_when_queued_with_its_sample_time() -> None:
    clock = VirtualClock()
    heard: list[tuple[float | None, Piece]] = []
    with Speaker(None, audio="null", clock=clock) as speaker:
        utterance = speaker.say(speech(), TIMELINE, on_piece=lambda at, piece: heard.append((at, piece)))
        utterance.wait()
    ((at, piece),) = heard
    assert at == utterance.started_at
    assert piece.timeline == TIMELINE and np.array_equal(piece.audio.samples, speech().samples)


def test_silent_plays_silence_of_the_same_length_on_the_same_clock() -> None:
    clock = VirtualClock()
    output = Recording(clock)
    with Speaker(None, audio=output, clock=clock) as speaker:
        quiet = speaker.say(speech(), TIMELINE, silent=True)
        quiet.wait()
        loud = speaker.say(speech(), TIMELINE)
        loud.wait()
    first, second = output.samples
    assert len(first) == len(second) == len(speech())
    assert not first.any() and second.any()
    assert quiet.started_at is not None and loud.started_at is not None
    assert loud.started_at - quiet.started_at >= float(TIMELINE.duration)


def test_a_bad_fps_is_refused() -> None:
    with Speaker(None, audio="null", clock=VirtualClock()) as speaker:
        with pytest.raises(ValueRefused, match="fps"):
            speaker.say("はい", fps=0)
