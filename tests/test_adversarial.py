"""Hundreds of hostile command lines: exit 2 with a short message, never a traceback or a hang.

The cases (``hostile.py``) cover huge digit strings, non-finite and non-ASCII numbers, deep
JSON, enormous durations, files forced to the wrong format, big valid files, 10 MB junk and
mutated voices. Two worker processes run them through ``lipsync.cli.main`` under a memory
limit (1.5 GB of address space) and a CPU limit; each case must end within 5 s of CPU time.
CPU time, not wall-clock time: the verdict does not depend on how busy the machine is.

``LIPSYNC_FUZZ=N`` adds N mutated voices (40 by default). The table of cases per area is
printed (``pytest -s``) and, with ``LIPSYNC_RELIABILITY=FILE``, written there as JSON.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import hostile

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 1536 * 1024 * 1024
CPU_PER_CASE = 5.0
WORKERS = 2


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (600, 600))  # a worker spinning forever ends


def _run_slot(cases_path: Path, first: int, results: dict[int, dict[str, object]]) -> None:
    """Run every WORKERS-th case from ``first``; a worker that dies is noted and replaced."""
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests'}", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    resume = 0
    while True:
        process = subprocess.Popen(
            [sys.executable, str(Path(hostile.__file__)), str(cases_path), str(first), str(WORKERS),
             str(resume)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=_limits,
        )
        try:
            stdout, stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:  # a hang: the case it was on is named below
            process.kill()
            stdout, stderr = process.communicate()
        started = None
        for line in stdout.decode("utf-8", "replace").splitlines():
            record = json.loads(line)
            if "start" in record:
                started = record["start"]
            else:
                results[record["index"]] = record
                started = None
        if started is None:
            assert process.returncode == 0, stderr.decode("utf-8", "replace")[-500:]
            return
        results[started] = {"died": f"the process ended with {process.returncode}: "
                                    f"{stderr.decode('utf-8', 'replace')[-300:]}"}
        resume = started + 1


def _fault(case: hostile.Case, result: dict[str, object]) -> str | None:
    if "died" in result:
        return str(result["died"])
    code = result["code"]
    stderr = str(result["stderr"])
    if result["escaped"]:
        return f"traceback: {result['escaped']}"
    if "Traceback" in stderr:
        return f"traceback on stderr: {stderr[-300:]}"
    if float(result["cpu"]) >= CPU_PER_CASE:  # type: ignore[arg-type]
        return f"took {result['cpu']:.1f} s of CPU"
    wanted = {"refuse": {2}, "ok": {0}, "either": {0, 2}}[case.expect]
    if code not in wanted:
        return f"exit {code}, expected {sorted(wanted)}: {stderr[:300]!r}"
    if code == 2 and not 0 < int(result["stderr_bytes"]) < 1024:  # type: ignore[call-overload]
        return f"a refusal of {result['stderr_bytes']} bytes on stderr"
    return None


def test_hostile_command_lines_are_refused_briefly_without_tracebacks(tmp_path: Path) -> None:
    extra = int(os.environ.get("LIPSYNC_FUZZ", "0"))
    cases = hostile.all_cases(voices=max(40, extra))
    assert len(cases) >= 500
    cases_path = tmp_path / "cases.pickle"
    cases_path.write_bytes(pickle.dumps(cases))
    results: dict[int, dict[str, object]] = {}
    slots = [threading.Thread(target=_run_slot, args=(cases_path, first, results))
             for first in range(WORKERS)]
    for slot in slots:
        slot.start()
    for slot in slots:
        slot.join()
    tried: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    faults = []
    for index, case in enumerate(cases):
        result = results.get(index)
        fault = "no result" if result is None else _fault(case, result)
        tried[case.area] += 1
        if fault:
            failed[case.area] += 1
            faults.append(f"{hostile.encode_case(case)}: {fault}")
    table = {area: {"cases": tried[area], "failures": failed[area]} for area in sorted(tried)}
    print("\nreliability:", json.dumps(table, ensure_ascii=False))
    if os.environ.get("LIPSYNC_RELIABILITY"):
        Path(os.environ["LIPSYNC_RELIABILITY"]).write_text(json.dumps(table, ensure_ascii=False, indent=1))
    assert not faults, f"{len(faults)} of {len(cases)} cases failed:\n" + "\n".join(faults[:30])
