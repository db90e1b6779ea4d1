"""The API's upload page at `/`: Flask's test client for the content, and a real Chromium for the form."""

from __future__ import annotations

import base64
import html
import io
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape
from PIL import Image

from tests.hostile import build_corpus

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENS = Path("/tmp/dashboard_screens")


@pytest.fixture(scope="module")
def photo() -> bytes:
    """A generated FAKE-style tile, enlarged like a photo and saved as JPEG."""
    from training.lib.synthetic import synthetic_image

    tile = synthetic_image(np.random.default_rng(5), fake=True)
    buffer = io.BytesIO()
    Image.fromarray(tile).resize((320, 240), Image.NEAREST).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def _submit(client, data: bytes, name: str = "photo.jpg", path: str = "/"):
    return client.post(path, data={"image": (io.BytesIO(data), name)})


def _data_uri_png(page: str, element_id: str) -> np.ndarray:
    match = re.search(rf'id="{element_id}"[^>]*src="data:image/png;base64,([^"]+)"', page)
    assert match, f"no <img id={element_id}> with a PNG data URI"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(match.group(1)))))


def _rows(page: str) -> dict[str, list[str]]:
    """model -> [verdict, P(FAKE), threshold] from the verdict table."""
    table = page.split('<table id="verdicts">')[1].split("</table>")[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]:
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        rows[cells[0].replace(" (best)", "")] = cells[1:] + (["best"] if "(best)" in cells[0] else [])
    return rows


def test_the_page_is_a_plain_upload_form(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<form method="post" action="/" enctype="multipart/form-data">' in page
    assert '<input type="file" id="image" name="image"' in page
    assert "<script" not in page  # no JavaScript at all
    assert 'id="result"' not in page and 'id="error"' not in page


def test_submitting_shows_the_image_every_verdict_and_the_best_models_gradcam(app, client, photo, trained_zoo):
    from dashboard.overlays import overlay
    from model_zoo import decode_for_card
    from model_zoo.saliency import explanation_map

    response = _submit(client, photo)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    expected = _submit(client, photo, path="/predict").get_json()  # the JSON API on the same file
    rows = _rows(page)
    assert list(rows) == [v["model"] for v in expected["verdicts"]] == ["cnn_maxpool", "cnn_strided"]
    for verdict in expected["verdicts"]:
        shown = rows[verdict["model"]]
        assert shown[0] == verdict.get("decision", verdict["label"])
        assert shown[1] == f"{verdict['prob_fake']:.4f}" and shown[2] == f"{verdict['threshold']:.3f}"
    # The best model is the leaderboard's top row among the served ones (cnn_strided in the session zoo or not).
    from model_zoo import all_best_first, list_entries

    best = all_best_first(list_entries(trained_zoo)[0])[0].name
    assert rows[best][-1] == "best" and sum(r[-1] == "best" for r in rows.values()) == 1
    upload = _data_uri_png(page, "upload")
    assert max(upload.shape[:2]) == 256 and upload.shape[1] > upload.shape[0]  # 320x240 shown at 256x192
    assert "320x240 pixels" in page
    # The overlay is Grad-CAM of the best model for the verdict it gave, over the 32x32 image it sees.
    served = app.extensions["zoo_models"][best]
    label = next(v["label"] for v in expected["verdicts"] if v["model"] == best)
    seen = decode_for_card(photo, served.entry.card)
    heatmap = explanation_map(served.model, served.entry.card, seen, method="Grad-CAM", target=label)
    assert np.array_equal(_data_uri_png(page, "gradcam"), overlay(seen, heatmap))
    assert f"evidence for\n      {label}" in page or f"evidence for {label}" in page


@pytest.mark.parametrize("kind", ["no_file", "not_image", "too_big", "script_name"])
def test_bad_files_get_the_json_apis_message_and_status(app, client, photo, kind):
    if kind == "no_file":
        page, api = (client.post(p, data={"file": (io.BytesIO(photo), "a.jpg")}) for p in ("/", "/predict"))
    elif kind == "not_image":
        page, api = (_submit(client, b"<html>hello</html>", "page.jpg", p) for p in ("/", "/predict"))
    elif kind == "script_name":
        page, api = (_submit(client, b"GIF89a broken", "<script>alert(1)</script>.gif", p) for p in ("/", "/predict"))
    else:
        limit = app.config["MAX_CONTENT_LENGTH"]
        app.config["MAX_CONTENT_LENGTH"] = 2000
        try:
            page, api = (_submit(client, photo + b"\0" * 5000, "big.jpg", p) for p in ("/", "/predict"))
        finally:
            app.config["MAX_CONTENT_LENGTH"] = limit
    assert page.status_code == api.status_code >= 400
    text = page.get_data(as_text=True)
    assert page.mimetype == "text/html" and 'id="error"' in text and 'id="result"' not in text
    assert str(escape(api.get_json()["error"])) in text  # the same words, HTML-escaped
    assert "<script>alert" not in text  # a hostile file name is shown, escaped, never run


def test_every_hostile_file_gets_the_apis_answer(client):
    for case in build_corpus():
        page = _submit(client, case.data, case.name)
        api = _submit(client, case.data, case.name, path="/predict")
        assert page.status_code == api.status_code, case.name
        text = page.get_data(as_text=True)
        if case.ok:
            assert page.status_code == 200 and 'id="verdicts"' in text, case.name
        else:
            assert case.message in html.unescape(text) and str(escape(api.get_json()["error"])) in text


# --- a real browser -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"{CHROMIUM} is not installed")
def test_upload_in_chromium(base_url, photo, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    upload = tmp_path / "photo.jpg"
    upload.write_bytes(photo)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(f"{base_url}/")
            page.set_input_files("input[name=image]", str(upload))
            page.click("button[type=submit]")
            page.wait_for_selector("#verdicts", timeout=60_000)
            assert page.locator("#verdicts tbody tr").count() == 2
            assert page.locator("#verdicts td.FAKE, #verdicts td.REAL, #verdicts td.UNCERTAIN").count() == 2
            for image_id in ("upload", "gradcam"):  # the browser decoded both images
                assert page.eval_on_selector(f"#{image_id}", "img => img.naturalWidth") > 0
            _screenshot(page, tmp_path / "api_upload_page.png")

            page.set_input_files("input[name=image]", str(broken))  # the form is still there on the result page
            page.click("button[type=submit]")
            page.wait_for_selector("#error", timeout=60_000)
            assert "broken.png" in page.inner_text("#error") and page.locator("#verdicts").count() == 0
            _screenshot(page, tmp_path / "api_upload_page_error.png")
        finally:
            browser.close()


def _screenshot(page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000
    try:
        SCREENS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENS / path.name)
    except OSError:
        pass
