"""Label files that name phonemes but give them no time are refused by name, or aligned to their audio."""

from __future__ import annotations

import base64
import json
import os

import pytest
from conftest import FIXTURES

from lipsync import Audio, UntimedLabels
from lipsync.cli.main import main
from lipsync.labels.voicevox import query_phonemes, read_audio_query
from lipsync.serve.aligning import OutsideAligner
from lipsync.serve.decode import decode_speech
from lipsync.serve.protocol import SayRequest, parse_request

VOICEVOX = FIXTURES / "voicevox"
AIVIS = VOICEVOX / "audio_query-aivisspeech-shaped.json"  # every length 0.0
MOCK = VOICEVOX / "audio_query-mock.json"  # its pause mora's length is 0.0
WAV = VOICEVOX / "synthesis-mock.wav"  # こんにちは、いい天気ですね, 24 kHz
SAID = ("k", "o", "N", "n", "i", "ch", "i", "w", "a", "i", "i", "t", "e", "N", "k", "i", "d", "e", "s")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_query_of_zeros_is_refused_naming_what_is_missing(capsys):
    code, out, err = run(capsys, "timeline", "--labels", AIVIS)
    assert (code, out) == (2, "")
    assert f"{AIVIS}: every consonant_length and vowel_length is 0" in err
    assert "--wav AUDIO" in err and "AivisSpeech" in err


def test_one_phoneme_of_zero_length_is_refused_by_its_key(capsys):
    code, out, err = run(capsys, "curves", "--labels", MOCK)
    assert (code, out) == (2, "")
    assert "at accent_phrases[0].pause_mora.vowel_length: a phoneme of 0 s" in err


def test_the_api_raises_untimed_labels_and_gives_the_phonemes():
    text = AIVIS.read_text("utf-8")
    with pytest.raises(UntimedLabels):
        read_audio_query(text, "q.json")
    phonemes = query_phonemes(text, "q.json")
    assert phonemes.names[:9] == SAID[:9]
    # A pause may fall at every phrase boundary: after こんにちは (its pause mora) and before て.
    assert [phonemes.names[i] for i, b in enumerate(phonemes.breaks) if b] == ["i", "t"]
    assert phonemes.kana.startswith("コンニチワ、イイ")


def test_a_pause_length_that_replaces_a_zero_pause_makes_it_timed():
    query = json.loads(MOCK.read_text("utf-8")) | {"pauseLength": 0.3}
    timeline = read_audio_query(json.dumps(query), "q.json")
    assert "pau" in timeline.names


def test_with_its_audio_a_query_of_zeros_is_aligned_to_it(capsys):
    audio = Audio.load(WAV)
    code, out, err = run(capsys, "timeline", "--labels", AIVIS, "--wav", WAV, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["samples"] == len(audio) and data["sample_rate"] == 24000
    names = [p["name"] for p in data["phonemes"] if p["name"] not in ("sil", "pau")]
    assert tuple(names[: len(SAID)]) == SAID
    spans = data["phonemes"]
    assert spans[0]["start_ms"] == 0
    assert round(spans[-1]["start_ms"] + spans[-1]["duration_ms"], 3) == round(len(audio) / 24, 3)


def test_export_aligns_an_untimed_query_to_its_audio(capsys, tmp_path):
    code, _, err = run(capsys, "export", "--labels", MOCK, "--wav", WAV, "-o", tmp_path / "m.lab")
    assert code == 0, err
    lines = (tmp_path / "m.lab").read_text().split("\n")
    end = round(len(Audio.load(WAV)) / 24000 * 1e7)  # HTK's 100 ns units
    assert lines[0].split()[2] == "sil" and int(lines[-2].split()[1]) == end


def test_serve_aligns_an_untimed_query_sent_with_its_wav_in_its_aligning_child():
    frame = json.dumps({"type": "say", "wav": base64.b64encode(WAV.read_bytes()).decode(),
                        "labels": AIVIS.read_text("utf-8")})
    _, _, request = parse_request(frame)
    assert isinstance(request, SayRequest)
    aligner = OutsideAligner()  # the server's: pydomino runs in a child, never in the server
    try:
        audio, timeline = decode_speech(request, aligner)  # what a session does once the say is let through
        assert aligner.pid is not None and aligner.pid != os.getpid()
    finally:
        aligner.close()
    assert timeline is not None and audio is not None
    assert timeline.end * 24000 == len(audio)
    assert [n for n in timeline.names if n not in ("sil", "pau")][:3] == ["k", "o", "N"]
