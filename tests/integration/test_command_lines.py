"""Every `python -m` entry point answers --help: exit status 0 and a usage line that names the program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("training", "dashboard", "bench", "model_zoo")
# The command lines a user is told about; discovery below must find at least these.
DOCUMENTED = {"training.train", "training.evaluate", "training.leaderboard", "training.predict", "training.robustness",
              "training.download", "training.seed_variance", "training.backbones", "dashboard.server.api"}


def entry_points() -> list[str]:
    """Modules of the project's packages that run as `python -m package.module`."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"):
                found.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_discovery_finds_every_documented_command_line():
    assert DOCUMENTED <= set(entry_points())


# Runs `python -m MODULE --help` for every entry point inside one fresh interpreter (runpy, as -m does), so
# TensorFlow is imported once rather than once per command: each result is (exit status, stdout, stderr).
HELP_DRIVER = """
import contextlib, io, json, runpy, sys, traceback
results = {}
for module in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    sys.argv = [module, "--help"]
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
    results[module] = [code, out.getvalue(), err.getvalue()]
print("HELP-RESULTS" + json.dumps(results))
"""


@pytest.fixture(scope="module")
def help_results() -> dict[str, list]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    # The timeout guards against an entry point that ignores --help and starts working instead.
    result = subprocess.run([sys.executable, "-c", HELP_DRIVER, *entry_points()], capture_output=True, text=True,
                            timeout=600, cwd=ROOT, env=env)
    assert "HELP-RESULTS" in result.stdout, result.stderr[-3000:]
    return json.loads(result.stdout.rsplit("HELP-RESULTS", 1)[1])


# A module installed as a console command (pyproject.toml's [project.scripts]) names that command instead.
CONSOLE_NAMES = {"training.console": "cifake"}


@pytest.mark.parametrize("module", entry_points())
def test_help_exits_0_and_names_the_program(module, help_results):
    code, stdout, stderr = help_results[module]
    assert code == 0, stderr[-3000:]
    assert stdout.startswith(f"usage: {CONSOLE_NAMES.get(module, f'python -m {module}')}"), stdout[:300]
    assert "Traceback" not in stderr


def test_the_dashboard_imports_no_command_line_module():
    """Shared helpers live in model_zoo; the dashboard may use the dataset loader (training.lib.data), not a CLI."""
    import ast

    for path in sorted((ROOT / "dashboard").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.startswith("training"):
                    assert name == "training.lib.data", f"{path.relative_to(ROOT)} imports {name}"
