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


def _run(listing: Path, jobs: int, *options: str) -> float:
    start = time.perf_counter()
    command = [sys.executable, "-m", "lipsync", "export", "--batch", str(listing), "-j", str(jobs), *options]
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


@pytest.mark.parametrize("jobs", [1, 0])
def test_batch_lines_per_second(benchmark, figures, tmp_path, jobs):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    used = jobs or cores
    count = 200 * used  # enough lines that start-up (about 2 s) weighs little
    listing = _listing(tmp_path, count)
    seconds = benchmark.pedantic(_run, args=(listing, jobs), rounds=2, iterations=1)
    assert len(list((tmp_path / "out").iterdir())) == count
    rate = count / benchmark.stats.stats.median
    label = "1 process" if jobs == 1 else f"{used} processes (every core)"
    figures.add(f"export --batch, {count} one-sentence lines to VMD, {label}", rate, "lines/s")
    figures.add(f"export --batch per core, {label}", rate / used, "lines/s")
    del seconds


def test_the_motion_rules_cost_no_export_speed(benchmark, figures, tmp_path):
    """The same 200 lines on one process, with MMDAgent-EX's own rule (--no-coarticulation, what
    every export did before the motion rules) and with lipsync's motion (the default)."""
    listing = _listing(tmp_path, 200)
    rates = {}
    for label, options in (("MMDAgent-EX's rule", ("--no-coarticulation",)), ("lipsync's motion", ())):
        seconds = min(_run(listing, 1, *options) for _ in range(3))
        rates[label] = 200 / seconds
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    before = "export --batch, 200 lines to VMD, 1 process, MMDAgent-EX's rule (best of 3)"
    figures.add(before, rates["MMDAgent-EX's rule"], "lines/s")
    figures.add("export --batch, 200 lines to VMD, 1 process, lipsync's motion (best of 3)",
                rates["lipsync's motion"], "lines/s", baseline=before, target="≥ 1/1.1 of the rule's rate",
                check=lambda v, b: b is not None and v >= b / 1.1)
