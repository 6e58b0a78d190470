"""Audio in any common format, decoded to mono int16, and resampled with soxr.

The FLAC, MP3 and Ogg Vorbis fixtures are ``PHRASE`` spoken by Open JTalk with the mei_happy
voice (``lipsync.synthesize(PHRASE, voice=.../mei_happy.htsvoice)``, 48 kHz), converted once
with SoX 14.4.2 (Debian ``sox libsox-fmt-all``), each 3 dB down so nothing clips::

    sox phrase.wav -r 16000 tenki.flac gain -3                 # FLAC, 16 kHz mono
    sox phrase.wav -r 24000 -C 48 tenki.mp3 gain -3            # MP3 48 kbit/s, 24 kHz mono
    sox phrase.wav -r 44100 -c 2 -C 0 tenki.ogg gain -3        # Ogg Vorbis q0, 44.1 kHz stereo

The tests synthesise the phrase again and compare. WAV files of every sample format are
written here by the test itself.
"""

from __future__ import annotations

import struct
from fractions import Fraction

import numpy as np
import pytest
from conftest import FIXTURES, REFERENCE

from lipsync import Audio, ValueRefused, synthesize
from lipsync.live.audio import open_output
from lipsync.live.clock import VirtualClock

PHRASE = "こんにちは、いい天気ですね。"
HAPPY = REFERENCE / "voices" / "mei_happy.htsvoice"
GAIN = 10 ** (-3 / 20)


@pytest.fixture(scope="module")
def phrase() -> Audio:
    return synthesize(PHRASE, voice=HAPPY)[0]


def similarity(a: np.ndarray, b: np.ndarray, max_lag: int = 0) -> float:
    """The best normalised correlation of ``a`` and ``b`` over lags up to ``max_lag``."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    best = -1.0
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
        n = min(len(x), len(y))
        x, y = x[:n], y[:n]
        best = max(best, float(x @ y / np.sqrt((x @ x) * (y @ y))))
    return best


def riff(fmt_tag: int, channels: int, rate: int, bits: int, payload: bytes) -> bytes:
    """A WAV file: the format chunk as given, the data chunk with ``payload``."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload))
    return b"RIFF" + struct.pack("<I", len(body) + len(payload)) + body + payload


def encode(x: np.ndarray, kind: str) -> tuple[int, int, bytes]:
    """``x`` (floats in [-1, 1), frames x channels) as WAV sample bytes: tag, bits, payload."""
    if kind == "u8":
        return 1, 8, np.clip(np.rint(x * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    if kind == "s16":
        return 1, 16, np.clip(np.rint(x * 32768), -32768, 32767).astype("<i2").tobytes()
    if kind == "s24":
        ints = np.clip(np.rint(x * 2**23), -(2**23), 2**23 - 1).astype("<i4").reshape(-1)
        return 1, 24, b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
    if kind == "s32":
        return 1, 32, np.clip(np.rint(x * 2**31), -(2**31), 2**31 - 1).astype("<i4").tobytes()
    if kind == "f32":
        return 3, 32, x.astype("<f4").tobytes()
    assert kind == "f64"
    return 3, 64, x.astype("<f8").tobytes()


@pytest.mark.parametrize("kind", ["u8", "s16", "s24", "s32", "f32", "f64"])
@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (44100, 2), (24000, 2)])
def test_wav_of_every_sample_format_reads_back(tmp_path, kind, rate, channels):
    t = np.arange(rate // 4) / rate
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    frames = np.stack([left, -0.25 * left] if channels == 2 else [left], axis=1)
    tag, bits, payload = encode(frames, kind)
    path = tmp_path / f"tone-{kind}.wav"
    path.write_bytes(riff(tag, channels, rate, bits, payload))
    audio = Audio.load(path)
    assert audio.sample_rate == rate and len(audio) == len(t)
    want = frames.mean(axis=1) * 32768
    step = 512 if kind == "u8" else 1  # 8-bit keeps 256 levels (and miniaudio scales by 1/255)
    assert np.max(np.abs(audio.samples - want)) <= step


def test_sixteen_bit_wav_is_exact(phrase, tmp_path):
    path = tmp_path / "p.wav"
    phrase.save_wav(path)
    audio = Audio.load(path)
    assert audio.sample_rate == 48000 and np.array_equal(audio.samples, phrase.samples)
    assert np.array_equal(Audio.decode(path.read_bytes(), "p.wav").samples, phrase.samples)


@pytest.mark.parametrize(
    ("name", "rate", "exact_length", "wanted"),
    [("tenki.flac", 16000, True, 0.999), ("tenki.ogg", 44100, True, 0.97), ("tenki.mp3", 24000, False, 0.97)],
)
def test_compressed_fixtures_decode_to_the_phrase(phrase, name, rate, exact_length, wanted):
    audio = Audio.load(FIXTURES / name)
    assert audio.sample_rate == rate
    truth = phrase.resampled(rate)
    if exact_length:
        assert len(audio) == len(truth)
    else:  # MP3 frames pad the end (and the encoder delays the start) by some milliseconds
        assert abs(len(audio) - len(truth)) < 0.1 * rate
    assert similarity(audio.samples, truth.samples, max_lag=0 if exact_length else 2000) > wanted
    level = np.sqrt(np.mean(audio.samples.astype(float) ** 2) / np.mean(truth.samples.astype(float) ** 2))
    assert level == pytest.approx(GAIN, rel=0.1)


def test_decode_names_the_source_and_the_reason(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(ValueRefused, match=r"empty.wav: empty file: expected WAV, FLAC, MP3 or Ogg"):
        Audio.load(empty)
    with pytest.raises(ValueRefused, match=r"^.*missing.wav: cannot read: No such file"):
        Audio.load(tmp_path / "missing.wav")
    with pytest.raises(ValueRefused, match=r"^garbage.bin: not audio lipsync can read \(starts with 3c"):
        Audio.decode(b"<html>hello</html>", "garbage.bin")
    zero_rate = riff(1, 1, 0, 16, b"\0\0" * 100)
    with pytest.raises(ValueRefused, match=r"^z.wav: WAV with sample rate 0 Hz: expected above 0$"):
        Audio.decode(zero_rate, "z.wav")
    no_channels = riff(1, 0, 16000, 16, b"")
    with pytest.raises(ValueRefused, match=r"^c.wav: WAV with 0 channels"):
        Audio.decode(no_channels, "c.wav")
    with pytest.raises(ValueRefused, match=r"^cut.wav: WAV without a format chunk"):
        Audio.decode(riff(1, 1, 16000, 16, b"")[:14], "cut.wav")
    flac = (FIXTURES / "tenki.flac").read_bytes()
    with pytest.raises(ValueRefused, match=r"^broken.flac: (broken FLAC header|cannot decode this FLAC): \S"):
        Audio.decode(flac[:30], "broken.flac")
    with pytest.raises(ValueRefused, match=r"^x.ogg: broken Ogg Vorbis header: \S"):
        Audio.decode(b"OggS" + bytes(200), "x.ogg")


def test_an_empty_wav_is_empty_audio():
    audio = Audio.decode(riff(1, 1, 16000, 16, b""), "e.wav")
    assert len(audio) == 0 and audio.sample_rate == 16000
    assert len(audio.resampled(48000)) == 0


@pytest.mark.parametrize(
    ("source", "target"), [(24000, 48000), (48000, 16000), (44100, 16000), (22050, 48000)]
)
def test_resampled_length_is_the_rounded_exact_one(source, target):
    for count in (0, 1, 7, 1001, 44101):
        audio = Audio(np.zeros(count, dtype=np.int16), source)
        assert len(audio.resampled(target)) == round(Fraction(count * target, source))
    same = Audio(np.ones(5, dtype=np.int16), source)
    assert same.resampled(source) is same


def tone_level(samples: np.ndarray, rate: int, frequency: float) -> float:
    """The level (dB, relative to the strongest) at ``frequency``, Blackman-Harris windowed."""
    n = len(samples)
    k = np.arange(n)
    window = 0.35875 - 0.48829 * np.cos(2 * np.pi * k / n) + 0.14128 * np.cos(4 * np.pi * k / n) \
        - 0.01168 * np.cos(6 * np.pi * k / n)
    spectrum = np.abs(np.fft.rfft(samples * window))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    near = np.abs(freqs - frequency) < 20
    return float(20 * np.log10(spectrum[near].max() / spectrum.max()))


@pytest.mark.parametrize(("frequency", "amplitude", "floor"), [(9000, 0.9, -100), (9000.3, 0.5, -120)])
def test_soxr_leaves_no_image_of_a_9khz_tone_played_at_48khz(frequency, amplitude, floor):
    # 24 kHz audio (as VOICEVOX delivers it) played on a 48 kHz device: the tone's image
    # sits at 24 - 9 = 15 kHz (linear interpolation left it 7 dB down). Measured on the
    # int16 samples the output really plays. An exact 9 kHz tone repeats every 16 samples
    # at 48 kHz, so the int16 rounding error repeats too and makes lines at multiples of
    # 3 kHz, 15 kHz among them, near -100 dB: the 16-bit floor, not an image. 0.3 Hz off,
    # the rounding error is noise spread thin and the resampler's own rejection shows.
    rate = 24000
    t = np.arange(2 * rate) / rate
    tone = Audio.from_float(amplitude * 32767 * np.sin(2 * np.pi * frequency * t), rate)
    played = tone.resampled(48000).samples.astype(np.float64)[4800:-4800]  # skip the edges
    assert tone_level(played, 48000, frequency) == pytest.approx(0, abs=0.01)
    assert tone_level(played, 48000, 24000 - frequency) < floor
    # The output plays it through the same resampler.
    output = open_output("null", sample_rate=48000, clock=VirtualClock())
    assert output.play(tone) == 0 and output.end() == 4 * rate


def test_resampling_keeps_the_signal():
    rate = 16000
    t = np.arange(rate) / rate
    tone = Audio.from_float(10000 * np.sin(2 * np.pi * 1000 * t), rate)
    up = tone.resampled(44100)
    expected = 10000 * np.sin(2 * np.pi * 1000 * np.arange(len(up)) / 44100)
    assert np.max(np.abs(up.samples[2000:-2000] - expected[2000:-2000])) < 8
