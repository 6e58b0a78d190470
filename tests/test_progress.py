"""Progress on long work: on a terminal only; text timed without audio when none is needed."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys

from conftest import ROOT

import lipsync.speech.jtalk
from lipsync.cli.main import main
from lipsync.cli.progress import Progress

LONG = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。" * 8  # 264 characters


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_and_clears_the_line():
    stream = Terminal()
    progress = Progress("export", 3, stream=stream)
    progress.update(3, " rows")
    progress.close()
    assert "\rlipsync: export 3/3 rows" in stream.getvalue()
    assert stream.getvalue().endswith("\r")
    piped = io.StringIO()
    quiet = Progress("export", 3, stream=piped)
    quiet.update(3)
    quiet.close()
    assert piped.getvalue() == ""


def test_long_text_shows_progress_on_a_terminal_stderr_only(tmp_path):
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "lipsync", "curves", LONG, "--keyframes"],
            stdout=subprocess.PIPE, stderr=follower, cwd=ROOT, check=True, timeout=120,
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert f"lipsync: timing {len(LONG)} characters".encode() in shown
    assert json.loads(result.stdout)["fps"] == 30  # stdout is untouched


def test_no_progress_in_a_pipe_and_no_audio_made(capsys, monkeypatch):
    def no_audio(*args, **kwargs):
        raise AssertionError("curves and export need no waveform")

    monkeypatch.setattr(lipsync.speech.jtalk, "synthesize_one", no_audio)
    assert main(["curves", LONG, "--keyframes"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["keyframes"]
