"""lipsync's forced alignment gives pydomino's own frames, on the model lipsync runs itself.

pydomino's native aligner is the reference: it is installed with lipsync (its wheel holds the
model), so each case runs both on the same samples and tokens and compares every frame.
"""

from __future__ import annotations

import numpy as np
import pyopenjtalk
import pytest
from conftest import FIXTURES

from lipsync import Audio, synthesize
from lipsync._fds import silenced
from lipsync.alignment import model as model_module
from lipsync.alignment.engine import Clip, run, use_threads
from lipsync.alignment.forced import devoiced, token_ids
from lipsync.alignment.model import load_transitions
from lipsync.errors import ValueRefused

REAL = FIXTURES / "realspeech"
CASES = [
    ("julius_sample.wav", "今日はいい天気だ"),
    ("common_voice_ja_38843402_16k.wav",
     "「こりゃきっと仲間によくないことがあったにちがいない。」と小悪魔は考えました。"),
    ("common_voice_ja_38853932_16k.wav",
     "王もこのやり方は喜んでいません。それにもう一つ、これには困ることがあるのです。"),
    (None, "すみません、この近くに郵便局はありますか。"),
]


@pytest.fixture(scope="module")
def native():
    pydomino = pytest.importorskip("pydomino")
    with silenced(1):  # it prints its model's path
        return pydomino.Aligner()


def _speech(name: str | None, text: str) -> tuple[np.ndarray, list[str]]:
    if name is None:  # synthetic, with a little noise so that no frame is digital silence
        audio = synthesize(text)[0]
        rng = np.random.default_rng(1)
        samples = audio.samples + rng.normal(0, 30, len(audio.samples))
        audio = Audio.from_float(samples / 32768, audio.sample_rate)
    else:
        audio = Audio.load(REAL / name)
    x = audio.resampled(16000).samples.astype(np.float32) / 32768
    return x, ["pau", *pyopenjtalk.g2p(text).split(), "pau"]


@pytest.mark.parametrize(("name", "text"), CASES)
@pytest.mark.parametrize("min_frames", [1, 3])
def test_the_search_gives_pydominos_frames(native, name, text, min_frames):
    samples, tokens = _speech(name, text)
    spans = native.align(samples, " ".join(tokens), min_frames)
    theirs = [round(start * 100) for start, _, _ in spans[1:]]
    ours = run(samples, tokens, min_frames)
    assert len(ours) == len(tokens) - 1
    assert ours == theirs
    # Devoiced the same way: pydomino names its spans with I and U where it devoiced.
    assert devoiced(tokens) == [name for _, _, name in spans]


def test_one_thread_or_all_give_the_same_frames():
    samples, tokens = _speech(*CASES[0])
    try:
        use_threads(1)
        one = run(samples, tokens)
    finally:
        use_threads(0)
    assert run(samples, tokens) == one


def test_a_clip_is_heard_once_however_often_it_is_searched(monkeypatch):
    samples, tokens = _speech(*CASES[3])  # with a pause after すみません
    heard = []
    real = model_module.TransitionModel.run

    def counted(self, x):
        heard.append(len(x))
        return real(self, x)

    monkeypatch.setattr(model_module.TransitionModel, "run", counted)
    clip = Clip(samples)
    with_pause = run(clip, tokens)
    without = run(clip, ["pau", *[t for t in tokens[1:-1] if t != "pau"], "pau"])
    assert heard == [len(samples)]
    assert len(without) == len(with_pause) - 1
    assert with_pause == run(samples, tokens) and len(heard) == 2  # bare samples: heard again


def test_devoicing_follows_pydominos_rule():
    # i/u between voiceless consonants, or before a pause, devoice; before a voiced sound not.
    assert devoiced(["pau", "k", "i", "t", "a", "pau"]) == ["pau", "k", "I", "t", "a", "pau"]
    assert devoiced(["pau", "d", "e", "s", "u", "pau"]) == ["pau", "d", "e", "s", "U", "pau"]
    assert devoiced(["pau", "k", "i", "m", "i", "pau"]) == ["pau", "k", "i", "m", "i", "pau"]
    assert devoiced(["pau", "a", "i", "t", "a", "pau"]) == ["pau", "a", "i", "t", "a", "pau"]


def test_a_change_the_model_lacks_is_refused():
    transitions = load_transitions()
    assert len(token_ids(transitions, ["pau", "k", "a", "pau"])) == 3
    with pytest.raises(ValueRefused, match="no change from k to t"):
        token_ids(transitions, ["pau", "k", "t", "a", "pau"])
