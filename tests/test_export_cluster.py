"""``export --cluster``: a real Dask cluster on 127.0.0.1 (two worker processes), one of them killed.

Every line comes out exactly once though a worker dies mid-run (the scheduler sends its
chunk to another, and only its chunk is done again); ``--modified-only`` redoes exactly the
lines that changed; the workers never write a file (the submitting side writes the outputs)
and get no path under the output folder; Dask loads only with ``--cluster``, and without
the extra one line says what to install.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from conftest import ROOT

from lipsync.cli.main import main

TEXTS = ["はい", "いいえ", "こんにちは", "ありがとう", "そうですね", "わかりました", "おはよう", "さようなら"]
LINES = 300


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as local:
        yield local


def _table(folder, changed=()):
    rows = [f"line{i:03d},{TEXTS[i % len(TEXTS)] + ('、ね' if i in changed else '')}" for i in range(LINES)]
    path = folder / "lines.csv"
    path.write_text("id,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _records(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_every_line_comes_out_once_though_a_worker_dies(cluster, capsys, tmp_path):
    from distributed import Client
    from distributed.diagnostics.plugin import SchedulerPlugin

    class Starts(SchedulerPlugin):
        """How often the scheduler gave each task to a worker."""

        def __init__(self) -> None:
            self.starts: Counter[str] = Counter()

        def transition(self, key, start, finish, *args, **kwargs) -> None:
            if finish == "processing":
                self.starts[str(key)] += 1

    starts = Starts()
    cluster.scheduler.add_plugin(starts, name="lipsync-test-starts")
    with Client(cluster.scheduler_address) as client:
        address, victim = next(iter(client.run(os.getpid).items()))
    out = tmp_path / "out"
    ledger = out / ".lipsync-ledger"
    killed = threading.Event()

    def kill_one_worker_mid_run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            worker = cluster.scheduler.workers.get(address)
            busy = worker is not None and len(worker.processing) > 0  # it holds work to lose
            if busy and ledger.exists() and len(ledger.read_text().splitlines()) > LINES // 4:
                os.kill(victim, signal.SIGKILL)
                killed.set()
                return
            time.sleep(0.01)

    table = _table(tmp_path)
    killer = threading.Thread(target=kill_one_worker_mid_run)
    killer.start()
    args = ["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "vmd",
            "--cluster", cluster.scheduler_address, "--json"]
    try:
        assert main(args) == 0
    finally:
        killer.join()
        cluster.scheduler.remove_plugin(name="lipsync-test-starts")
    assert killed.is_set()
    records = _records(capsys)
    lines = [r for r in records if r["event"] == "line"]
    assert sorted(r["id"] for r in lines) == [f"line{i:03d}" for i in range(LINES)]  # each once
    assert {r["status"] for r in lines} == {"done"}
    assert records[-1]["done"] == LINES
    written = ledger.read_text().splitlines()[1:]  # one ledger line per output written
    assert sorted(line.split("\t")[0] for line in written) == [f"line{i:03d}.vmd" for i in range(LINES)]
    assert len([p for p in out.iterdir() if p.suffix == ".vmd"]) == LINES
    # What the dead worker held ran again: the chunk it ran, one the scheduler had queued on it
    # (one thread: two at most), a result not yet fetched from it. Not the other ~17.
    again = sum(n - 1 for n in starts.starts.values())
    assert 1 <= again <= 4 and len(starts.starts) >= LINES // 16

    _table(tmp_path, changed={7, 150, 299})
    assert main([*args, "--modified-only"]) == 0
    redone = [r["id"] for r in _records(capsys) if r.get("status") == "done"]
    assert sorted(redone) == ["line007", "line150", "line299"]


class _Recording:
    """A pool that keeps every chunk it sends, as the cluster receives it (pickled)."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self.sent: list[bytes] = []
        self.generation = 0

    @property
    def slots(self) -> int:
        return self.pool.slots

    def submit(self, chunk):
        self.sent.append(pickle.dumps(chunk))
        return self.pool.submit(chunk)

    def lost(self, exc, generation):
        return self.pool.lost(exc, generation)

    def close(self, *, cancel=False):
        self.pool.close(cancel=cancel)


def test_the_workers_get_input_bytes_and_no_output_path(cluster, tmp_path):
    from lipsync import synthesize
    from lipsync.export.cluster import DaskPool
    from lipsync.export.job import ExportJob
    from lipsync.export.ledger import Ledger
    from lipsync.export.manifest import read_manifest
    from lipsync.export.runner import Runner

    audio, _ = synthesize("こんにちは")
    audio.save_wav(tmp_path / "take.wav")
    table = tmp_path / "lines.csv"
    table.write_text("id,text,audio\na,こんにちは,take.wav\nb,はい,\n")
    out = tmp_path / "studio-outputs"
    out.mkdir()
    plan = read_manifest(table, out, ExportJob(output=out, format="curves-json"))
    pool = _Recording(DaskPool(cluster.scheduler_address))
    results = []
    with Ledger(out) as ledger:
        tally = Runner(out, pool, ledger, results.append, total=plan.total).run(plan.lines())
    assert (tally.done, tally.failed) == (2, 0), [r.error for r in results]
    payload = b"".join(pool.sent)
    assert (tmp_path / "take.wav").read_bytes() in payload  # the audio travels with its line
    assert str(out).encode() not in payload and b"studio-outputs" not in payload
    assert sorted(p.name for p in out.iterdir()) == [".lipsync-ledger", "a.json", "b.json"]


def test_a_worker_writes_no_file(tmp_path):
    # The worker's entry point, run under an audit hook that sees every file opened for writing.
    from lipsync.export.job import ExportJob
    from lipsync.export.work import Chunk, Task

    chunk = Chunk((Task(ExportJob(output=tmp_path / "a.vmd", text="こんにちは")),
                   Task(ExportJob(output=tmp_path / "b.json", sequence="sil,100,a,200,sil,100"))))
    # Open JTalk's stderr is caught in an unnamed temporary file (O_TMPFILE in the system's temp
    # folder, after tempfile's own probe there): no file any other process could see.
    code = (
        "import os, pickle, sys, tempfile\n"
        "written = []\n"
        "scratch = tempfile.gettempdir()\n"
        "def hook(event, args):\n"
        "    if event == 'open' and isinstance(args[0], (str, bytes, os.PathLike)):\n"
        "        mode, flags = args[1] or '', args[2] or 0\n"
        "        path = os.fsdecode(args[0])\n"
        "        if path == scratch or os.path.dirname(path) == scratch:\n"
        "            return\n"
        "        if any(c in mode for c in 'wax+') or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):\n"
        "            written.append(path)\n"
        "chunk = pickle.loads(sys.stdin.buffer.read())\n"
        "sys.addaudithook(hook)\n"
        "from lipsync.export.work import work_chunk\n"
        "version, made = work_chunk(chunk)\n"
        "print([m.error for m in made], [len(m.data or b'') > 0 for m in made], written)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(chunk), capture_output=True,
                            cwd=tmp_path, check=True)
    assert result.stdout.decode().strip() == "[None, None] [True, True] []"
    assert list(tmp_path.iterdir()) == []


def test_outputs_made_by_another_lipsync_version_are_refused(cluster, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("lipsync.export.runner.__version__", "99.0")
    table = tmp_path / "lines.csv"
    table.write_text("id,text\na,はい\n")
    out = tmp_path / "out"
    # A cluster that cannot do the work is like an agent that is not there: exit 3.
    assert main(["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "vmd",
                 "--cluster", cluster.scheduler_address]) == 3
    err = capsys.readouterr().err
    assert err.startswith("lipsync: a worker runs lipsync ") and "this side 99.0" in err
    assert [p.name for p in out.iterdir()] == []


def test_without_the_extra_one_line_names_the_pip_command(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    table = tmp_path / "lines.csv"
    table.write_text("id,text\na,はい\n")
    assert main(["export", "--manifest", str(table), "--out-dir", str(tmp_path / "out"), "--to-format", "vmd",
                 "--cluster", "tcp://127.0.0.1:8786"]) == 2
    assert capsys.readouterr().err == (
        "lipsync: --cluster needs Dask's distributed scheduler: pip install 'lipsync-ja[cluster]'\n")


def test_an_unreachable_scheduler_is_one_error():
    pytest.importorskip("distributed")
    from lipsync.errors import ClusterError
    from lipsync.export.cluster import DaskPool

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    pool = DaskPool(f"tcp://127.0.0.1:{port}", timeout=1)
    with pytest.raises(ClusterError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}: "):
        pool.connect()


def test_dask_loads_only_for_a_cluster_run():
    code = ("import sys, lipsync.cli.main, lipsync.export.runner, lipsync.export.cluster; "
            "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_a_run_with_nothing_to_do_does_not_reach_for_the_cluster(capsys, tmp_path, monkeypatch):
    table = tmp_path / "lines.csv"
    table.write_text("id,text\na,はい\nb,いいえ\n")
    args = ["export", "--manifest", str(table), "--out-dir", str(tmp_path / "out"), "--to-format", "vmd"]
    assert main([*args, "-j", "1"]) == 0

    def connect(self) -> None:
        raise AssertionError(f"connected to {self.address}")

    monkeypatch.setattr("lipsync.export.cluster.DaskPool.connect", connect)
    assert main([*args, "--cluster", "tcp://127.0.0.1:8786", "--modified-only"]) == 0
    assert "0 done, 2 skipped, 0 failed" in capsys.readouterr().out
