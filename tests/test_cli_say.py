"""``lipsync say`` wired to the library: what it prints, what it refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipsync import Audio
from lipsync.cli.main import main


def test_say_to_stdout_prints_the_start_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sequence = "sil,50,a,100,sil,50"
    wav = tmp_path / "a.wav"
    Audio(np.zeros(9600, dtype=np.int16), 48000).save_wav(wav)
    assert main(["say", "--wav", str(wav), "--sequence", sequence, "--model", "gene",
                 "--to", "stdout", "--audio", "null"]) == 0
    assert capsys.readouterr().out == f"LIPSYNC_START|gene|{sequence}\n"


def test_say_to_stdout_needs_no_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sequence = "sil,50,a,100,sil,50"
    wav = tmp_path / "a.wav"
    Audio(np.zeros(9600, dtype=np.int16), 48000).save_wav(wav)
    assert main(["say", "--wav", str(wav), "--sequence", sequence, "--to", "stdout", "--audio", "null"]) == 0
    assert capsys.readouterr().out == f"LIPSYNC_START|gene|{sequence}\n"


def test_say_to_an_agent_without_a_model_says_what_the_alias_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["say", "こんにちは", "--to", "tcp://127.0.0.1:9", "--audio", "null"]) == 2
    err = capsys.readouterr().err
    assert "--model ALIAS" in err and "MODEL_ADD" in err and err.count("\n") == 1


@pytest.mark.parametrize("text", ["Hello, how are you?", "This is a pen."])
def test_text_that_is_not_japanese_is_warned(capsys: pytest.CaptureFixture[str], text: str) -> None:
    assert main(["timeline", text]) == 0
    err = capsys.readouterr().err
    assert err.startswith("lipsync: warning: ") and "not Japanese" in err and err.count("\n") == 1


@pytest.mark.parametrize("text", ["今日はAIの話です。", "OKです。", "こんにちは。"])
def test_japanese_with_a_few_latin_letters_is_not_warned(
    capsys: pytest.CaptureFixture[str], text: str
) -> None:
    assert main(["timeline", text]) == 0
    assert capsys.readouterr().err == ""


def test_say_warns_about_a_piece_that_is_not_japanese(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["say", "こんにちは。Good morning everyone.", "--to", "stdout", "--audio", "null"]) == 0
    err = capsys.readouterr().err
    assert "'Good morning everyone.' is not Japanese" in err and err.count("warning") == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--to", "http://x"], "expected tcp://HOST:PORT"),
    (["--model", "a|b"], "'|'"),
    (["--latency", "nan"], "latency"),
])
def test_say_refuses_bad_options_with_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wav = tmp_path / "a.wav"
    Audio(np.zeros(9600, dtype=np.int16), 48000).save_wav(wav)
    base = ["say", "--wav", str(wav), "--sequence", "a,100", "--model", "gene", "--to", "stdout",
            "--audio", "null"]
    try:
        code = main(base + args)
    except SystemExit as exit:  # refused by argparse (a number option out of range)
        code = exit.code  # type: ignore[assignment]
    assert code == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_a_bad_to_is_named_before_a_missing_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["say", "こんにちは", "--to", "foo://x", "--audio", "null"]) == 2
    err = capsys.readouterr().err
    assert "cannot use 'foo://x' as --to" in err and "vmc://HOST:PORT" in err and "--model" not in err


def test_sync_event_to_stdout_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["say", "こんにちは", "--to", "stdout", "--sync", "event", "--audio", "null"]) == 2
    assert "--sync event waits for an agent's answers" in capsys.readouterr().err


def test_say_to_stdout_ends_quietly_when_its_reader_leaves():
    text = "こんにちは。今日はいい天気ですね。明日も晴れるでしょう。"
    argv = [sys.executable, "-m", "lipsync", "say", text, "--to", "stdout", "--audio", "null"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # what `| head -1` does after its line
        code = proc.wait(timeout=120)  # a hang fails here (it hung on the STOP to nobody)
        err = proc.stderr.read().decode()
    finally:
        proc.kill()
        proc.wait()
    assert first.startswith(b"LIPSYNC_START|gene|sil,")
    assert code == 0 and err == ""  # no traceback


def test_text_beside_a_recording_is_the_text_it_says(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    from lipsync import synthesize

    wav = tmp_path / "hello.wav"
    synthesize("こんにちは、今日はいい天気ですね。")[0].save_wav(wav)
    say = ["say", "--wav", str(wav), "--to", "stdout", "--audio", "null"]
    assert main([*say[:1], "こんにちは、今日はいい天気ですね。", *say[1:]]) == 0  # aligned to it
    assert capsys.readouterr().out.startswith("LIPSYNC_START|gene|sil,")
    assert main([*say[:1], "全然違う文です。", *say[1:]]) == 2  # not heard past: it says something else
    assert "cannot align" in capsys.readouterr().err
    assert main([*say[:1], "はい", *say[1:], "--text", "はい"]) == 2
    assert "give the text it says once" in capsys.readouterr().err
