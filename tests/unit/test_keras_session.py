"""dashboard.keras_session: Streamlit's after-run clean-up no longer clears Keras (and TensorFlow's compiled kernels)."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("streamlit")

from streamlit.runtime.scriptrunner import script_runner  # noqa: E402

from dashboard.keras_session import keep_compiled_functions  # noqa: E402


@pytest.fixture
def streamlit_cleanup(monkeypatch):
    """Whatever after-run clean-up is in place, put back after the test."""
    monkeypatch.setattr(script_runner, "_clean_problem_modules", script_runner._clean_problem_modules)


def _next_dense_name() -> str:
    return keras.layers.Dense(1).name  # Keras numbers its names until its session is cleared


def test_streamlit_alone_clears_the_keras_session(streamlit_cleanup):
    # Streamlit's own, even where an app opened earlier in this process replaced it
    streamlits_own = getattr(script_runner._clean_problem_modules, "replaced", script_runner._clean_problem_modules)
    _next_dense_name()
    streamlits_own()
    assert _next_dense_name() == "dense"  # the session was cleared: why every rerun recompiled


def test_after_the_replacement_a_rerun_keeps_keras_and_still_closes_figures(streamlit_cleanup, monkeypatch):
    closed = []
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", SimpleNamespace(close=closed.append))
    assert keep_compiled_functions() is True
    first = _next_dense_name()
    script_runner._clean_problem_modules()
    assert _next_dense_name() not in {"dense", first}  # numbering went on: the session was kept
    assert closed == ["all"]  # matplotlib's figures are still closed after each run, as Streamlit does
    assert keep_compiled_functions() is True  # twice is harmless


def test_the_app_installs_the_replacement_on_its_first_run(streamlit_cleanup, tmp_path, monkeypatch):
    from tests.dashboard_app import open_dashboard

    streamlits_own = getattr(script_runner._clean_problem_modules, "replaced", script_runner._clean_problem_modules)
    monkeypatch.setattr(script_runner, "_clean_problem_modules", streamlits_own)  # as before any app ran here
    at = open_dashboard(tmp_path, monkeypatch)  # an empty zoo: the app still starts
    assert not at.exception
    assert getattr(script_runner._clean_problem_modules, "keeps_keras", False)
