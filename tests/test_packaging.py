"""The package works from a normal install: env.py, the template and every revision ship."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT, run_process
from dbhelpers import REVISIONS


def test_wheel_ships_the_migrations(tmp_path):
    # Build from a copy: an in-tree build leaves build/ behind, and stale files in it.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "examples", "bench", "tests"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(source)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("myapp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "myapp/db/migrations/env.py" in names
    assert "myapp/db/runtime/scaffold/env.py" in names
    assert "myapp/db/runtime/scaffold/script.py.mako" in names
    shipped = {n.rsplit("/", 1)[1].split("_")[0] for n in names if n.startswith("myapp/db/migrations/versions/")}
    assert shipped >= set(REVISIONS)
    assert any(n.endswith("entry_points.txt") for n in names)


def test_console_script_and_module_agree(tmp_path):
    console = Path(sys.executable).parent / "myapp-db"
    module = run_process("history", cwd=tmp_path)
    script = subprocess.run([str(console), "history"], capture_output=True, text=True, cwd=tmp_path)
    assert module.returncode == script.returncode == 0
    assert script.stdout == module.stdout and len(script.stdout.splitlines()) == len(REVISIONS)
