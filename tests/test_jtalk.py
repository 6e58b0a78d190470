"""Open JTalk synthesis: the HTS engine's own durations, adding up to the audio exactly."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import pytest
from conftest import ROOT

from lipsync import ValueRefused, load_map, resolve, synthesize
from lipsync.speech.jtalk import labels_for, time_labels
from lipsync.speech.synthesis import durations

SENTENCES = [
    "こんにちは",
    "今日は良い天気ですね。",
    "明日の会議は午後3時から始まります。",
    "コンピューターのスピーカーから、音が出ます！",
    "えっ、本当？",
    "2026年11月24日、東京で会いましょう。",
    "すみません、もう一度ゆっくり言っていただけますか。",
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
    "はい",
    "ABCという会社のロボットが、キッチンでカレーを作っています。",
]


def test_konnichiwa_has_the_measured_durations():
    audio, timeline = synthesize("こんにちは")
    assert timeline.names == ("sil", "k", "o", "N", "n", "i", "ch", "i", "w", "a", "sil")
    assert timeline.milliseconds() == [305, 95, 105, 40, 45, 75, 95, 80, 30, 170, 305]
    assert (len(audio), audio.sample_rate) == (64560, 48000)
    assert timeline.duration == audio.duration
    assert audio.samples.dtype.name == "int16" and abs(audio.samples).max() > 1000


@pytest.mark.parametrize("text", SENTENCES)
def test_durations_sum_to_the_audio_exactly(text):
    audio, timeline = synthesize(text)
    assert timeline.duration * audio.sample_rate == len(audio)
    for phone in timeline:  # the mei voice's 5 ms frames
        assert phone.duration * 200 == int(phone.duration * 200)
    resolved, warnings = resolve(timeline, load_map())
    assert warnings == [] and resolved == timeline


def test_a_devoiced_vowel_is_kept():
    _, timeline = synthesize("です")
    assert "U" in timeline.names


def test_speed_changes_durations_and_audio_alike():
    slow_audio, slow = synthesize("こんにちは", speed=0.8)
    fast_audio, fast = synthesize("こんにちは", speed=1.5)
    assert fast.duration < slow.duration
    assert slow.duration == slow_audio.duration and fast.duration == fast_audio.duration


def test_half_tone_changes_pitch_not_timing():
    audio, timeline = synthesize("こんにちは", half_tone=4)
    assert timeline == synthesize("こんにちは")[1]
    assert len(audio) == 64560


def test_durations_without_audio_match_synthesis():
    assert durations(SENTENCES[1]) == synthesize(SENTENCES[1])[1]
    assert time_labels(labels_for(SENTENCES[2])) == durations(SENTENCES[2])


def test_untimed_full_context_labels_are_timed_by_synthesis(tmp_path):
    from lipsync import read_labels

    path = tmp_path / "untimed.lab"
    path.write_text("\n".join(labels_for("こんにちは")) + "\n")
    assert read_labels(path) == durations("こんにちは")


@pytest.mark.parametrize("text", ["", "   ", "、"])
def test_nothing_to_say_is_refused(text):
    with pytest.raises(ValueRefused, match="nothing to say"):
        synthesize(text)


def test_bad_speed_and_voice_are_refused(tmp_path):
    with pytest.raises(ValueRefused, match="speed"):
        synthesize("はい", speed=0)
    with pytest.raises(ValueRefused, match="no such voice"):
        synthesize("はい", voice=tmp_path / "none.htsvoice")
    junk = tmp_path / "junk.htsvoice"
    junk.write_bytes(b"not a voice")
    with pytest.raises(ValueRefused, match="cannot load"):
        synthesize("はい", voice=junk)


def test_other_voice_file_by_option():
    import pyopenjtalk

    voice = pyopenjtalk.DEFAULT_HTS_VOICE.decode()
    assert synthesize("はい", voice=voice)[1] == synthesize("はい")[1]


def test_stdout_stays_clean():
    code = "import lipsync; lipsync.synthesize('はい')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            check=True)
    assert result.stdout == ""


def test_exact_times_are_fractions():
    _, timeline = synthesize("はい")
    assert all(isinstance(d, Fraction) for d in timeline.durations)


def test_syntheses_at_once_each_have_an_engine_and_the_same_results():
    # A new utterance's synthesis must not wait for a stopped one's last piece: each runs on
    # an engine of its own, and what each makes is what it would make alone.
    import threading

    import numpy as np

    from lipsync.speech import jtalk

    texts = ["今日はいい天気ですね。", "明日は雨が降るそうです。", "こんにちは。"]
    alone = [synthesize(text, speed=1.1, half_tone=2.0 * n) for n, text in enumerate(texts)]
    with jtalk._engine(None) as first, jtalk._engine(None) as second:
        assert first is not second
    results: dict[int, object] = {}
    barrier = threading.Barrier(len(texts))

    def speak(n: int) -> None:
        barrier.wait()
        results[n] = synthesize(texts[n], speed=1.1, half_tone=2.0 * n)

    threads = [threading.Thread(target=speak, args=(n,)) for n in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, (audio, timeline) in enumerate(alone):
        got_audio, got_timeline = results[n]  # type: ignore[misc]
        assert got_timeline == timeline
        assert np.array_equal(got_audio.samples, audio.samples)


def test_open_jtalk_warnings_are_counted_once_not_printed_per_mora(capfd, caplog, monkeypatch):
    # Open JTalk's C code prints a line per odd mora to descriptor 2 (100 KB for 1 000 "ー"),
    # from several engines at once in a server: each call's lines become one counted warning,
    # and descriptor 2 is itself again after the calls, however they overlapped.
    import os
    import threading

    import lipsync.speech.stderr

    monkeypatch.setattr(lipsync.speech.stderr, "_logged", {})  # as if nothing was said before

    def front_end(count: int) -> None:
        with pytest.raises(ValueRefused):  # only "ー": nothing to say, and a warning per mora
            labels_for("ー" * count)

    counts = [200, 300, 100, 250]
    threads = [threading.Thread(target=front_end, args=(count,)) for count in counts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.write(2, b"after\n")
    _, err = capfd.readouterr()
    assert err == "after\n"
    warned = [r.getMessage() for r in caplog.records if r.name == "lipsync.speech"]
    assert all(m.startswith("Open JTalk: ") for m in warned) and len(warned) <= 2 * len(counts)
    assert any(m.startswith("Open JTalk: First mora should not be long vowel symbol. (") for m in warned)


def test_open_jtalk_warnings_reach_the_terminal_as_a_few_prefixed_lines():
    result = subprocess.run([sys.executable, "-m", "lipsync", "say", "ー" * 1000, "--to", "stdout", "--model",
                             "x", "--audio", "null"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "nothing to say" in result.stderr
    assert len(result.stderr) < 1000, result.stderr[:300]
    assert all(line.startswith("lipsync: ") for line in result.stderr.splitlines())
    assert "lipsync: warning: Open JTalk: First mora should not be long vowel symbol. (" in result.stderr
