"""The package's surface: sorted exports, a light import, the bundled data."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT

import lipsync


def test_all_is_sorted_and_complete():
    assert list(lipsync.__all__) == sorted(lipsync.__all__)
    for name in lipsync.__all__:
        assert hasattr(lipsync, name)


def test_import_loads_no_heavy_library():
    code = (
        "import sys, lipsync; heavy = {'pyopenjtalk', 'miniaudio', 'simpleaudio', 'websockets',"
        " 'numpy', 'lark'}; print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_version_matches_the_project():
    text = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{lipsync.__version__}"' in text


def test_exported_names_stay_what_they_are_after_every_submodule_loads():
    # A submodule named like an export (lipsync.resolve once) would replace it on import.
    import importlib
    import pkgutil
    import types

    for module in pkgutil.walk_packages(lipsync.__path__, "lipsync."):
        if not module.name.startswith(("lipsync.__main__", "lipsync.cli.entry")):
            importlib.import_module(module.name)
    for name in lipsync.__all__:
        assert not isinstance(getattr(lipsync, name), types.ModuleType), name



def test_every_package_in_the_tree_is_in_the_wheel():
    # pyproject.toml lists the packages (so that data/ can be lipsync.data): a new folder must
    # be listed too, or the wheel would go without it.
    text = (ROOT / "pyproject.toml").read_text()
    listed = set(re.findall(r'^    "(lipsync[a-z_.]*)",$', text, flags=re.M))
    tree = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "lipsync").rglob("__init__.py")}
    assert listed == tree | {"lipsync.data", "lipsync.serve.page"}


def test_every_install_hint_names_this_project() -> None:
    # "lipsync" on PyPI is another project: a hint must never install it.
    hints = [(path.name, line.strip()) for path in (ROOT / "lipsync").rglob("*.py")
             for line in path.read_text(encoding="utf-8").splitlines() if "pip install" in line]
    assert hints
    assert [hint for hint in hints if "lipsync-ja" not in hint[1] and "needs(" not in hint[1]] == []
    from lipsync.errors import MissingDependency

    assert "pip install lipsync-ja" in str(MissingDependency.needs("miniaudio"))
    assert "pip install 'lipsync-ja[plot]'" in str(MissingDependency.needs("matplotlib", extra="plot"))
