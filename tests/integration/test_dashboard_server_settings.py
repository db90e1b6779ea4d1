"""The dashboard on a shared machine: the data path is the server's, and uploads stay in memory."""

from __future__ import annotations

import builtins
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from dashboard.server_settings import effective_data_path, path_edit_allowed, warm_up_wanted  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
DATA_PAGE = "dashboard/pages/data_page.py"


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def _sidebar_text(at: AppTest) -> str:
    return " ".join(c.value for c in at.sidebar.caption)


def _page_text(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.caption, *at.warning, *at.info])


@pytest.fixture
def served(trained_zoo, synthetic_zip, monkeypatch):
    """A dashboard whose server set CIFAKE_PATH and nothing else."""
    monkeypatch.setenv("MODEL_ZOO_DIR", str(trained_zoo))
    monkeypatch.setenv("CIFAKE_PATH", str(synthetic_zip))
    monkeypatch.delenv("CIFAKE_ALLOW_PATH_EDIT", raising=False)
    return synthetic_zip


@pytest.mark.parametrize(("value", "allowed"), [("1", True), ("true", True), ("YES", True), ("0", False),
                                                ("", False), ("no", False)])
def test_only_an_explicit_yes_lets_visitors_edit(value, allowed):
    env = {"CIFAKE_PATH": "/srv/cifake.zip", "CIFAKE_ALLOW_PATH_EDIT": value}
    assert path_edit_allowed(env) is allowed
    assert effective_data_path("/etc", env) == ("/etc" if allowed else "/srv/cifake.zip")


@pytest.mark.parametrize(("value", "wanted"), [("0", False), ("off", False), (" No ", False), ("", True), ("1", True),
                                              ("later", True)])
def test_the_warm_up_is_on_unless_the_server_says_no(value, wanted):
    assert warm_up_wanted({"CIFAKE_WARM_UP": value}) is wanted
    assert warm_up_wanted({}) is True


def test_a_visitor_cannot_change_the_data_path(served, tmp_path):
    at = _app(DATA_PAGE)
    assert not at.exception
    assert not [w for w in at.text_input if w.key == "cifake_path"]  # no field to type a path into
    assert f"Dataset: `{served}`" in _sidebar_text(at)
    assert f"CIFAKE at `{Path(served).resolve()}`" in _page_text(at)
    # Even a session state forged to hold another path (say a crafted widget message) is ignored.
    elsewhere = tmp_path / "not-the-servers.zip"
    at.session_state["cifake_path"] = str(elsewhere)
    at.run()
    assert not at.exception
    assert str(elsewhere) not in _page_text(at) + _sidebar_text(at)
    assert f"CIFAKE at `{Path(served).resolve()}`" in _page_text(at)
    assert not elsewhere.exists()


def test_without_a_configured_path_the_sidebar_says_so(trained_zoo, monkeypatch):
    monkeypatch.setenv("MODEL_ZOO_DIR", str(trained_zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    monkeypatch.delenv("CIFAKE_ALLOW_PATH_EDIT", raising=False)
    at = _app(DATA_PAGE)
    assert not at.exception
    assert "Dataset: none configured" in _sidebar_text(at)
    assert any("make run CIFAKE_PATH=" in i.value for i in at.info)


def test_the_server_can_let_visitors_edit_the_path(served, tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAKE_ALLOW_PATH_EDIT", "1")
    at = _app(DATA_PAGE)
    [field] = [w for w in at.text_input if w.key == "cifake_path"]
    assert field.value == str(served)  # starts at the server's path
    missing = tmp_path / "typo.zip"
    field.set_value(str(missing)).run()
    assert not at.exception
    assert any(str(missing) in w.value and "does not exist" in w.value for w in at.warning)


def _png(size=(640, 480), seed=3) -> bytes:
    array = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def test_an_upload_is_never_written_to_disk(served, tmp_path, monkeypatch):
    """The inspect page judges and explains an upload from memory: no file is opened for writing meanwhile."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    at = _app("dashboard/pages/inspect_image_page.py")
    at.file_uploader(key="inspect_uploads").upload("warm.png", _png(seed=1), "image/png").run()  # load models first
    assert not at.exception

    writes: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def watched_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            writes.append(f"open({file!r}, {mode!r})")
        return real_open(file, mode, *args, **kwargs)

    def watched_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            writes.append(f"os.open({path!r})")
        return real_os_open(path, flags, *args, **kwargs)

    before = _files_under(scratch) | _files_under(Path(served).parent)
    monkeypatch.setattr(builtins, "open", watched_open)
    monkeypatch.setattr(io, "open", watched_open)
    monkeypatch.setattr(os, "open", watched_os_open)
    try:
        at.file_uploader(key="inspect_uploads").upload("secret.png", _png(seed=2), "image/png").run()
        at.radio(key="inspect_method").set_value("Grad-CAM++").run()
    finally:
        monkeypatch.undo()
    assert not at.exception, [e.value for e in at.exception]
    assert any("secret.png" in c for image in at.image for c in image.captions)  # it was judged and explained
    assert writes == []
    assert _files_under(scratch) | _files_under(Path(served).parent) == before
