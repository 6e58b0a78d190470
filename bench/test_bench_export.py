"""Export throughput: ``lipsync export --batch`` over voice lines, lines per second per core.

Measured from this process around a child ``lipsync export --batch`` (its start-up, the
workers' spawn and Open JTalk's dictionary load included), on text rows of one sentence
each written as VMD. The per-core figure divides the all-core rate by the cores used.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from texts import _PASSAGE

SENTENCES = [s + "。" for s in _PASSAGE.split("。") if s]


def _listing(folder: Path, count: int) -> Path:
    rows = [f"text\t-\t{SENTENCES[i % len(SENTENCES)]}\tout/{i:04d}.vmd" for i in range(count)]
    path = folder / "lines.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "out").mkdir(exist_ok=True)
    return path


def _run(listing: Path, jobs: int) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lipsync", "export", "--batch", str(listing), "-j", str(jobs)],
                   check=True, capture_output=True)
    return time.perf_counter() - start


@pytest.mark.parametrize("jobs", [1, 0])
def test_batch_lines_per_second(benchmark, figures, tmp_path, jobs):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    used = jobs or cores
    count = 60 * used
    listing = _listing(tmp_path, count)
    seconds = benchmark.pedantic(_run, args=(listing, jobs), rounds=2, iterations=1)
    assert len(list((tmp_path / "out").iterdir())) == count
    rate = count / benchmark.stats.stats.median
    label = "1 process" if jobs == 1 else f"{used} processes (every core)"
    figures.add(f"export --batch, {count} one-sentence lines to VMD, {label}", rate, "lines/s")
    figures.add(f"export --batch per core, {label}", rate / used, "lines/s")
    del seconds
