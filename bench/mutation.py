"""Mutation score of the pure-Python zoo modules and the dataset loader, module by module.

    python -m bench.mutation [MODULE ...] [--workdir DIR] [--survivors] [--list]

For each module (default: all in MODULES) the repository's sources and tests are copied into
DIR/<module>/ (the shipped models are not: no selected test reads them), pyproject.toml's [tool.mutmut]
table there is narrowed to that module and the fast test files that cover it (no training),
and `mutmut run` mutates it. Prints killed / total per module and writes DIR/scores.json; the
surviving mutants are listed with `mutmut results` in DIR/<module>/ (`mutmut show NAME` shows one).
After adding tests, --survivors reruns only those (the whole module if it or its test files changed).
Runs niced: the machine is shared.
docs/development.md reports the figures; docs/mutation.md lists the equivalent mutants.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = Path(sys.executable).with_name("mutmut")

# module -> the unit-tier test files that cover it (tests/unit/: no training, no server): each mutant reruns them.
MODULES: dict[str, list[str]] = {
    "model_zoo/decision.py": ["tests/unit/test_decision.py", "tests/unit/test_decision_units.py"],
    "model_zoo/verdicts.py": ["tests/unit/test_verdicts_units.py"],
    "model_zoo/preprocessing.py": ["tests/unit/test_preprocessing_units.py"],
    "model_zoo/zoo.py": ["tests/unit/test_zoo_units.py"],
    "model_zoo/tradeoff.py": ["tests/unit/test_tradeoff_rules.py", "tests/unit/test_tradeoff_units.py"],
    "training/lib/data.py": ["tests/unit/test_data_units.py"],
}
CHILDREN = 2  # mutants tested at once (the machine has 2 cores, shared)
# What a copy needs to import the modules and run their tests.
COPIED = ("model_zoo", "training", "tests", "pyproject.toml")


def _copy_sources(target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            # Entries (folders of model_zoo/) are data, not code: leave the shipped models behind.
            ignore = shutil.ignore_patterns("__pycache__", "*.keras", "*.npz", "*.csv", ".runs", "mutants")
            shutil.copytree(source, target / name, ignore=ignore)
        elif source.is_file():
            shutil.copy(source, target / name)


def _tool_settings(folder: Path) -> dict:
    return tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8")).get("tool", {})


def _narrow_config(folder: Path, module: str, tests: list[str]) -> None:
    """The copy's pyproject.toml: pytest's settings as they are, and mutmut's narrowed to `module` and `tests`
    (the project's metadata is not needed there). Strings and lists of strings: JSON spells them as TOML does."""
    tools = _tool_settings(folder)
    mutmut = {**tools.get("mutmut", {}), "source_paths": ["model_zoo", "training"], "only_mutate": [module],
              "pytest_add_cli_args_test_selection": tests}
    tables = {"tool.pytest.ini_options": tools.get("pytest", {}).get("ini_options", {}), "tool.mutmut": mutmut}
    text = "".join(f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items()) + "\n"
                   for name, table in tables.items())
    (folder / "pyproject.toml").write_text(text, encoding="utf-8")


def score(folder: Path) -> dict[str, int]:
    """Counts by mutmut status for the run in `folder` (killed, survived, timeout, no tests, ...)."""
    subprocess.run([str(MUTMUT), "export-cicd-stats"], cwd=folder, check=True, capture_output=True)
    stats = json.loads((folder / "mutants" / "mutmut-cicd-stats.json").read_text())
    return {key: int(value) for key, value in stats.items()}


def run_module(module: str, workdir: Path) -> dict[str, int]:
    folder = workdir / Path(module).stem
    _copy_sources(folder)
    _narrow_config(folder, module, MODULES[module])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(["nice", "-n", "15", str(MUTMUT), "run", "--max-children", str(CHILDREN)], cwd=folder, env=env, check=False,
                   stdout=subprocess.DEVNULL)
    return score(folder)


def rerun_survivors(module: str, workdir: Path) -> dict[str, int]:
    """After adding tests: copy the current tests into the module's earlier run and rerun only its survivors."""
    folder = workdir / Path(module).stem
    selected = _tool_settings(folder).get("mutmut", {}).get("pytest_add_cli_args_test_selection")
    changed = (folder / module).read_bytes() != (ROOT / module).read_bytes()  # the mutants were made from the old code
    if changed or selected != MODULES[module]:
        return run_module(module, workdir)  # mutmut's earlier verdicts no longer apply
    for target in (folder / "tests", folder / "mutants" / "tests"):
        shutil.copytree(ROOT / "tests", target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    listing = subprocess.run([str(MUTMUT), "results"], cwd=folder, capture_output=True, text=True, check=True).stdout
    survivors = [line.split(":")[0].strip() for line in listing.splitlines() if line.strip().endswith(": survived")]
    if survivors:
        subprocess.run(["nice", "-n", "15", str(MUTMUT), "run", "--max-children", str(CHILDREN), *survivors], cwd=folder,
                       check=False, stdout=subprocess.DEVNULL)
    return score(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help=f"modules to mutate (default: all of {', '.join(MODULES)})")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cifake-mutation"))
    parser.add_argument("--list", action="store_true", help="print each module and its test files, and exit")
    parser.add_argument("--survivors", action="store_true",
                        help="rerun only the surviving mutants of an earlier run in --workdir, with the current tests")
    args = parser.parse_args(argv)
    if args.list:
        for module, tests in MODULES.items():
            print(f"{module}: {' '.join(tests)}")
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    results_file = args.workdir / "scores.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    for module in args.modules or list(MODULES):
        counts = rerun_survivors(module, args.workdir) if args.survivors else run_module(module, args.workdir)
        killed, total = counts.get("killed", 0), counts.get("total", 0)
        results[module] = counts
        print(f"{module}: {killed}/{total} mutants killed ({100 * killed / max(total, 1):.1f}%), "
              f"survived {counts.get('survived', 0)}, no tests {counts.get('no_tests', 0)}, "
              f"timeout {counts.get('timeout', 0)}", flush=True)
        results_file.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
