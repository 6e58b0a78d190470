"""``--modified-only``: the ledger beside the outputs, what counts as a change, and resuming.

A line is redone when its text, audio bytes, labels, lip map, options or lipsync's version
differ from what its output was made from, or its output is gone or changed size; an
interrupted batch (Ctrl-C or kill -9) goes on where it stopped.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
from conftest import ROOT

from lipsync.cli.main import main
from lipsync.export.ledger import Ledger

LATE_LAB = "5000000 6000000 sil\n6000000 9000000 a\n9000000 10000000 sil\n"
TEXTS = ["はい", "いいえ", "こんにちは", "ありがとう", "そうですね", "わかりました"]


def _counts(capsys):
    summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()][-1]
    return summary["done"], summary["skipped"], summary["failed"]


def _studio(tmp_path):
    from lipsync import Audio, synthesize

    audio, _ = synthesize("こんにちは")
    audio.save_wav(tmp_path / "hello.wav")
    Audio(np.concatenate([audio.samples, np.zeros(4800, dtype=np.int16)]), audio.sample_rate).save_wav(
        tmp_path / "hello-longer.wav")
    (tmp_path / "late.lab").write_text(LATE_LAB)
    (tmp_path / "my.lip.txt").write_bytes((ROOT / "lipsync" / "maps" / "vrm.txt").read_bytes())
    rows = [f"t{i},{TEXTS[i % len(TEXTS)]},,,Mei" for i in range(8)]
    rows += ["w0,こんにちは,hello.wav,,Hiro", "l0,,,late.lab,Hiro"]
    table = tmp_path / "lines.csv"
    table.write_text("id,text,audio,labels,character\n" + "\n".join(rows) + "\n")
    return table


def test_modified_only_redoes_exactly_what_changed(capsys, tmp_path, monkeypatch):
    table = _studio(tmp_path)
    out = tmp_path / "out"

    def run(*extra):
        args = ["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "curves-json",
                "--character-map", f"Hiro={tmp_path / 'my.lip.txt'}", "-j", "1", "--json", *extra]
        code = main(args)
        counts = _counts(capsys)
        assert code == 0, counts
        return counts

    assert run() == (10, 0, 0)
    assert run("--modified-only") == (0, 10, 0)
    # Three lines change: a text, an audio file's bytes, a label file.
    table.write_text(table.read_text().replace("t3,ありがとう", "t3,どうもありがとう").replace(
        "hello.wav", "hello-longer.wav"))
    (tmp_path / "late.lab").write_text(LATE_LAB.replace("9000000 a", "9000000 i"))
    assert run("--modified-only") == (3, 7, 0)
    assert run("--modified-only") == (0, 10, 0)
    # Hiro's map file changes: his two lines; --fps: every line; an output gone or edited: that one.
    (tmp_path / "my.lip.txt").write_text((tmp_path / "my.lip.txt").read_text().replace("1.0", "0.9", 1))
    assert run("--modified-only") == (2, 8, 0)
    assert run("--modified-only", "--fps", "30") == (10, 0, 0)
    (out / "t0.json").unlink()
    (out / "t1.json").write_text("{}")
    assert run("--modified-only", "--fps", "30") == (2, 8, 0)
    # Another voice times the text lines and the labels line, not the aligned recording.
    voice = ROOT / "tests" / "fixtures" / "reference" / "voices" / "mei_happy.htsvoice"
    before = (out / "t2.json").read_bytes()
    assert run("--modified-only", "--fps", "30", "--voice", str(voice)) == (9, 1, 0)
    assert (out / "t2.json").read_bytes() != before
    assert run("--modified-only", "--fps", "30", "--voice", str(voice)) == (0, 10, 0)
    # How the mouth moves is an option too: a new intensity, or the motion rules off, redoes all.
    assert run("--modified-only", "--fps", "30", "--voice", str(voice), "--intensity", "0.8") == (10, 0, 0)
    assert run("--modified-only", "--fps", "30", "--voice", str(voice), "--intensity", "0.8") == (0, 10, 0)
    assert run("--modified-only", "--fps", "30", "--voice", str(voice), "--intensity", "0.8",
               "--no-coarticulation") == (10, 0, 0)
    # Another lipsync version made them: every line again.
    monkeypatch.setattr("lipsync.export.runner.__version__", "99.0")
    monkeypatch.setattr("lipsync.export.work.__version__", "99.0")
    assert run("--modified-only", "--fps", "30", "--voice", str(voice), "--intensity", "0.8",
               "--no-coarticulation") == (10, 0, 0)


def test_without_modified_only_every_line_is_redone_and_recorded(capsys, tmp_path):
    table = tmp_path / "lines.tsv"
    table.write_text("sequence\tsil,100,a,100\t-\ta.csv\nsequence\tsil,100,i,100\t-\tb.csv\n")
    for _ in range(2):
        assert main(["export", "--batch", str(table), "-j", "1", "--json"]) == 0
        assert _counts(capsys) == (2, 0, 0)
    assert main(["export", "--batch", str(table), "-j", "1", "--json", "--modified-only"]) == 0
    assert _counts(capsys) == (0, 2, 0)


def _ledger_keys(root):
    path = root / ".lipsync-ledger"
    if not path.exists():
        return set()
    return {line.split("\t")[0] for line in path.read_text().splitlines()[1:] if line.count("\t") == 2}


def _wait_for_entries(root, count, process):
    deadline = time.monotonic() + 60
    while len(_ledger_keys(root)) < count:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_an_interrupted_or_killed_batch_resumes_where_it_stopped(capsys, tmp_path):
    table = tmp_path / "lines.csv"
    table.write_text("id,text\n" + "".join(f"x{i:03d},{TEXTS[i % len(TEXTS)]}\n" for i in range(90)))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lipsync", "export", "--manifest", str(table), "--out-dir", str(out),
               "--to-format", "vmd", "-j", "2", "--modified-only"]
    # Ctrl-C: exit 130, and a word on how to go on.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_entries(out, 10, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted after" in err and "run again with --modified-only to go on from there" in err
    after_interrupt = _ledger_keys(out)
    # kill -9 of the run that goes on: it leaves whole ledger lines, for the outputs in place.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_entries(out, len(after_interrupt) + 10, process)
    process.kill()
    process.communicate(timeout=60)  # its workers hold the pipes: they see their parent gone and exit
    recorded = _ledger_keys(out)
    assert after_interrupt < recorded and len(recorded) < 90
    assert all((out / key).stat().st_size > 0 for key in recorded)
    assert main(["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "vmd", "-j", "1",
                 "--modified-only", "--json"]) == 0
    assert _counts(capsys) == (90 - len(recorded), len(recorded), 0)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        f"x{i:03d}.vmd" for i in range(90)]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [".lipsync-ledger"]


def test_a_torn_ledger_line_is_ignored_and_the_ledger_rewritten(tmp_path):
    with Ledger(tmp_path) as ledger:
        ledger.record("a.vmd", "0" * 32, 10)
        ledger.record("a.vmd", "1" * 32, 11)
        ledger.record("b.vmd", "2" * 32, 12)
    path = tmp_path / ".lipsync-ledger"
    with open(path, "ab") as handle:
        handle.write(b"c.vmd\t33333")  # a crash mid-write
    with Ledger(tmp_path) as ledger:
        assert sorted(ledger.entries) == ["a.vmd", "b.vmd"]
        assert ledger.unchanged("a.vmd", "1" * 32) is False  # no such output
    assert path.read_text().splitlines()[1:] == [f"a.vmd\t{'1' * 32}\t11", f"b.vmd\t{'2' * 32}\t12"]


def test_one_run_at_a_time_writes_into_a_folder(capsys, tmp_path):
    table = tmp_path / "lines.tsv"
    table.write_text("sequence\tsil,100,a,100\t-\ta.csv\n")
    with Ledger(tmp_path):
        assert main(["export", "--batch", str(table), "-j", "1"]) == 2
    assert f"lipsync: {tmp_path}: another lipsync export is writing here; let it finish first" in (
        capsys.readouterr().err)
    assert not (tmp_path / "a.csv").exists()
    assert main(["export", "--batch", str(table), "-j", "1"]) == 0


def test_the_ledger_is_written_only_after_its_output(tmp_path, monkeypatch):
    # The order that makes resuming safe: a crash between the two leaves an output that is
    # made again, never a ledger line for an output that is not there.
    import lipsync.export.runner as runner

    events = []
    real_write, real_record = runner.write_atomic, Ledger.record
    monkeypatch.setattr(runner, "write_atomic", lambda path, data, **kw: (events.append("write"),
                                                                          real_write(path, data, **kw)))
    monkeypatch.setattr(Ledger, "record", lambda self, *a: (events.append("record"), real_record(self, *a)))
    table = tmp_path / "lines.tsv"
    table.write_text("sequence\tsil,100,a,100\t-\ta.csv\nsequence\tsil,100,i,100\t-\tb.csv\n")
    assert main(["export", "--batch", str(table), "-j", "1"]) == 0
    assert events == ["write", "record", "write", "record"]
