"""`python -m dashboard.launch [STREAMLIT OPTIONS]`: the dashboard, with the inspect page's warm-up begun at launch.

Plain `streamlit run streamlit_app.py` runs the app only when the first visitor opens a page, so the warm-up
(dashboard.warm_start: load the models, compile their judging, evidence tests and heatmaps) began about 5 s after
launch, and a first upload made as soon as the page was ready waited for it. Here it begins beside the server's own
start-up, in the same process: the app's own call (streamlit_app.py) finds it already running, through the same
cached start_warm_up. `make run` and `cifake dashboard` start the dashboard this way; CIFAKE_WARM_UP=0 turns the
warm-up off (dashboard.server_settings).
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from dashboard.server_settings import warm_up_wanted

APP = Path(__file__).resolve().parents[1] / "streamlit_app.py"


def _start_warm_up() -> None:
    from dashboard.views.resources import start_warm_up
    from model_zoo import list_entries, zoo_dir

    zoo = str(zoo_dir())
    entries, _ = list_entries(zoo)
    if entries:  # as the app does: an empty zoo has nothing to warm
        start_warm_up(zoo)


def warm_up_at_launch() -> threading.Thread | None:
    """Begin the warm-up in the background (its imports included), unless the server turned it off."""
    if not warm_up_wanted():
        return None
    thread = threading.Thread(target=_start_warm_up, name="warm-up-at-launch", daemon=True)
    thread.start()
    return thread


def _say_warm_up_progress() -> None:
    """The warm-up's one-line reports ("warm-up: loaded and compiled 8 models in 5.1 s", ...) on stderr, beside Streamlit's."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log = logging.getLogger("dashboard.warm_up")
    log.addHandler(handler)
    log.setLevel(logging.INFO)


USAGE = """usage: python -m dashboard.launch [STREAMLIT OPTIONS]

The dashboard (streamlit_app.py) under `streamlit run`, with the inspect page's warm-up begun at launch, as `make run`
and `cifake dashboard` start it. Every option goes to `streamlit run` (see `streamlit run --help`), for example
--server.port 8502 or --server.address 0.0.0.0. CIFAKE_WARM_UP=0 turns the warm-up off."""


def main(argv: list[str] | None = None) -> int:
    """`streamlit run streamlit_app.py` with these options, after starting the warm-up; Streamlit's exit status."""
    options = sys.argv[1:] if argv is None else list(argv)
    if options[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    _say_warm_up_progress()
    warm_up_at_launch()
    from streamlit.web import cli  # after the thread starts: both import in parallel

    sys.argv = ["streamlit", "run", str(APP), *options]
    try:
        cli.main()
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
