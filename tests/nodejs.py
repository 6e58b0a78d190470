"""Node.js consumers for tests: three.js, three-vrm and the glTF-Validator from the npm registry.

``consumers()`` installs ``tests/node/package.json`` (exact versions) once into a cache folder
(``LIPSYNC_NODE_CACHE``, else ``~/.cache/lipsync-tests/node-<hash>``) with ``npm install``,
copies the scripts of ``tests/node`` beside it, and gives that folder; ``run_node`` runs a
script there and parses the JSON it prints. Without node or npm, or when the registry cannot
be reached, the test is skipped with the reason, unless ``LIPSYNC_REQUIRE_NODE=1`` (set by
.ci/run), which makes it fail instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent / "node"


def _unavailable(reason: str) -> None:
    if os.environ.get("LIPSYNC_REQUIRE_NODE") == "1":
        pytest.fail(f"LIPSYNC_REQUIRE_NODE=1 but {reason}")
    pytest.skip(reason)


def consumers() -> Path:
    """The folder with node_modules and the test scripts (installed on first use)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed to load the files in three.js (apt-get install nodejs npm)")
    manifest = (HERE / "package.json").read_bytes()
    digest = hashlib.sha256(manifest).hexdigest()[:12]
    base = Path(os.environ.get("LIPSYNC_NODE_CACHE") or Path.home() / ".cache" / "lipsync-tests")
    folder = base / f"node-{digest}"
    if not (folder / "node_modules" / ".installed").exists():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_bytes(manifest)
        try:
            command = [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
            subprocess.run(command, cwd=folder, check=True, capture_output=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = getattr(exc, "stderr", b"") or b""
            reason = output.decode(errors="replace")[-300:]
            _unavailable(f"npm install of tests/node/package.json failed: {reason}")
        (folder / "node_modules" / ".installed").write_text(digest)
    for script in HERE.glob("*.mjs"):
        shutil.copyfile(script, folder / script.name)
    return folder


def run_node(folder: Path, script: str, *args: object) -> Any:
    """Run ``script`` of ``tests/node`` with ``args`` in ``folder``; its printed JSON."""
    done = subprocess.run(["node", script, *map(str, args)], cwd=folder, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
