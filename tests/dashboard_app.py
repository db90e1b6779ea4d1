"""The dashboard over a test zoo, through Streamlit's AppTest (no CIFAKE configured: tests/conftest.py unsets it)."""

from __future__ import annotations

from pathlib import Path

import pytest

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
TIMEOUT = 120  # seconds a page may take: AppTest's default of 3 is far too short for TensorFlow pages


def open_dashboard(zoo: Path, monkeypatch, page: str | None = None):
    """AppTest of the app over `zoo`, run once, then switched to dashboard/pages/<page>_page.py when a page is given."""
    streamlit_testing = pytest.importorskip("streamlit.testing.v1")
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    at = streamlit_testing.AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if page is not None:
        at.switch_page(f"dashboard/pages/{page}_page.py").run()
    return at
