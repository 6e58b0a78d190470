"""``--to exec:...``: MMDAgent-EX started as our child, spoken to over its stdin and stdout.

The child is tests/stdio_agent.py, a program behaving as the real agent does with
``use_stdinout=true`` (it waits for its model, echoes every message, hangs on bytes that
start no UTF-8 character, runs on after its stdin closes).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest

from lipsync import AgentUnreachable, NameRefused, Timeline, ValueRefused
from lipsync.live.audio.null import NullOutput
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.live.transport import open_transport
from lipsync.live.transport.pipe import PipeTransport

AGENT = Path(__file__).resolve().parent / "stdio_agent.py"
LIPSYNC = [sys.executable, "-m", "lipsync"]


def content(tmp_path: Path, *lines: str) -> Path:
    mdf = tmp_path / "main.mdf"
    mdf.write_text("\n".join(["# a content for tests", "log_file=agent.log", *lines]) + "\n")
    return mdf


def command(mdf: Path) -> str:
    return "exec:" + shlex.join([sys.executable, str(AGENT), str(mdf)])


def log(mdf: Path) -> list[str]:
    path = mdf.parent / "agent.log"
    return path.read_text("utf-8").splitlines() if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def pid_of(mdf: Path) -> int:
    return int(next(line for line in log(mdf) if line.startswith("started pid")).split()[-1])


def test_say_starts_the_agent_waits_for_its_model_and_speaks_over_its_pipes(tmp_path):
    mdf = content(tmp_path, "use_stdinout=true", "http_server=false", "fake_model_delay=0.5")
    result = subprocess.run([*LIPSYNC, "say", "こんにちは", "--model", "gene", "--to", command(mdf),
                             "--audio", "null", "-v"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = log(mdf)
    added = lines.index("message MODEL_EVENT_ADD|gene")
    start = next(i for i, line in enumerate(lines) if line.startswith("read LIPSYNC_START|gene|sil,"))
    assert added < start  # nothing sent before the model was there
    assert "stdin thread hung" not in lines and not any("not found" in line for line in lines)
    assert "< LIPSYNC_EVENT_START|gene" in result.stderr  # its answer came back over its stdout
    assert "warning" not in result.stderr
    assert not alive(pid_of(mdf))  # ended with us (it would have run on after its stdin closed)


def test_long_speech_with_a_japanese_alias_never_splits_a_character(tmp_path):
    mdf = content(tmp_path, "use_stdinout=true", "http_server=false", "fake_models=ジェネ",
                  "fake_model_delay=0")
    names = ["a", "k", "i", "s", "u", "pau"]
    timeline = Timeline([(names[i % 6], Fraction(4, 1000)) for i in range(900)])  # > 2 KB: several lines
    output = NullOutput(clock=VirtualClock())
    with Speaker(command(mdf), "ジェネ", audio=output, clock=output.clock, sync="clock") as speaker:
        import numpy as np

        from lipsync import Audio

        speaker.say(Audio(np.zeros(round(timeline.duration * 48000), np.int16), 48000), timeline).wait(30)
        deadline = time.monotonic() + 10
        chunks = timeline.chunks(alias="ジェネ")
        while sum(line.startswith("message LIPSYNC_START|ジェネ|") for line in log(mdf)) < len(chunks):
            assert time.monotonic() < deadline, log(mdf)
            time.sleep(0.02)
    reads = [line for line in log(mdf) if line.startswith("read LIPSYNC_START")]
    assert len(reads) == len(chunks) >= 2 and "stdin thread hung" not in log(mdf)
    assert all(len((line[5:] + "\n").encode()) <= 2047 for line in reads)


def test_a_hostile_alias_never_reaches_the_agent(tmp_path):
    mdf = content(tmp_path, "use_stdinout=true", "http_server=false", "fake_model_delay=0")
    transport = open_transport(command(mdf), model="gene")
    with transport:
        long = "LIPSYNC_STOP|" + "é" * 1100 + "\n"  # 2214 bytes: fgets would cut it mid-character
        hostile = ("LIPSYNC_STOP|\udc80\n", "LIPSYNC_STOP|ge\x00ne\n", "\n", long)
        for line in hostile:
            with pytest.raises((NameRefused, ValueRefused)):
                transport.send(line)
        transport.send("LIPSYNC_STOP|gene\n")
        deadline = time.monotonic() + 5
        while "read LIPSYNC_STOP|gene" not in log(mdf):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert [line for line in log(mdf) if line.startswith("read")] == ["read LIPSYNC_STOP|gene"]


def test_a_content_without_use_stdinout_is_refused_before_it_starts(tmp_path):
    mdf = content(tmp_path, "use_stdinout=True")  # only the exact text true turns it on
    argv = [*LIPSYNC, "say", "あ", "--model", "gene", "--to", command(mdf), "--audio", "null"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{mdf}: MMDAgent-EX reads messages from its standard input only with use_stdinout=true" in (
        result.stderr)
    assert log(mdf) == []  # never started


def test_its_http_server_is_warned_about(tmp_path, caplog):
    mdf = content(tmp_path, "use_stdinout=true", "fake_model_delay=0")
    with caplog.at_level("WARNING", logger="lipsync"), PipeTransport(
            shlex.split(command(mdf)[5:]), model="gene"):
        pass
    assert any("http_server=false" in r.getMessage() and "0.0.0.0:50000" in r.getMessage()
               for r in caplog.records)


def test_a_model_that_never_comes_is_unreachable_with_exit_3(tmp_path):
    mdf = content(tmp_path, "use_stdinout=true", "http_server=false", "fake_model_delay=0")
    argv = [*LIPSYNC, "say", "あ", "--model", "Gene", "--to", command(mdf), "--audio", "null", "--wait", "1"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "printed no MODEL_EVENT_ADD|Gene within 1 s" in result.stderr
    assert not alive(pid_of(mdf))


def test_a_program_that_cannot_start_or_exits_is_unreachable(tmp_path):
    with pytest.raises(AgentUnreachable, match="cannot start /nonexistent/MMDAgent-EX"):
        PipeTransport(["/nonexistent/MMDAgent-EX"], model="gene").open()
    quitter = [sys.executable, "-c", "import sys; sys.stderr.write('no display\\n'); sys.exit(1)"]
    with pytest.raises(AgentUnreachable, match=r"exited with code 1 before adding model gene \(it said: no"):
        PipeTransport(quitter, model="gene").open()


def test_the_fake_runs_on_when_its_stdin_closes_as_the_real_one(tmp_path):
    mdf = content(tmp_path, "use_stdinout=true", "fake_model_delay=0")
    child = subprocess.Popen([sys.executable, str(AGENT), str(mdf)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"MODEL_EVENT_ADD|gene\n"
        assert child.stdin is not None
        child.stdin.write(b"\n|\nLIPSYNC_START|gene|sil,100,a,100\n")  # empty lines: no message
        child.stdin.close()
        assert child.stdout.readline() == b"LIPSYNC_START|gene|sil,100,a,100\n"
        assert child.stdout.readline() == b"LIPSYNC_EVENT_START|gene\n"
        time.sleep(0.2)
        assert child.poll() is None and "stdin thread exited" in log(mdf)
    finally:
        child.terminate()
        child.wait(5)


def test_an_mdf_that_is_not_there_is_named_as_missing(capsys, tmp_path):
    from lipsync.cli.main import main

    missing = tmp_path / "main.mdf"
    assert main(["say", "こんにちは", "--model", "gene", "--audio", "null",
                 "--to", f"exec:/bin/true {missing}"]) == 2
    err = capsys.readouterr().err
    assert err == f"lipsync: {missing}: no such .mdf file (give exec:PATH/MMDAgent-EX PATH/main.mdf)\n"
