"""Saving is atomic: a process killed while saving leaves the old file or the new one, whole."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, STOCK_MAP

from lipsync import LipMap

STOCK = STOCK_MAP

# A child that saves an edited map, dying at a chosen point of the save.
_CHILD = """
import os, sys
from lipsync import LipMap
path, where = sys.argv[1], sys.argv[2]
edited = LipMap.load(path).set_weights("a", [0.9, 0.9, 0.9, 0.9])
if where == "mid-write":
    real_fdopen = os.fdopen
    class Half:
        def __init__(self, handle): self.handle = handle
        def __enter__(self): return self
        def __exit__(self, *exc): return False
        def write(self, data):
            self.handle.write(data[: len(data) // 2]); self.handle.flush(); os._exit(9)
    os.fdopen = lambda fd, mode: Half(real_fdopen(fd, mode))
elif where == "before-rename":
    os.replace = lambda *a: os._exit(9)
edited.save()
"""


def _run_child(path, where):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", _CHILD, str(path), where], env=env, timeout=60)


@pytest.mark.parametrize("where", ["mid-write", "before-rename"])
def test_a_save_killed_midway_leaves_the_old_file_whole(tmp_path, where):
    path = tmp_path / "lip.txt"
    path.write_bytes(STOCK.read_bytes())
    assert _run_child(path, where).returncode == 9
    assert path.read_bytes() == STOCK.read_bytes()


def test_a_finished_save_leaves_the_new_file_and_no_temporary(tmp_path):
    path = tmp_path / "lip.txt"
    path.write_bytes(STOCK.read_bytes())
    path.chmod(0o600)
    assert _run_child(path, "nowhere").returncode == 0
    assert LipMap.load(path).weights("a") == (0.9, 0.9, 0.9, 0.9)
    assert [p.name for p in tmp_path.iterdir()] == ["lip.txt"]
    assert path.stat().st_mode & 0o777 == 0o600


_LOOP = """
import sys
from lipsync import LipMap
path = sys.argv[1]
lipmap = LipMap.load(path)
print("ready", flush=True)
i = 0
while True:
    i += 1
    lipmap = lipmap.set_weights("a", [i % 7 / 10, 0, 0, 0])
    lipmap.save()
"""


def test_saves_killed_at_random_moments_never_tear_the_file(tmp_path):
    path = tmp_path / "lip.txt"
    path.write_bytes(STOCK.read_bytes())
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    rng = random.Random(1)
    for _ in range(8):
        child = subprocess.Popen([sys.executable, "-c", _LOOP, str(path)], env=env,
                                 stdout=subprocess.PIPE)
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.001, 0.05))  # a random moment within the saving loop
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        lipmap = LipMap.load(path)  # parses: whole
        assert lipmap.phonemes == LipMap.load(STOCK).phonemes
