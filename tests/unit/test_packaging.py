"""pyproject.toml: the package it builds, the pins it reads, and the `cifake` command's dispatcher (no TensorFlow)."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import training.console as cifake

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGES = ("model_zoo", "training", "dashboard")


def _requirements(name: str) -> list[Requirement]:
    """Each line of a requirements file as setuptools' dynamic dependencies read it (comments dropped)."""
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return [Requirement(line.split(" #", 1)[0].strip()) for line in lines if line.strip() and not line.startswith("#")]


def test_the_pins_live_in_the_requirements_files_and_nowhere_else():
    project = PYPROJECT["project"]
    assert "dependencies" not in project and set(project["dynamic"]) == {"dependencies", "optional-dependencies"}
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"] == {"file": ["requirements.txt"]}
    assert dynamic["optional-dependencies"] == {"dev": {"file": ["requirements-dev.txt"]}}
    runtime, dev = _requirements("requirements.txt"), _requirements("requirements-dev.txt")
    for requirement in runtime + dev:  # pinned: make run, make test and pip install -e . get the same versions
        assert [spec.operator for spec in requirement.specifier] == ["=="], f"{requirement} is not pinned"
    assert not {r.name.lower() for r in runtime} & {r.name.lower() for r in dev}, "a package pinned twice"
    assert {"tensorflow", "streamlit", "flask"} <= {r.name.lower() for r in runtime}
    assert "pytest" in {r.name.lower() for r in dev}


def test_the_package_holds_the_code_and_the_data_files_it_reads():
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert [f"{p}*" for p in PACKAGES] == setuptools["packages"]["find"]["include"]
    for package in PACKAGES:
        assert (ROOT / package / "__init__.py").is_file()
    assert setuptools["py-modules"] == ["streamlit_app"] and (ROOT / "streamlit_app.py").is_file()
    for package, patterns in setuptools["package-data"].items():
        folder = ROOT.joinpath(*package.split("."))
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"package data {package}: {pattern} matches nothing"
    assert not (ROOT / "model_zoo" / "entries" / "__init__.py").exists()  # the shipped weights are no package


def test_the_console_script_is_the_dispatcher():
    module, function = PYPROJECT["project"]["scripts"]["cifake"].split(":")
    assert (module, function) == ("training.console", "main") and callable(cifake.main)


def test_the_tools_read_their_settings_from_pyproject():
    tools = PYPROJECT["tool"]
    assert tools["ruff"]["line-length"] == 130 and "E" in tools["ruff"]["lint"]["select"]
    assert tools["pytest"]["ini_options"]["testpaths"] == ["tests"]
    assert "training/lib/data.py" in tools["mutmut"]["only_mutate"]
    for old in ("setup.cfg", "pytest.ini", "ruff.toml"):  # any of them would override or split these settings
        assert not (ROOT / old).exists(), f"{old} is back: its settings belong in pyproject.toml"


def test_the_dispatcher_imports_no_command_until_one_is_asked_for():
    """Commands never import each other (docs/layout.md): the dispatcher names them, and imports only the standard
    library at its top (streamlit inside the function that runs it)."""
    for path in [ROOT / "training" / "console.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        names = {alias.name for node in top if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module for node in top if isinstance(node, ast.ImportFrom) and node.module}
        assert all(name.split(".")[0] in sys.stdlib_module_names or name == "__future__" for name in names), \
            f"{path.name} imports {sorted(names)} at the top"
    assert {module.split(".")[0] for module in cifake.MODULES.values()} == {"training", "dashboard"}


def test_no_subcommand_or_an_unknown_one_is_one_line_and_exit_2(capsys):
    assert cifake.main([]) == 2 and "usage: cifake SUBCOMMAND" in capsys.readouterr().err
    assert cifake.main(["fly"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: unknown subcommand 'fly'; choose from {', '.join([*cifake.MODULES, 'dashboard'])}"]


def test_the_help_lists_each_subcommand_with_its_modules_own_summary(capsys):
    assert cifake.main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb, module in cifake.MODULES.items():
        line = next(line for line in out.splitlines() if line.strip().startswith(f"{verb} "))
        path = ROOT.joinpath(*module.split(".")).with_suffix(".py")
        expected = ast.get_docstring(ast.parse(path.read_text())).splitlines()[0] if path.exists() else "(not in this"
        assert expected in line


@pytest.mark.parametrize(("args", "address"), [
    ([], "127.0.0.1"),
    (["--server.port", "8502"], "127.0.0.1"),
    (["--server.address", "0.0.0.0"], "0.0.0.0"),
    (["--server.address=0.0.0.0"], None),  # given in one word: passed on as it is, no default beside it
])
def test_the_dashboard_listens_on_loopback_unless_asked(args, address, monkeypatch):
    seen: list[list[str]] = []
    monkeypatch.setattr(cifake, "run_module", lambda module, module_args: seen.append([module, *module_args]) or 0)
    assert cifake.main(["dashboard", *args]) == 0
    module, *options = seen[0]
    assert module == "dashboard.launch" and cifake.source(module) == ROOT / "dashboard" / "launch.py"
    addresses = [options[i + 1] for i, option in enumerate(options) if option == "--server.address"]
    assert addresses == ([address] if address else []) and options.count("--server.headless") == 1
    if args:
        assert options[-len(args):] == args  # the user's own options come last


def test_a_missing_requirement_is_named_in_one_line(monkeypatch, capsys):
    def run_module(module, **_):
        raise ModuleNotFoundError("No module named 'numpy'", name="numpy")

    monkeypatch.setattr(cifake.runpy, "run_module", run_module)
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # the dispatcher sets argv as python -m would
    assert cifake.main(["leaderboard"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: training.leaderboard needs the package numpy, which is not installed; `pip install -e .` (or "
        "`make run` / `make test`) installs the pinned requirements"]
