"""Files are never lost: concurrent edits, links, special outputs, owners, left-over temporaries."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, STOCK_MAP
from test_atomic import _LOOP  # the child that saves a map over and over

from lipsync import LipMap, ValueRefused
from lipsync._atomic import locked, write_atomic
from lipsync.cli.main import main

STOCK = STOCK_MAP
LIPSYNC = [sys.executable, "-m", "lipsync"]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


@pytest.fixture
def lip(tmp_path: Path) -> Path:
    path = tmp_path / "lip.txt"
    path.write_bytes(STOCK.read_bytes())
    return path


def test_concurrent_map_edits_all_land(lip: Path) -> None:
    phonemes = ["a", "i", "u", "e", "o", "k", "s", "t"]
    runs = [
        subprocess.Popen([*LIPSYNC, "map", "set", str(lip), p, "0.125", "0.25", "0.375", "0.5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        for p in phonemes
    ]
    outcomes = [(run.wait(timeout=60), run.stderr.read() if run.stderr else "") for run in runs]
    assert outcomes == [(0, "")] * len(phonemes)
    edited = LipMap.load(lip)
    assert all(edited.weights(p) == (0.125, 0.25, 0.375, 0.5) for p in phonemes)


def test_a_save_over_a_file_changed_since_it_was_read_is_refused(lip: Path) -> None:
    first = LipMap.load(lip)
    second = LipMap.load(lip)
    first.set_weights("a", [0.1, 0.1, 0.1, 0.1]).save()
    with pytest.raises(ValueRefused, match="changed since it was read; not overwritten"):
        second.set_weights("i", [0.2, 0.2, 0.2, 0.2]).save()
    assert LipMap.load(lip).weights("a") == (0.1, 0.1, 0.1, 0.1)  # the first edit survived


def test_edits_of_a_saved_map_build_on_what_it_saved(lip: Path) -> None:
    lipmap = LipMap.load(lip)
    for step in range(3):
        lipmap = lipmap.set_weights("a", [step / 10, 0, 0, 0])
        lipmap.save()
    assert LipMap.load(lip).weights("a") == (0.2, 0.0, 0.0, 0.0)


def test_a_lock_held_elsewhere_makes_the_edit_wait_then_succeed(lip: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom lipsync._atomic import locked\n"
         "with locked(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(0.5)\n", str(lip)],
        stdout=subprocess.PIPE, text=True, env=ENV)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    assert main(["map", "set", str(lip), "a", "0.5", "0", "0", "0"]) == 0
    assert holder.wait(timeout=30) == 0
    assert LipMap.load(lip).weights("a") == (0.5, 0.0, 0.0, 0.0)


def test_locks_nest_in_one_thread(lip: Path) -> None:
    with locked(lip), locked(lip):
        LipMap.load(lip).set_weights("a", [1, 1, 1, 1]).save()
    assert LipMap.load(lip).weights("a") == (1.0, 1.0, 1.0, 1.0)


def test_editing_a_symlinked_map_edits_its_target(lip: Path, tmp_path: Path) -> None:
    link = tmp_path / "model.lip"
    link.symlink_to(lip)
    assert main(["map", "set", str(link), "a", "0.5", "0", "0", "0"]) == 0
    assert link.is_symlink() and os.readlink(link) == str(lip)
    assert LipMap.load(lip).weights("a") == (0.5, 0.0, 0.0, 0.0)


def test_a_chain_of_symlinks_and_a_relative_one_are_followed(lip: Path, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    first = tmp_path / "sub" / "first.lip"
    first.symlink_to("../lip.txt")
    second = tmp_path / "second.lip"
    second.symlink_to(first)
    assert main(["map", "rename", str(second), "a", "aq"]) == 0
    assert first.is_symlink() and second.is_symlink()
    assert "aq" in LipMap.load(lip)


def test_editing_a_hard_linked_map_keeps_its_links(lip: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    os.link(lip, other)
    assert main(["map", "set", str(lip), "a", "0.5", "0", "0", "0"]) == 0
    assert lip.stat().st_nlink == 2 and lip.stat().st_ino == other.stat().st_ino
    assert LipMap.load(other).weights("a") == (0.5, 0.0, 0.0, 0.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lip.txt", "other.txt"]  # no backup left


def test_output_to_a_fifo_is_written_into_it(lip: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert main(["map", "add", str(lip), "kx", "--like", "k", "-o", str(fifo)]) == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert "kx" in LipMap.parse(received[0])


def test_label_output_to_a_fifo_is_written_into_it(tmp_path: Path) -> None:
    fifo = tmp_path / "out.lab"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert main(["timeline", "--sequence", "sil,100,a,200", "-o", str(fifo)]) == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received == [b"0 1000000 sil\n1000000 3000000 a\n"]


def _private_null(folder: Path) -> Path:
    """A device like /dev/null, in the test's folder: a regression replaces this, not the real one."""
    if os.geteuid() != 0:
        pytest.skip("only root can make a device node")
    node = folder / "null.lab"  # named so that -o knows the format to write into it
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return node


def test_output_to_a_device_leaves_the_device(lip: Path, tmp_path: Path) -> None:
    null = _private_null(tmp_path)
    assert main(["map", "set", str(lip), "a", "0.5", "0", "0", "0", "-o", str(null)]) == 0
    assert main(["timeline", "--sequence", "a,100", "-o", str(null)]) == 0
    assert stat.S_ISCHR(null.stat().st_mode) and null.stat().st_rdev == os.makedev(1, 3)
    assert lip.read_bytes() == STOCK.read_bytes()


def test_output_to_a_link_to_stdout_goes_to_stdout(lip: Path, tmp_path: Path) -> None:
    stdout = tmp_path / "stdout"
    stdout.symlink_to("/proc/self/fd/1")  # as /dev/stdout is: its target has no path
    result = subprocess.run([*LIPSYNC, "map", "rename", str(lip), "a", "aq", "-o", str(stdout)],
                            capture_output=True, env=ENV, timeout=60)
    assert result.returncode == 0, result.stderr
    assert b"\naq " in result.stdout  # the map itself, then the summary line
    assert stdout.is_symlink() and lip.read_bytes() == STOCK.read_bytes()


def test_an_output_symlink_is_written_through(tmp_path: Path) -> None:
    target = tmp_path / "real.lab"
    target.write_bytes(b"old\n")
    link = tmp_path / "link.lab"
    link.symlink_to(target)
    assert main(["timeline", "--sequence", "a,100", "-o", str(link)]) == 0
    assert link.is_symlink() and target.read_bytes() == b"0 1000000 a\n"


def test_a_folder_is_refused_as_an_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "labels.lab"
    folder.mkdir()
    assert main(["timeline", "--sequence", "a,100", "-o", str(folder)]) == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_root_editing_a_users_map_leaves_it_theirs(lip: Path) -> None:
    os.chown(lip, 4321, 4322)
    lip.chmod(0o640)
    assert main(["map", "set", str(lip), "a", "0.5", "0", "0", "0"]) == 0
    info = lip.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4321, 4322, 0o640)
    assert LipMap.load(lip).weights("a") == (0.5, 0.0, 0.0, 0.0)


def test_a_new_file_is_created_readable(tmp_path: Path) -> None:
    path = tmp_path / "new.lab"
    write_atomic(path, b"x\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 and path.read_bytes() == b"x\n"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_a_dead_process_are_removed_and_a_live_ones_kept(lip: Path, tmp_path: Path) -> None:
    dead = tmp_path / f".lip.txt.lipsync-tmp-{_dead_pid()}-0"
    dead.write_bytes(b"half")
    live = tmp_path / f".lip.txt.lipsync-tmp-{os.getppid()}-0"
    live.write_bytes(b"in progress")
    LipMap.load(lip).set_weights("a", [0.5, 0, 0, 0]).save()
    assert not dead.exists() and live.exists()


def test_a_writer_of_many_files_sweeps_a_folder_once(tmp_path: Path) -> None:
    from lipsync._atomic import sweep_temporaries

    dead = [tmp_path / f".{name}.lipsync-tmp-{_dead_pid()}-0" for name in ("a.vmd", "b.json")]
    live = tmp_path / f".c.vmd.lipsync-tmp-{os.getppid()}-0"
    for path in [*dead, live]:
        path.write_bytes(b"half")
    write_atomic(tmp_path / "a.vmd", b"new", sweep=False)  # no scan of the folder for this one
    assert all(path.exists() for path in dead)
    sweep_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "a.vmd"]


def test_after_kill_9_mid_save_the_next_save_leaves_no_temporary(lip: Path, tmp_path: Path) -> None:
    for delay in (0.01, 0.03, 0.07):
        child = subprocess.Popen([sys.executable, "-c", _LOOP, str(lip)], env=ENV, stdout=subprocess.PIPE)
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    LipMap.load(lip).set_weights("a", [1, 0, 0, 0]).save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lip.txt"]


def test_a_read_only_map_is_not_replaced(lip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lip.chmod(0o444)
    before = lip.read_bytes()
    assert main(["map", "set", str(lip), "a", "0.1", "0", "0", "0"]) == 2
    assert "read-only (mode 0444); not written" in capsys.readouterr().err
    assert lip.read_bytes() == before and stat.S_IMODE(lip.stat().st_mode) == 0o444


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root (CI runs as root)")
def test_editing_another_users_map_leaves_it_theirs() -> None:
    import shutil
    import tempfile

    # Outside pytest's own folders, which only root may enter.
    folder = Path(tempfile.mkdtemp(prefix="lipsync-owner-"))
    folder.chmod(0o777)
    try:
        _edit_as_another_user(folder / "theirs.lip.txt")
    finally:
        shutil.rmtree(folder)


def _edit_as_another_user(lip: Path) -> None:
    lip.write_bytes(STOCK.read_bytes())
    lip.chmod(0o666)
    os.chown(lip, 4242, 4242)
    # The editor is another user; what it runs is loaded first (root's Python is unreadable to it).
    editor = ("import os, sys; from lipsync.maps import LipMap; import lipsync._atomic; "
              "lipmap = LipMap.load(sys.argv[1]); os.setgid(5353); os.setuid(5353); "
              "lipmap.set_weights('a', [0.1, 0, 0, 0]).save()")
    result = subprocess.run([sys.executable, "-c", editor, str(lip)], capture_output=True, text=True,
                            env=ENV, timeout=60)
    assert result.returncode == 0, result.stderr
    after = lip.stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (4242, 4242, 0o666)
    assert LipMap.load(lip).weights("a") == (0.1, 0.0, 0.0, 0.0)


_TEAR = """
import sys
from lipsync._atomic import write_atomic
path, size = sys.argv[1], int(sys.argv[2])
versions = [bytes([65 + i]) * size for i in range(2)]
print("ready", flush=True)
i = 0
while True:
    i += 1
    write_atomic(path, versions[i % 2])
"""


def test_a_hard_linked_file_killed_mid_rewrite_is_restored_whole(tmp_path: Path) -> None:
    # A hard-linked file is rewritten in place (a rename would cut the link): killed half-way,
    # it is torn until the next save or read puts its old bytes back from the backup.
    from lipsync._atomic import recover

    size = 8_000_000
    path = tmp_path / "big.bin"
    path.write_bytes(b"A" * size)
    os.link(path, tmp_path / "link.bin")
    whole = {b"A" * size, b"B" * size}

    def kill(child: subprocess.Popen[bytes], at_backup: bool, delay: float) -> None:
        if at_backup:  # the moment its old bytes are set aside: the rewrite is under way
            deadline = time.monotonic() + 20
            while not any(".lipsync-old-" in p.name for p in tmp_path.iterdir()):
                assert time.monotonic() < deadline, "the child never rewrote the file"
                time.sleep(0.0005)
        else:
            time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)

    for at_backup, delay in ((True, 0), (True, 0), (True, 0), (False, 0.05), (False, 0.2)):
        child = subprocess.Popen([sys.executable, "-c", _TEAR, str(path), str(size)], env=ENV,
                                 stdout=subprocess.PIPE)
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        kill(child, at_backup, delay)
        restored = recover(path)
        assert restored or not at_backup  # killed mid-rewrite: its backup put the old bytes back
        assert path.read_bytes() in whole and (tmp_path / "link.bin").read_bytes() == path.read_bytes()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin", "link.bin"]


def test_a_map_torn_by_a_killed_save_reads_whole(lip: Path, caplog: pytest.LogCaptureFixture) -> None:
    whole = lip.read_bytes()
    (lip.parent / f".{lip.name}.lipsync-old-{_dead_pid()}").write_bytes(whole)
    lip.write_bytes(whole[: len(whole) // 3])  # what the killed save left
    assert LipMap.load(lip).to_bytes() == whole
    assert "killed half-way" in caplog.text
    assert sorted(p.name for p in lip.parent.iterdir()) == [lip.name]
