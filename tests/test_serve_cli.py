"""``lipsync serve`` and ``lipsync say --server`` as processes, with a fake agent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from agent import TcpAgent
from serveclient import serve_process

from lipsync.speech.synthesis import synthesize

LIPSYNC = [sys.executable, "-m", "lipsync"]
LONG = "今日はとても良い天気ですね。散歩に行きましょう。公園で少し休んでから、帰りに買い物をします。"


@contextmanager
def serve(*args: str) -> Iterator[str]:
    with serve_process(*args) as (url, _):
        yield url


def say(*args: str, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LIPSYNC, "say", *args], capture_output=True, text=True, timeout=60, **options)  # type: ignore[call-overload, no-any-return]


def test_say_through_the_server_drives_its_one_agent_connection() -> None:
    _, timeline = synthesize("こんにちは")
    with TcpAgent() as agent, serve("--to", agent.url, "--model", "mei", "--sync", "clock") as url:
        for _ in range(2):
            result = say("こんにちは", "--server", url.removesuffix("/lipsync"))
            assert result.returncode == 0, result.stderr
        assert agent.lines == [f"LIPSYNC_START|mei|{timeline.to_sequence()}"] * 2
        assert agent.connections == 1


def test_say_server_exit_codes_refused_and_unreachable(tmp_path: object) -> None:
    with serve() as url:
        refused = say("はい", "--server", url, "--map", "/nonexistent/lip.txt")
        assert refused.returncode == 2 and "refused" in refused.stderr and "Traceback" not in refused.stderr
    unreachable = say("はい", "--server", url)
    assert unreachable.returncode == 3 and "no lipsync server" in unreachable.stderr
    assert say("はい", "--server", "http://x").returncode == 2


def test_say_server_interrupted_stops_the_speech_and_the_agent_lips() -> None:
    with TcpAgent() as agent, serve("--to", agent.url, "--model", "mei", "--sync", "clock") as url:
        command = [*LIPSYNC, "say", LONG, "--server", url]
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        assert agent.wait_for(lambda lines: any(x.startswith("LIPSYNC_START|mei|") for x in lines))
        os.kill(process.pid, signal.SIGINT)
        assert process.wait(timeout=20) == 130
        assert agent.wait_for(lambda lines: "LIPSYNC_STOP|mei" in lines)
        assert process.stderr is not None and "Traceback" not in process.stderr.read()
        process.stderr.close()
