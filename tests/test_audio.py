"""Audio outputs: the null clock, the pull queue, miniaudio's NULL fallback and clean exit."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from lipsync import Audio, MissingDependency, ValueRefused
from lipsync.live.audio import open_output
from lipsync.live.audio.base import PullOutput
from lipsync.live.audio.null import NullOutput
from lipsync.live.clock import MonotonicClock, VirtualClock


def test_null_output_plays_by_its_clock() -> None:
    clock = VirtualClock()
    output = NullOutput(48000, clock=clock)
    first = output.play(np.ones(4800, dtype=np.int16))
    assert first == 0 and output.end() == 4800
    assert output.sample_time(4800) == pytest.approx(clock.now() + 0.1)
    clock.advance(0.05)
    assert output.position() == 2400 and not output.idle()
    assert output.play(np.ones(10, dtype=np.int16)) == 4800  # queued after what is queued
    assert output.clear() == 2400 and output.idle()
    clock.advance(1.0)
    assert output.play(np.ones(10, dtype=np.int16)) == 50400  # idle: from now on


def test_the_real_clock_never_ends_a_wait_before_its_time_and_ends_it_when_told() -> None:
    clock = MonotonicClock()
    event = threading.Event()
    for ahead in (0.0, 0.0002, 0.003):  # within the spin, and beyond it
        until = clock.now() + ahead
        assert clock.wait(event, until) is False
        assert clock.now() >= until
    threading.Timer(0.01, event.set).start()
    assert clock.wait(event, clock.now() + 60) is True


def test_pull_output_hands_out_queued_samples_then_silence() -> None:
    clock = VirtualClock()
    output = PullOutput(1000, clock=clock)
    assert output.sample_time(0) is None  # unknown until the device first asks
    output.play(np.arange(1, 6, dtype=np.int16))
    block = np.frombuffer(output.pull(3), dtype="<i2")
    assert block.tolist() == [1, 2, 3]
    assert output.sample_time(3) == pytest.approx(clock.now() + 0.003)
    assert np.frombuffer(output.pull(4), dtype="<i2").tolist() == [4, 5, 0, 0]
    assert output.idle()


def test_pull_output_moves_its_anchor_when_the_device_ran_dry() -> None:
    clock = VirtualClock()
    output = PullOutput(1000, clock=clock)
    output.pull(10)
    start = output.sample_time(0)
    assert start is not None
    clock.advance(0.5)  # the device should have asked at 0.010; it asks 490 ms late
    output.pull(10)
    assert output.sample_time(10) == pytest.approx(clock.now())
    assert output.sample_time(0) == pytest.approx(start + 0.490)


def test_audio_at_another_rate_is_resampled() -> None:
    output = NullOutput(48000, clock=VirtualClock())
    output.play(Audio(np.zeros(16000, dtype=np.int16), 16000))
    assert output.end() == 48000


def test_miniaudio_without_a_sound_card_falls_back_to_silent_real_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="lipsync"):
        output = open_output("miniaudio")
    try:
        assert output.sample_rate == 48000
        if getattr(output, "backend", "") != "null":
            pytest.skip("this machine has a sound device: the fallback is not taken")
        assert output.notice.startswith("no sound device") and "\n" not in output.notice
        # Library users learn it through logging, not only the command line.
        assert [r.getMessage() for r in caplog.records if r.name.startswith("lipsync")] == [output.notice]
        start = output.play(np.zeros(480, dtype=np.int16))
        assert output.end() == start + 480
    finally:
        output.close()
        output.close()


def test_an_exception_mid_speech_still_lets_the_process_exit() -> None:
    script = textwrap.dedent("""
        import numpy as np
        from lipsync import Audio, Timeline, Speaker
        timeline = Timeline.from_sequence("sil,100,a,2000,sil,100")
        audio = Audio(np.zeros(48000 * 3, dtype=np.int16), 48000)
        with Speaker(None, audio="miniaudio") as speaker:
            utterance = speaker.say(audio, timeline)
            utterance.wait(0.2)
            raise SystemExit(7)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=20)
    assert result.returncode == 7


def test_a_miniaudio_device_left_open_is_closed_at_exit() -> None:
    script = (
        "import numpy\nfrom lipsync.live.audio import open_output\n"
        "open_output('miniaudio').play(numpy.zeros(48000, 'int16'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=20)
    assert result.returncode == 0


def test_simpleaudio_missing_says_how_to_install_it() -> None:
    try:
        import simpleaudio  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("simpleaudio is installed here")
    with pytest.raises(MissingDependency, match=r"pip install 'lipsync-ja\[simpleaudio\]'"):
        open_output("simpleaudio")


def test_an_unknown_output_is_refused() -> None:
    with pytest.raises(ValueRefused, match="miniaudio, simpleaudio, null"):
        open_output("alsa")
