"""The dashboard in a real browser: `streamlit run` on a free local port, headless Chromium via Playwright.

Skips when /usr/bin/chromium (or the playwright package) is missing; `.ci/run` installs Chromium.
Screenshots go to the test's tmp dir and are copied to /tmp/dashboard_screens/ for people to look at.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.servers import streamlit_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
SCREENS = Path("/tmp/dashboard_screens")
PAGES = ("", "model", "errors", "data", "studies", "about_the_zoo")  # url paths ("" = default page)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"{CHROMIUM} is not installed")


@pytest.fixture(scope="module")
def server(trained_zoo, synthetic_zip, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("streamlit")
    env = {**os.environ, "MODEL_ZOO_DIR": str(trained_zoo), "CIFAKE_PATH": str(synthetic_zip),
           "CIFAKE_CACHE_DIR": str(tmp_path / "cache")}
    with (tmp_path / "streamlit.log").open("w") as log, streamlit_server(env, log, timeout=90) as url:
        yield url


def _settle(page) -> None:
    """Wait until Streamlit has finished running the page script."""
    page.wait_for_selector("[data-testid=stApp]", timeout=60_000)
    time.sleep(0.5)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=120_000)
    time.sleep(0.8)


def _screenshot(page, path: Path) -> None:
    """Full-height screenshot: Streamlit scrolls inside its main container, so grow the viewport to fit it."""
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]'); return m ? m.scrollHeight : 0 }")
    page.set_viewport_size({"width": 1400, "height": min(max(900, height + 40), 6000)})
    time.sleep(0.5)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 900})
    try:
        SCREENS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENS / path.name)
    except OSError:
        pass


@contextlib.contextmanager
def _browser_page(url: str):
    """A headless Chromium tab (1400x900) on `url`, settled; the browser is closed afterwards."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            _settle(page)
            yield page
        finally:
            browser.close()


@pytest.fixture
def inspect_page(server):
    """A headless Chromium tab on the inspect page, settled and ready for an upload."""
    with _browser_page(f"{server}/inspect_image") as page:
        yield page


def test_upload_shows_heatmaps_in_a_real_browser(server, inspect_page, tmp_path):
    from training.lib.synthetic import synthetic_image

    upload = tmp_path / "upload.jpg"  # a generated "FAKE"-style image, upscaled like a photo
    tile = synthetic_image(np.random.default_rng(3), fake=True)
    Image.fromarray(tile).resize((640, 480), Image.NEAREST).save(upload, quality=92)

    page = inspect_page
    assert page.get_by_text("trained on").count() >= 1
    page.set_input_files("[data-testid=stFileUploaderDropzoneInput]", str(upload))
    page.get_by_text("Grad-CAM for", exact=False).first.wait_for(timeout=120_000)
    _settle(page)
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_text("sees 32x32", exact=False).count() >= 1
    shot = tmp_path / "dashboard_inspect_upload.png"
    _screenshot(page, shot)
    assert shot.stat().st_size > 10_000

    for url_path in PAGES:  # every page renders in the browser without an exception box
        page.goto(f"{server}/{url_path}")
        _settle(page)
        assert page.locator("[data-testid=stException]").count() == 0, url_path
        _screenshot(page, tmp_path / f"dashboard_{url_path or 'leaderboard'}.png")


def test_bad_upload_is_a_message_not_a_traceback(inspect_page, tmp_path):
    bad = tmp_path / "broken.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, format="PNG")
    bad.write_bytes(buffer.getvalue()[:100])
    inspect_page.set_input_files("[data-testid=stFileUploaderDropzoneInput]", str(bad))
    inspect_page.get_by_text("Cannot use this file", exact=False).first.wait_for(timeout=60_000)
    assert inspect_page.locator("[data-testid=stException]").count() == 0
    _screenshot(inspect_page, tmp_path / "dashboard_inspect_bad_upload.png")


@pytest.fixture(scope="module")
def mapped_server(trained_zoo, synthetic_zip, tmp_path_factory):
    """The dashboard over the trained zoo with planted errors and every entry's map (python -m training.error_map)."""
    from tests.zoo_builders import copy_zoo, with_known_errors
    from training.error_map import main

    tmp_path = tmp_path_factory.mktemp("mapped_streamlit")
    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    for name in ("cnn_maxpool", "cnn_strided"):
        with_known_errors(zoo / name, 30)
    assert main(["all", "--data", str(synthetic_zip), "--zoo", str(zoo)]) == 0
    env = {**os.environ, "MODEL_ZOO_DIR": str(zoo), "CIFAKE_PATH": str(synthetic_zip),
           "CIFAKE_CACHE_DIR": str(tmp_path / "cache")}
    with (tmp_path / "streamlit.log").open("w") as log, streamlit_server(env, log, timeout=90) as url:
        yield url


def test_a_lasso_on_the_errors_map_shows_its_images(mapped_server, tmp_path):
    with _browser_page(f"{mapped_server}/errors") as page:
        assert page.locator("[data-testid=stException]").count() == 0
        plot = page.locator(".js-plotly-plot .nsewdrag").first
        plot.wait_for(timeout=60_000)
        plot.scroll_into_view_if_needed()
        assert page.locator(".js-plotly-plot .scatterlayer, .js-plotly-plot canvas").count() >= 1
        assert page.get_by_text("Cluster 1 holds", exact=False).count() >= 1
        _screenshot(page, tmp_path / "dashboard_errors_map.png")
        before = page.get_by_role("button", name="Heatmaps").count()  # the grid's own
        page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
        plot.scroll_into_view_if_needed()
        time.sleep(0.5)
        box = plot.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 900, box  # wholly in view: the mouse reaches it
        # A lasso (the map's default tool) around the whole plot area: every point is inside it.
        corners = [(0.02, 0.02), (0.98, 0.02), (0.98, 0.98), (0.02, 0.98), (0.02, 0.03)]
        page.mouse.move(box["x"] + box["width"] * corners[0][0], box["y"] + box["height"] * corners[0][1])
        page.mouse.down()
        for fx, fy in corners[1:]:
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=25)
        page.mouse.up()
        page.get_by_text("images selected", exact=False).first.wait_for(timeout=120_000)
        _settle(page)
        assert page.locator("[data-testid=stException]").count() == 0
        assert page.get_by_text("80 images selected", exact=False).count() >= 1
        # the selection's first 24 thumbnails, each with its heatmaps button, above the grid's
        assert page.get_by_role("button", name="Heatmaps").count() == before + 24
        # ... and its link to the inspect page, which names the image in the address and judges it there
        links = page.get_by_role("link", name="Inspect", exact=True)
        assert links.count() == page.get_by_role("button", name="Heatmaps").count()
        href = links.first.get_attribute("href")
        assert href.startswith("inspect_image?test_image=test%2F"), href
        _screenshot(page, tmp_path / "dashboard_errors_map_selection.png")
