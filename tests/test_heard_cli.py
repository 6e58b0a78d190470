"""Audio without its text through every door: align, say (a file, a PCM pipe), export, --batch,
listen (the capture stand-in) and serve (a PCM stream in binary frames)."""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import REFERENCE
from serveclient import client, serving

from lipsync import Audio, Timeline, synthesize
from lipsync.cli.main import main
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker

PAUSES = {"sil", "pau"}


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Audio, Timeline]:
    happy = REFERENCE / "voices" / "mei_happy.htsvoice"
    audio, truth = synthesize("こんにちは、元気？", voice=happy, speed=1.3)
    audio = audio.resampled(24000)
    path = tmp_path_factory.mktemp("heard") / "voice.wav"
    audio.save_wav(path)
    return path, audio, truth


def starts(out: str) -> list[Timeline]:
    lines = out.splitlines()
    assert lines and all(line.startswith("LIPSYNC_START|gene|") for line in lines), out
    return [Timeline.from_sequence(line.split("|")[2]) for line in lines]


def spoken(timeline: Timeline) -> list[str]:
    return [name for name in timeline.names if name not in PAUSES]


def test_align_without_text_hears_the_phonemes_and_writes_labels(capsys, speech, tmp_path):
    path, audio, _ = speech
    assert main(["align", str(path), "--json", "-o", str(tmp_path / "v.lab")]) == 0
    heard = json.loads(capsys.readouterr().out)
    assert heard["sample_rate"] == 24000 and heard["samples"] == len(audio)
    names = [p["name"] for p in heard["phonemes"]]
    assert names[0] == names[-1] == "sil" and {"a", "o", "N"} <= set(names)
    assert len((tmp_path / "v.lab").read_text().splitlines()) == len(names)


def test_say_a_recording_without_text_sends_one_start_covering_it(capsys, speech):
    path, audio, _ = speech
    assert main(["say", "--wav", str(path), "--to", "stdout", "--audio", "null"]) == 0
    (timeline,) = starts(capsys.readouterr().out)
    assert abs(timeline.end - audio.duration) <= Fraction(1, 1000)  # whole ms, carried
    assert spoken(timeline)


def test_say_pcm_from_a_pipe_starts_piece_by_piece(capsys, speech, monkeypatch):
    _, audio, _ = speech
    read, write = os.pipe()
    writer = threading.Thread(target=_write, args=(write, audio.samples.astype("<i2").tobytes()))
    writer.start()
    monkeypatch.setattr(sys, "stdin", os.fdopen(read, "rb"))
    assert main(["say", "--pcm", "-", "--rate", "24000", "--to", "stdout", "--audio", "null",
                 "--lookahead", "300"]) == 0
    pieces = starts(capsys.readouterr().out)
    assert len(pieces) > 5  # a START a piece, each on its first sample
    assert sum(p.end for p in pieces) <= audio.duration + Fraction(len(pieces), 1000)
    heard = [name for piece in pieces for name in spoken(piece)]
    assert {"N", "i", "e"} <= set(heard)
    writer.join()


def _write(fd: int, data: bytes) -> None:
    """A TTS writing its sound into a pipe, 20 ms at a time, then closing it."""
    with os.fdopen(fd, "wb") as pipe:
        for at in range(0, len(data), 960):
            pipe.write(data[at : at + 960])
            pipe.flush()


@pytest.mark.parametrize(("argv", "words"), [
    (["--pcm", "-", "--to", "stdout"], "--pcm needs the audio's --rate"),
    (["--rate", "24000", "--to", "stdout", "こんにちは"], "--rate and --channels describe --pcm"),
    (["--pcm", "-", "--rate", "24000", "--channels", "2", "--to", "stdout", "--audio", "null"],
     "ends in the middle of a frame"),
])
def test_say_pcm_refusals_exit_2_with_one_line(capsys, monkeypatch, argv, words):
    read, write = os.pipe()
    os.write(write, b"\x01\x02\x03")  # 3 bytes: no whole stereo frame
    os.close(write)
    monkeypatch.setattr(sys, "stdin", os.fdopen(read, "rb"))
    assert main(["say", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_export_and_batch_hear_audio_without_its_text(capsys, speech, tmp_path):
    path, _, _ = speech
    assert main(["export", "--wav", str(path), "-o", str(tmp_path / "v.tsv")]) == 0
    cues = (tmp_path / "v.tsv").read_text().splitlines()
    assert cues[0].startswith("0.00\tX") and len(cues) > 3
    (tmp_path / "list.tsv").write_text(f"audio\t{path}\t-\tb.vmd\n", encoding="utf-8")
    assert main(["export", "--batch", str(tmp_path / "list.tsv"), "-j", "1"]) == 0
    assert (tmp_path / "b.vmd").stat().st_size > 100
    capsys.readouterr()


def test_listen_moves_the_lips_from_the_capture_stand_in(capsys, speech):
    path, _, _ = speech
    assert main(["listen", "--input", f"file:{path}", "--to", "stdout", "--lookahead", "200"]) == 0
    heard = [name for piece in starts(capsys.readouterr().out) for name in spoken(piece)]
    assert {"N", "i"} <= set(heard)


def test_serve_hears_a_pcm_stream_and_sends_each_piece_with_its_mouth(speech):
    _, audio, _ = speech
    with serving(Speaker(None, audio="null", clock=VirtualClock())) as server, client(server) as c:
        c.send({"type": "say", "id": "live", "pcm": {"sample_rate": 24000}, "audio": "client"})
        data = audio.samples.astype("<i2").tobytes()
        for at in range(0, len(data), 963):  # binary frames that cut samples anywhere
            c.send_raw(data[at : at + 963])
        c.send({"type": "pcm", "id": "live", "end": True})
        got = c.ended("live")
    assert got[0]["type"] == "started" and got[-1] == {"type": "ended", "id": "live", "stopped": False}
    pieces = [m for m in got if m["type"] == "speech"]
    assert len(pieces) > 5
    end = 0.0
    for piece in pieces:  # each piece's timeline is exactly its sound; each follows the last
        samples = len(base64.b64decode(piece["pcm16"])) // 2
        assert piece["offset"] >= end - 1e-6 and piece["timeline"][0][1] == 0
        assert piece["timeline"][-1][2] == pytest.approx(samples / piece["sample_rate"], abs=1e-6)
        end = piece["offset"] + samples / piece["sample_rate"]
    heard = {name for piece in pieces for name, _, _ in piece["timeline"]}
    assert {"N", "i", "e"} <= heard
    opened = [max(w for _, w in keys) for piece in pieces for keys in piece["keyframes"].values() if keys]
    assert max(opened) > 0.3  # the mouth opens


@pytest.mark.parametrize("mode", ["local", "none"])
def test_serve_frames_a_stream_sent_as_pcm_messages(speech, mode):
    _, audio, _ = speech
    with serving(Speaker(None, audio="null", clock=VirtualClock())) as server, client(server) as c:
        c.send({"type": "say", "id": "mic", "pcm": {"sample_rate": 24000}, "audio": mode, "lookahead": 200})
        data = audio.samples.astype("<i2").tobytes()
        for at in range(0, len(data), 4800):
            c.send({"type": "pcm", "id": "mic", "data": base64.b64encode(data[at : at + 4800]).decode()})
        c.send({"type": "pcm", "id": "mic", "end": True})
        got = c.ended("mic")
        c.send_raw(b"\x00\x01")  # the stream is over: a binary frame has nowhere to go
        assert c.recv()["code"] == "bad_json"
    frames = [m for m in got if m["type"] == "frame"]
    assert got[-1]["stopped"] is False and frames and max(frames[-1]["weights"].values()) == 0
    if mode == "local":  # held back its look-ahead: every bit of the voice is drawn
        assert len(frames) > 20 and max(max(f["weights"].values()) for f in frames) > 0.3
    # "none" (a live voice): the mouth skips what the recogniser hears late, and on a virtual
    # clock that jumps whenever a thread waits, how much that is depends on the threads' pace.
