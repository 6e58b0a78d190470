"""Shared fixtures: the reference files in tests/fixtures/reference (see its README for sources
and licences) and MMDAgent-EX's stock map, data/lip.txt.

A suite started with SIGINT ignored (a shell's background job: ``.ci/run &``) would hand that
on to every program it starts, and lipsync keeps an ignored SIGINT ignored, as a background
job should. The tests that interrupt lipsync need it heard, so the suite hears it again. And no property
test has a time limit per example: a busy machine is slow, not wrong.
"""

from __future__ import annotations

import signal
from pathlib import Path

from hypothesis import settings

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Hypothesis's per-example deadline (200 ms) is a wall-clock tolerance: on a busy machine a
# correct example can take longer. The properties are about results, not time.
settings.register_profile("lipsync", deadline=None)
settings.load_profile("lipsync")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE = FIXTURES / "reference"
#: MMDAgent-EX's stock lip.txt, as the repository keeps it (and the wheel installs it).
STOCK_MAP = ROOT / "data" / "lip.txt"
LIP_FILES = sorted([STOCK_MAP, *(REFERENCE / "lip").glob("*.txt")])
