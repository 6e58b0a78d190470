"""The command line never ends silently or messily: signals from the first moment, closed pipes,
input that says nothing, options that do not apply, a device that cannot play."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from agent import TcpAgent

from lipsync import Timeline
from lipsync.cli.main import main
from lipsync.live.audio.null import NullOutput
from lipsync.live.speaker import Speaker
from lipsync.live.transport import MemoryTransport
from lipsync.speech.pieces import Piece

ROOT = Path(__file__).resolve().parents[1]
LIPSYNC = [sys.executable, "-m", "lipsync"]
KONNICHIWA = "sil,187,k,75,o,75,N,75,n,75,i,62,ch,75,i,87,w,100,a,87,sil,212"

# Makes importing lipsync.cli slow, as on a busy machine, and says when that import began.
_SLOW_IMPORTS = '''
import importlib.abc, os, sys, time
class _Slow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "lipsync.cli.main":
            open(os.environ["LIPSYNC_TEST_MARK"], "w").close()
            time.sleep(30)
        return None
sys.meta_path.insert(0, _Slow())
'''


def env_with(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_loading_ends_with_one_line_and_130(tmp_path: Path, signum: int) -> None:
    (tmp_path / "sitecustomize.py").write_text(_SLOW_IMPORTS)
    mark = tmp_path / "importing"
    process = subprocess.Popen(
        [*LIPSYNC, "say", "こんにちは", "--model", "gene", "--to", "stdout", "--audio", "null"],
        env=env_with(tmp_path, LIPSYNC_TEST_MARK=str(mark)), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    for _ in range(2000):
        if mark.exists() or process.poll() is not None:
            break
        time.sleep(0.01)
    assert mark.exists(), "lipsync.cli.main was never imported"
    process.send_signal(signum)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    assert err == "lipsync: interrupted\n" and out == ""


def test_a_stop_does_not_wait_for_the_piece_being_synthesised(monkeypatch: pytest.MonkeyPatch) -> None:
    import lipsync.speech.pieces

    release = threading.Event()
    timeline = Timeline.from_sequence(KONNICHIWA)
    import numpy as np

    from lipsync import Audio

    def pieces(*args: object, **kwargs: object):  # the first sentence, then a slow second one
        yield Piece(Audio(np.zeros(round(float(timeline.duration) * 48000), dtype=np.int16), 48000), timeline)
        release.wait(60)
        yield Piece(Audio(np.zeros(48000, dtype=np.int16), 48000), Timeline.from_sequence("sil,1000"))

    monkeypatch.setattr(lipsync.speech.pieces, "speech_pieces", pieces)
    agent = MemoryTransport()
    try:
        with Speaker(agent, "gene", audio=NullOutput(), sync="clock") as speaker:
            utterance = speaker.say("今日は。長い二文目。")
            assert agent.lines or utterance.wait(0.5) is False
            utterance.stop()
            assert utterance.wait(10), "the stop waited for the synthesis"
            assert utterance.stopped
            release.set()  # leaving the block waits for the piece being made (join): let it end
    finally:
        release.set()
    assert agent.lines[-1] == "LIPSYNC_STOP|gene\n"


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    big = tmp_path / "big.lip.txt"
    rows = "".join(f"p{n} 0.5\n" for n in range(4000))
    big.write_text(f"1\nmouth\n4000\n{rows}")
    process = subprocess.Popen([*LIPSYNC, "map", "show", str(big)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # like `| head -1`
    err = process.stderr.read().decode()
    assert process.wait(timeout=30) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_a_closed_stderr_does_not_keep_the_process_alive() -> None:
    with TcpAgent(greet=False) as agent:  # no greeting: a warning is due
        process = subprocess.Popen(
            [*LIPSYNC, "say", "--sequence", "sil,50,a,100,sil,50", "--wav", str(_wav()), "--model", "gene",
             "--to", agent.url, "--audio", "null", "--sync", "clock"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        assert process.stderr is not None
        process.stderr.close()  # its reader is gone
        assert process.wait(timeout=30) == 0
        assert agent.lines and agent.lines[0].startswith("LIPSYNC_START|gene|")


def _wav() -> Path:
    import tempfile

    import numpy as np

    from lipsync import Audio

    path = Path(tempfile.mkdtemp()) / "short.wav"
    Audio(np.zeros(9600, dtype=np.int16), 48000).save_wav(path)
    return path


def run(*args: str, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LIPSYNC, *args], capture_output=True, text=True, timeout=60, **options)  # type: ignore[call-overload, no-any-return]


@pytest.mark.parametrize("text", ["。、！？", "😀😀", "……"])
def test_text_with_nothing_to_say_is_an_error(text: str) -> None:
    result = run("say", text, "--model", "gene", "--to", "stdout", "--audio", "null")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("lipsync: nothing to say") and result.stdout == ""


@pytest.mark.parametrize("option", [["--speed", "1.5"], ["--half-tone", "2"], ["--voice", "x.htsvoice"]])
def test_voice_options_with_recorded_speech_are_refused(option: list[str]) -> None:
    result = run("say", "--wav", str(_wav()), "--sequence", "sil,200", "--model", "gene", "--to", "stdout",
                 "--audio", "null", *option)
    assert result.returncode == 2
    assert result.stderr.startswith("lipsync: ") and "do not apply to --wav" in result.stderr


def test_simpleaudio_that_cannot_play_is_an_error_not_silence(tmp_path: Path) -> None:
    # simpleaudio is optional and absent here: a stand-in whose device cannot play, as on a machine
    # without a sound card.
    (tmp_path / "simpleaudio.py").write_text(
        "def play_buffer(*args):\n    raise RuntimeError('Error opening PCM device. -- CODE: -2')\n")
    result = run("say", "--wav", str(_wav()), "--sequence", "sil,200", "--model", "gene", "--to", "stdout",
                 "--audio", "simpleaudio", env=env_with(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stderr == ("lipsync: simpleaudio cannot play on this machine: "
                             "Error opening PCM device. -- CODE: -2\n")
    assert result.stdout == ""


def test_every_stderr_line_starts_with_the_program_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.lab"
    bad.write_text("0 100 a\nnot a label\n")
    for args in (["timeline", "--labels", str(bad)], ["map", "check", str(bad)],
                 ["say", "x", "--model", "a|b"]):
        result = run(*args)
        assert result.returncode == 2
        assert result.stderr.splitlines()[0].startswith("lipsync: "), result.stderr


@pytest.mark.parametrize(("args", "command", "meant"), [
    (["say", "こんにちは", "--speeed", "1.2"], "lipsync say", "--speed"),
    (["curves", "こんにちは", "--fpss", "30"], "lipsync curves", "--fps"),
    (["map", "show", "mmdagent", "--jsn"], "lipsync map show", "--json"),
    (["export", "こんにちは", "--outptu", "x.vmd"], "lipsync export", "--output"),
])
def test_a_mistyped_option_gets_its_commands_usage_and_the_closest_option(
    capsys: pytest.CaptureFixture[str], args: list[str], command: str, meant: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"{command}: error: unrecognized arguments: " in err
    assert f"(did you mean {meant}?)" in err
    assert "COMMAND ..." not in err  # not the top-level usage


@pytest.mark.parametrize("command", ["export", "plot"])
def test_every_command_that_writes_a_file_asks_for_o_the_same_way(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert main([command, "こんにちは"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lipsync: {command} needs -o ") and err.count("\n") == 1


def test_a_background_job_keeps_ignoring_the_ctrl_c_its_shell_ignores(tmp_path: Path) -> None:
    # A shell starts `lipsync say ... &` with SIGINT ignored, so that Ctrl-C reaches only the
    # foreground job: lipsync must leave it ignored and speak to the end.
    import numpy as np

    from lipsync.sound import Audio

    sequence = "sil,100,a,300,pau,1500,a,300,sil,100"
    Audio(np.zeros(round(2.3 * 48000), dtype=np.int16), 48000).save_wav(tmp_path / "k.wav")
    with TcpAgent() as agent:
        process = subprocess.Popen(
            [*LIPSYNC, "say", "--wav", str(tmp_path / "k.wav"), "--sequence", sequence, "--model", "gene",
             "--to", agent.url, "--audio", "null", "--sync", "clock"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
        assert agent.wait_for(lambda lines: any(x.startswith("LIPSYNC_START") for x in lines), timeout=20)
        process.send_signal(signal.SIGINT)  # the Ctrl-C meant for the foreground job
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "LIPSYNC_STOP|gene" not in agent.lines


_HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"


@pytest.mark.parametrize("case", ["sequence", "map", "labels", "text", "option", "warning", "unknown"])
def test_control_characters_from_input_are_shown_escaped_never_obeyed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    args = {
        "sequence": ["timeline", "--sequence", f"a,100,{_HOSTILE},100"],
        "map": ["map", "check", str(tmp_path / "x.lip.txt")],
        "labels": ["timeline", "--labels", str(tmp_path / "x.lab")],
        "text": ["say", f"{_HOSTILE}", "--to", "stdout", "--audio", "null"],
        "option": ["curves", "こんにちは", f"--{_HOSTILE}"],
        "warning": ["timeline", f"Hello world {_HOSTILE}"],
        "unknown": ["timeline", "--sequence", "a,100,qq,100", "--unknown", _HOSTILE],
    }[case]
    (tmp_path / "x.lip.txt").write_text(f"1\nm{_HOSTILE}\n1\na 0.5\n", encoding="utf-8")
    (tmp_path / "x.lab").write_text(f"0 1000000 a\n1000000 2000000 {_HOSTILE}\n", encoding="utf-8")
    try:
        main(args)
    except SystemExit:
        pass
    err = capsys.readouterr().err
    assert err  # every case says something
    assert not any(ch in err for ch in "\x1b\x07\x9b\u202e"), repr(err)
    assert "\\x1b" in err or "\\u202e" in err
