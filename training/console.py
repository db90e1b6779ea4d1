"""The `cifake` console command: a subcommand per task, each running the same module as its `python -m`.

    cifake train|evaluate|predict|explain|export|leaderboard ARGS   same as  python -m training.VERB ARGS
    cifake api ARGS                                                 same as  python -m dashboard.server.api ARGS
    cifake dashboard [STREAMLIT OPTIONS]                            same as  python -m dashboard.launch (make run)

It lives beside the commands it dispatches (the project's top level stays as its design card says) and imports
none of them, nor the dashboard: the commands never import each other (docs/layout.md). A subcommand's module is
found by name and run when it is asked for (runpy, as `python -m` runs it), so `cifake --help` answers without
loading TensorFlow, and a module this version does not have yet is named in one line instead of a traceback.
"""

from __future__ import annotations

import ast
import importlib.util
import runpy
import sys
from pathlib import Path

# subcommand -> the module it runs (each says what it does in its docstring's first line)
MODULES = {
    "train": "training.train",
    "evaluate": "training.evaluate",
    "predict": "training.predict",
    "explain": "training.explain",
    "export": "training.export",
    "leaderboard": "training.leaderboard",
    "api": "dashboard.server.api",
}
OWN_PACKAGES = ("model_zoo", "training", "dashboard")
DASHBOARD = ("dashboard", "The Streamlit dashboard, http://127.0.0.1:8501 (loopback unless --server.address).")
DASHBOARD_MODULE = "dashboard.launch"
# What `make run` passes; a user's own --server.address or --server.headless wins.
DASHBOARD_DEFAULTS = {"--server.address": "127.0.0.1", "--server.headless": "true"}


def source(module: str) -> Path | None:
    """The file `python -m module` runs, found without importing anything (a package imports its dependencies)."""
    top, *inner = module.split(".")
    spec = importlib.util.find_spec(top)
    for location in (spec.submodule_search_locations or []) if spec else []:
        for path in (Path(location, *inner).with_suffix(".py"), Path(location, *inner, "__main__.py")):
            if path.is_file():
                return path
    return None


def summary(module: str) -> str:
    """The first line of `module`'s docstring, read from its source without importing it."""
    path = source(module)
    if path is None:
        return "(not in this version)"
    docstring = (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").strip()
    return docstring.splitlines()[0] if docstring else f"python -m {module}"


def usage() -> str:
    rows = [*((verb, summary(module)) for verb, module in MODULES.items()), DASHBOARD]
    lines = ["usage: cifake SUBCOMMAND [ARGS ...]   (cifake SUBCOMMAND --help for its options)", "", "subcommands:"]
    lines += [f"  {verb:12} {about}" for verb, about in rows]
    return "\n".join(lines)


def run_module(module: str, args: list[str]) -> int:
    """Run `module` as `python -m module args` would; its exit status. One line when this version lacks it."""
    if source(module) is None:
        print(f"error: this version has no {module} (run `cifake --help` for the subcommands it has)", file=sys.stderr)
        return 2
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in OWN_PACKAGES:
            raise
        print(f"error: {module} needs the package {exc.name}, which is not installed; `pip install -e .` (or "
              "`make run` / `make test`) installs the pinned requirements", file=sys.stderr)
        return 2
    return 0


def dashboard_help() -> str:
    defaults = " ".join(f"{option} {value}" for option, value in DASHBOARD_DEFAULTS.items())
    return (f"usage: cifake dashboard [STREAMLIT OPTIONS]\n\n{DASHBOARD[1]}\n"
            f"Runs `streamlit run streamlit_app.py {defaults}` with the inspect page's warm-up begun at launch "
            "(python -m dashboard.launch, as `make run` does); any option of `streamlit run` (see `streamlit run "
            "--help`), e.g. --server.port 8502, goes to Streamlit and wins over these.\n"
            "The zoo: $MODEL_ZOO_DIR, else model_zoo/entries/; CIFAKE's test images: $CIFAKE_PATH or the sidebar.")


def run_dashboard(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(dashboard_help())
        return 0
    given = {arg.split("=", 1)[0] for arg in args}
    defaults = [part for option, value in DASHBOARD_DEFAULTS.items() if option not in given for part in (option, value)]
    return launch_dashboard([*defaults, *args])


def launch_dashboard(streamlit_options: list[str]) -> int:
    """`python -m dashboard.launch OPTIONS`: streamlit_app.py under Streamlit, its warm-up begun at launch."""
    return run_module(DASHBOARD_MODULE, streamlit_options)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    verb, rest = args[0], args[1:]
    if verb == DASHBOARD[0]:
        return run_dashboard(rest)
    if verb not in MODULES:
        print(f"error: unknown subcommand '{verb}'; choose from {', '.join([*MODULES, DASHBOARD[0]])}", file=sys.stderr)
        return 2
    return run_module(MODULES[verb], rest)


if __name__ == "__main__":
    sys.exit(main())
