"""dashboard.launch: `make run` starts Streamlit on the app with the inspect page's warm-up already under way."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_warm_up_begins_at_launch_and_the_app_finds_it_running(trained_zoo, monkeypatch):
    from dashboard import launch
    from dashboard.views import resources

    monkeypatch.setenv("MODEL_ZOO_DIR", str(trained_zoo))
    monkeypatch.setenv("CIFAKE_WARM_UP", "1")
    resources.start_warm_up.clear()  # one warm-up per process and zoo: another test may have run this zoo's already
    starter = launch.warm_up_at_launch()
    starter.join(timeout=120)
    assert not starter.is_alive()
    warm_up = resources.start_warm_up(str(trained_zoo))  # what streamlit_app.py calls on the first page
    assert warm_up.name == resources.WARM_UP_THREAD and warm_up.ident is not None  # started at launch, not now
    assert resources.start_warm_up(str(trained_zoo)) is warm_up  # one warm-up per process
    warm_up.join(timeout=300)  # let it finish here, so it does not run on during the next tests
    assert not warm_up.is_alive()


def test_the_launcher_runs_streamlit_on_the_app_with_the_given_options(monkeypatch):
    from streamlit.web import cli

    from dashboard import launch

    seen: list[list[str]] = []
    monkeypatch.setattr(cli, "main", lambda: seen.append(list(sys.argv)))
    before = {t.name for t in threading.enumerate()}
    assert launch.main(["--server.port", "8599"]) == 0  # CIFAKE_WARM_UP=0 here (tests/conftest.py)
    assert seen == [["streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port", "8599"]]
    assert "warm-up-at-launch" not in {t.name for t in threading.enumerate()} - before
