"""Every `python -m` entry point answers --help: exit status 0 and a usage line that names the program."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("training", "dashboard", "bench", "model_zoo")
# The command lines a user is told about; discovery below must find at least these.
DOCUMENTED = {"training.train", "training.evaluate", "training.leaderboard", "training.predict", "training.robustness",
              "training.download", "dashboard.api"}


def entry_points() -> list[str]:
    """Modules of the project's packages that run as `python -m package.module`."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"):
                found.append(f"{package}.{path.stem}")
    return found


def test_discovery_finds_every_documented_command_line():
    assert DOCUMENTED <= set(entry_points())


@pytest.mark.parametrize("module", entry_points())
def test_help_exits_0_and_names_the_program(module):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    # The timeout guards against an entry point that ignores --help and starts working instead.
    result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=300,
                            cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith(f"usage: python -m {module}"), result.stdout[:300]
    assert "Traceback" not in result.stderr


def test_the_dashboard_imports_no_command_line_module():
    """Shared helpers live in model_zoo; the dashboard may use the dataset loader (training.data), not a CLI."""
    import ast

    for path in sorted((ROOT / "dashboard").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.startswith("training"):
                    assert name == "training.data", f"{path.relative_to(ROOT)} imports {name}"
