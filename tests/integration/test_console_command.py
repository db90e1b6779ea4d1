"""`cifake SUBCOMMAND --help` answers for every subcommand, as `python -m training.console` (the console script's module).

One interpreter runs them all (TensorFlow is imported once), as tests/integration/test_command_lines.py does for the
`python -m` entry points; each subcommand must show its own module's usage line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training.console import DASHBOARD, MODULES

ROOT = Path(__file__).resolve().parents[2]
DRIVER = """
import contextlib, io, json, sys
from training.console import main
results = {}
for verb in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([verb, "--help"])
    results[verb] = [code, out.getvalue(), err.getvalue()]
print("CIFAKE-HELP" + json.dumps(results))
"""


@pytest.fixture(scope="module")
def helps() -> dict[str, list]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    verbs = [*MODULES, DASHBOARD[0]]
    result = subprocess.run([sys.executable, "-c", DRIVER, *verbs], capture_output=True, text=True, cwd=ROOT, env=env,
                            timeout=300)
    line = next((line for line in result.stdout.splitlines() if line.startswith("CIFAKE-HELP")), None)
    assert line, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(line.removeprefix("CIFAKE-HELP"))


@pytest.mark.parametrize("verb", list(MODULES))
def test_each_subcommand_shows_its_modules_usage(verb, helps):
    code, out, err = helps[verb]
    module = MODULES[verb]
    if importlib.util.find_spec(module) is None:  # training.explain before it lands: one line, exit 2
        assert code == 2 and err.strip() == f"error: this version has no {module} (run `cifake --help` for the " \
                                            "subcommands it has)"
        return
    assert code == 0, err
    assert out.startswith(f"usage: python -m {module}")


def test_the_dashboard_subcommand_explains_itself(helps):
    code, out, _ = helps[DASHBOARD[0]]
    assert code == 0 and out.startswith("usage: cifake dashboard") and "streamlit_app.py" in out
