"""Too much text for the audio is refused before the model runs, through every entry point.

pydomino's own aligner aborted the process (``double free or corruption``) once its tokens
(phonemes plus a pause at each place one may go) outnumbered the audio's frames: 1.3 s of
speech with 68 characters of text did that to ``lipsync align`` and to a running ``serve``.
lipsync now runs the search itself, which has no path then: the refusal stays, one line.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest
from serveclient import client, serving

from lipsync import Audio, synthesize
from lipsync.alignment.engine import model_frames, run
from lipsync.cli.main import main
from lipsync.errors import AlignmentRefused
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker

TOO_MUCH = ("今日はとても良い天気ですね。散歩に行きましょう。公園で少し休んでから、帰りに買い物をします。"
            "明日は雨が降るそうです。私は駅まで歩きます。")
#: Each length once crashed at 1.3 s of audio (70 and 75 characters were refused; 80 crashed).
KANA_RUNS = [("あいうえおかきくけこ" * 10)[:n] for n in (80, 85)]


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory) -> tuple[Audio, str]:
    audio, _ = synthesize("こんにちは、いい天気ですね")
    short = Audio(audio.samples[: int(1.3 * audio.sample_rate)], audio.sample_rate)
    path = tmp_path_factory.mktemp("guard") / "short.wav"
    short.save_wav(path)
    return short, str(path)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_engine_counts_what_the_native_code_counts():
    # 1.3 s at 16 kHz: 20800 samples, 131 model frames; 132 tokens are 131 transitions.
    samples = np.zeros(20800, dtype=np.float32)
    assert model_frames(len(samples)) == 131
    tokens = ["pau", *(["k", "a"] * 65), "pau"]
    assert len(tokens) - 1 == 131
    with pytest.raises(AlignmentRefused, match="too short for 133 aligner tokens"):
        run(samples, [*tokens[:-1], "N", "pau"])
    assert len(run(samples, tokens)) == len(tokens) - 1  # at the limit: no abort


@pytest.mark.parametrize("text", [TOO_MUCH, *KANA_RUNS])
def test_align_refuses_too_much_text(capsys, short_wav, text):
    code, out, err = run_cli(capsys, "align", short_wav[1], text)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "too short for" in err and short_wav[1] in err


def test_align_refuses_too_many_phonemes(capsys, short_wav):
    phonemes = " ".join(["k", "a"] * 80)
    code, _, err = run_cli(capsys, "align", short_wav[1], "--phonemes", phonemes)
    assert code == 2 and "too short for 160 phonemes" in err


def test_say_refuses_too_much_text(capsys, short_wav):
    code, out, err = run_cli(capsys, "say", "--wav", short_wav[1], "--text", TOO_MUCH, "--model", "gene",
                             "--to", "stdout", "--audio", "null", "--sync", "clock")
    assert code == 2 and out == "" and "too short for" in err and err.count("\n") == 1


def test_export_refuses_too_much_text(capsys, short_wav, tmp_path):
    target = tmp_path / "out.vmd"
    code, out, err = run_cli(capsys, "export", "--wav", short_wav[1], "--text", TOO_MUCH, "-o", str(target))
    assert code == 2 and out == "" and "too short for" in err
    assert not target.exists()


def test_export_batch_refuses_the_row_and_writes_the_others(capsys, short_wav, tmp_path):
    listing = tmp_path / "rows.tsv"
    listing.write_text(f"audio\t{short_wav[1]}\t{TOO_MUCH}\tbad.json\n"
                       f"audio\t{short_wav[1]}\tこんにちは\tgood.json\n")
    code, out, err = run_cli(capsys, "export", "--batch", str(listing), "-j", "1")
    assert code == 2
    assert f"{listing}:1: " in err and "too short for" in err and f"{listing}:2" not in err
    assert out.strip().startswith(f"{listing}: 2 lines: 1 done, 0 skipped, 1 failed in ")
    assert (tmp_path / "good.json").exists() and not (tmp_path / "bad.json").exists()


def test_serve_answers_an_error_and_keeps_serving(short_wav):
    wav = base64.b64encode(short_wav[0].to_wav_bytes()).decode()
    speaker = Speaker(None, audio="null", clock=VirtualClock())
    with serving(speaker) as server, client(server) as c:
        c.send({"type": "say", "id": "long", "wav": wav, "text": TOO_MUCH, "audio": "client"})
        reply = c.until(lambda m: m["type"] in ("ended", "error"))[-1]
        assert reply["type"] == "error" and reply["code"] == "bad_speech" and reply["id"] == "long"
        assert "too short for" in reply["message"]
        c.send({"type": "say", "id": "next", "text": "はい"})  # the server is still there
        assert c.ended("next")[-1]["type"] == "ended"
