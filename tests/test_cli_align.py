"""``lipsync align``, ``say --wav AUDIO --text TEXT`` and labels checked against their audio."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from conftest import FIXTURES, REFERENCE

from lipsync import Audio, Timeline, read_labels, synthesize
from lipsync.cli.main import main
from lipsync.labels.write import format_lab

#: What the compressed fixtures say (see tests/test_sound.py for how they were made).
PHRASE = "こんにちは、いい天気ですね。"
SPOKEN = "k o N n i ch i w a i i t e N k i d e s U n e".split()


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["tenki.flac", "tenki.mp3", "tenki.ogg"])
def test_align_prints_the_sequence_of_any_format(capsys, name):
    code, out, err = run(capsys, "align", FIXTURES / name, PHRASE)
    assert code == 0 and err == ""
    timeline = Timeline.from_sequence(out)
    assert [n for n in timeline.names if n not in ("sil", "pau")] == SPOKEN
    assert "pau" in timeline.names  # the voice paused at the comma
    audio = Audio.load(FIXTURES / name)
    assert abs(timeline.duration - audio.duration) <= Fraction(1, 1000)


def test_align_writes_every_label_format_and_json(capsys, tmp_path):
    outputs = [tmp_path / f"t{ext}" for ext in (".lab", ".TextGrid", ".txt", ".json")]
    args = ["align", FIXTURES / "tenki.flac", PHRASE, "--json"]
    for path in outputs:
        args += ["-o", path]
    code, out, _ = run(capsys, *args)
    assert code == 0
    data = json.loads(out)
    assert data["sample_rate"] == 16000 and data["samples"] == len(Audio.load(FIXTURES / "tenki.flac"))
    assert json.loads(outputs[3].read_text()) == data
    printed = [(p["name"], p["start_ms"]) for p in data["phonemes"]]
    for path in outputs:
        timeline = read_labels(path)
        assert [(p.name, round(p.start_ms, 3)) for p in timeline] == [(n, round(s, 3)) for n, s in printed]


def test_align_by_kana_and_phonemes(capsys):
    code, out, _ = run(capsys, "align", FIXTURES / "tenki.ogg", "--kana", "コンニチワ、イイテンキデスネ")
    assert code == 0 and [n for n in Timeline.from_sequence(out).names if n not in ("sil", "pau")] == [
        "k", "o", "N", "n", "i", "ch", "i", "w", "a", "i", "i", "t", "e", "N", "k", "i", "d", "e", "s", "u",
        "n", "e"]
    # No pause in the string: the aligner finds the one the voice made.
    code, out, _ = run(capsys, "align", FIXTURES / "tenki.ogg", "--phonemes", " ".join(SPOKEN))
    assert code == 0 and out.startswith("sil,") and ",pau," in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["東京駅から新幹線に乗って、大阪まで行きました。"], "tenki.mp3: cannot align: "),
        ([PHRASE, "-o", "x.wav"], "align writes labels"),
        ([PHRASE, "-o", "x.doc"], "expected a file ending in .wav, .lab"),
        ([PHRASE, "--kana", "コ"], "at most one of TEXT, --kana"),
    ],
)
def test_align_refusals_exit_2_with_one_line(capsys, tmp_path, argv, words):
    argv = [str(tmp_path / a) if a.startswith("x.") else a for a in argv]
    code, out, err = run(capsys, "align", FIXTURES / "tenki.mp3", *argv)
    assert code == 2 and out == "" and words in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_unreadable_audio_exits_2_naming_the_file(capsys, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    code, out, err = run(capsys, "align", bad, PHRASE)
    assert code == 2 and out == "" and err.startswith(f"lipsync: {bad}: WAV") and err.count("\n") == 1


@pytest.mark.parametrize("name", ["tenki.flac", "tenki.mp3", "tenki.ogg"])
def test_say_plays_any_voice_with_its_text(capsys, name):
    code, out, err = run(capsys, "say", "--wav", FIXTURES / name, "--text", PHRASE, "--model", "gene",
                         "--to", "stdout", "--audio", "null", "--sync", "clock")
    assert code == 0, err
    lines = out.splitlines()
    assert lines and all(line.startswith("LIPSYNC_START|gene|") for line in lines)
    sequence = ",".join(line.split("|", 2)[2] for line in lines)
    assert [n for n in Timeline.from_sequence(sequence).names if n not in ("sil", "pau")] == SPOKEN


def test_labels_that_disagree_with_their_audio_warn_and_fit(capsys, tmp_path):
    audio, truth = synthesize(PHRASE, voice=REFERENCE / "voices" / "mei_happy.htsvoice")
    wav = tmp_path / "speech.wav"
    audio.save_wav(wav)
    # Labels 100 ms short of the audio, as VOICEVOX's were (2.93 s for 3.03 s).
    spans = list(zip(truth.names, truth.durations, strict=True))
    short = Timeline([*spans[:-1], ("sil", truth.durations[-1] - Fraction(1, 10))])
    labels = tmp_path / "speech.lab"
    labels.write_text(format_lab(short))
    code, out, err = run(capsys, "timeline", "--wav", wav, "--labels", labels)
    assert code == 0 and out.strip() == short.to_sequence()
    assert f"ends at {float(short.end):.3f} s but {wav} lasts {float(audio.duration):.3f} s" in err
    code, out, err = run(capsys, "timeline", "--wav", wav, "--labels", labels, "--fit", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["samples"] == len(audio)
    fitted = [p for p in data["phonemes"] if p["name"] not in ("sil", "pau")]
    true = [p for p in truth if p.name not in ("sil", "pau")]
    errors = [abs(f["start_ms"] - t.start_ms) for f, t in zip(fitted, true, strict=True)]
    assert sum(e <= 33.3 for e in errors) >= 0.9 * len(errors)
    # Within a frame: no warning.
    labels.write_text(format_lab(truth))
    code, _, err = run(capsys, "say", "--wav", wav, "--labels", labels, "--model", "gene", "--to", "stdout",
                       "--audio", "null", "--sync", "clock")
    assert code == 0 and "warning" not in err


def test_options_mean_one_thing_and_are_never_abbreviated(capsys, tmp_path):
    for argv in (["--seq", "a,100"], ["--sequence", "a,100", "--format", "mono"]):
        with pytest.raises(SystemExit) as exited:
            main(["timeline", *argv])
        assert exited.value.code == 2
        assert f"unrecognized arguments: {argv[-2] if len(argv) > 2 else argv[0]}" in capsys.readouterr().err
    code, _, err = run(capsys, "timeline", "こんにちは", "--wav", FIXTURES / "tenki.ogg")
    assert code == 2 and "for the text --wav says, use --text TEXT" in err
    code, _, err = run(capsys, "say", "--text", PHRASE, "--model", "gene", "--to", "stdout",
                       "--audio", "null")
    assert code == 2 and "go with recorded speech: --wav AUDIO" in err
    out_csv = tmp_path / "c.csv"
    code, _, _ = run(capsys, "curves", "--sequence", "sil,50,a,100,sil,50", "-o", out_csv)
    assert code == 0 and out_csv.read_text().startswith("time,")


@pytest.mark.parametrize(
    ("kind", "rate", "channels"), [("u8", 22050, 1), ("s24", 44100, 2), ("f32", 48000, 2)]
)
def test_align_and_say_read_every_wav_sample_format(capsys, tmp_path, kind, rate, channels):
    from test_sound import encode, riff

    speech = Audio.load(FIXTURES / "tenki.flac").resampled(rate).to_float32().astype(np.float64)
    frames = np.stack([speech] * channels, axis=1)
    tag, bits, payload = encode(frames, kind)
    wav = tmp_path / f"tenki-{kind}.wav"
    wav.write_bytes(riff(tag, channels, rate, bits, payload))
    code, out, err = run(capsys, "align", wav, PHRASE)
    assert code == 0, err
    assert [n for n in Timeline.from_sequence(out).names if n not in ("sil", "pau")] == SPOKEN
    if kind != "s24":
        return  # say reads WAV as align does; once is enough (it plays in real time)
    code, said, err = run(capsys, "say", "--wav", wav, "--sequence", out.strip(), "--model", "gene",
                          "--to", "stdout", "--audio", "null", "--sync", "clock")
    assert code == 0 and err == "" and said == f"LIPSYNC_START|gene|{out.strip()}\n"
