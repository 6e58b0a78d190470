"""The engine clients in clients/: the C# one (Unity's language) compiled with Mono's mcs and run
against a real ``lipsync serve`` process. Without mcs and mono (Debian: mono-mcs, mono-runtime)
the test is skipped, unless LIPSYNC_REQUIRE_MONO=1 (set by .ci/run), which makes it fail.
(The GDScript client for Godot 4 cannot run here: no Godot 4 on Debian 12.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from serveclient import serve_process

from lipsync import load_map, resolve
from lipsync.motion import Motion, mouth_curves
from lipsync.motion.roles import BILABIALS
from lipsync.speech.synthesis import durations

CLIENTS = ROOT / "clients"
TEXT = "ママとパパ。"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("mcs") is None or shutil.which("mono") is None:
        reason = "mcs and mono are needed to build the C# client (apt-get install mono-mcs mono-runtime)"
        if os.environ.get("LIPSYNC_REQUIRE_MONO") == "1":
            pytest.fail(f"LIPSYNC_REQUIRE_MONO=1 but {reason}")
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("csharp") / "example.exe"
    sources = [CLIENTS / "csharp" / "LipsyncClient.cs", CLIENTS / "csharp" / "Example.cs"]
    built = subprocess.run(["mcs", "-warnaserror", f"-out:{out}", *map(str, sources)], capture_output=True,
                           text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def run(example: Path, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mono", str(example), *map(str, args)], capture_output=True, text=True, timeout=60,
                          encoding="utf-8")


def frames(output: str) -> tuple[list[float], list[dict[str, float]]]:
    times, weights = [], []
    for line in output.splitlines():
        if line.startswith("frame "):
            _, t, *pairs = line.split(" ")
            times.append(float(t))
            weights.append({name: float(w) for name, w in (p.split("=") for p in pairs)})
    return times, weights


def test_the_csharp_client_gets_the_mouth_of_a_real_server(example: Path) -> None:
    lipmap = load_map("vrm")
    timeline, _ = resolve(durations(TEXT), lipmap)
    with serve_process("--map", "vrm") as (url, _):
        spoken = run(example, url, TEXT, "vrm", 30)
        quiet = run(example, url, TEXT, "vrm", 30, 0.5)
        refused = run(example, url, TEXT, "no-such-map")
    assert spoken.returncode == 0, spoken.stdout + spoken.stderr
    lines = spoken.stdout.splitlines()
    assert lines[0].startswith("hello ") and "rpm" in lines[0].split() and lines[-1] == "ended spoken"
    times, weights = frames(spoken.stdout)
    assert times == pytest.approx([k / 30 for k in range(len(times))], abs=1e-6)
    # The weights are lipsync's motion, as every other consumer gets it (4 decimals on the wire).
    curves = mouth_curves(timeline, lipmap)
    expected = curves.at(np.array(times) - curves.start)
    got = np.array([[frame[m] for m in lipmap.morphs] for frame in weights])
    assert got == pytest.approx(expected, abs=1e-4)
    # and the lips shut on a frame inside every m and p.
    for phone in timeline:
        if phone.name in BILABIALS:
            inside = [w for t, w in zip(times, weights, strict=True) if phone.start <= t < phone.end]
            assert any(max(w.values()) < 0.1 for w in inside), phone
    assert quiet.returncode == 0
    _, half = frames(quiet.stdout)
    louder = mouth_curves(timeline, lipmap, Motion.of(intensity=0.5))
    assert max(max(w.values()) for w in half) == pytest.approx(louder.weights.max(), abs=1e-4)
    assert refused.returncode == 2 and refused.stdout.splitlines()[-1].startswith("error bad_map ")
