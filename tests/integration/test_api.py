"""The JSON prediction API through Flask's test client (and once over real HTTP on 127.0.0.1)."""

from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from model_zoo import decode_for_card, load_model, predict_prob_fake, read_entry
from model_zoo.decision import label_name, threshold


@pytest.fixture(scope="module")
def image_file(synthetic_folder) -> Path:
    return sorted((synthetic_folder / "test" / "FAKE").iterdir())[0]


def _post(client, data: bytes, name: str = "photo.jpg", **form):
    return client.post("/predict", data={"image": (io.BytesIO(data), name), **form})


def test_health_and_models_describe_the_zoo(client):
    health = client.get("/health")
    assert health.status_code == 200
    assert health.get_json() == {"status": "ok", "models": ["cnn_maxpool", "cnn_strided"], "skipped": 0}
    body = client.get("/models").get_json()
    assert [m["name"] for m in body["models"]] == ["cnn_maxpool", "cnn_strided"]
    first = body["models"][0]
    assert first["input_shape"] == [32, 32, 3] and first["params"] > 0
    assert {"accuracy", "roc_auc"} <= set(first["metrics"]["test"]) and "confusion_matrix" not in first["metrics"]["test"]
    assert body["skipped"] == []


def test_predict_returns_a_verdict_per_model_matching_the_cli_path(client, image_file, trained_zoo):
    data = image_file.read_bytes()
    response = _post(client, data)
    assert response.status_code == 200
    body = response.get_json()
    assert body["filename"] == "photo.jpg" and body["bytes"] == len(data)
    assert [v["model"] for v in body["verdicts"]] == ["cnn_maxpool", "cnn_strided"]
    for verdict in body["verdicts"]:
        entry = read_entry(verdict["model"], trained_zoo)
        expected = predict_prob_fake(load_model(entry), decode_for_card(image_file, entry.card)[None], entry.card)[0]
        assert verdict["prob_fake"] == pytest.approx(float(expected), abs=1e-5)
        assert verdict["label"] == label_name(float(expected), entry.card)  # at the model's own threshold
        assert verdict["threshold"] == threshold(entry.card)
        assert {p["label"] for p in verdict["predictions"]} == {"REAL", "FAKE"}
        assert sum(p["score"] for p in verdict["predictions"]) == pytest.approx(1.0, abs=1e-5)


def test_predict_with_one_model(client, image_file):
    body = _post(client, image_file.read_bytes(), model="cnn_strided").get_json()
    assert [v["model"] for v in body["verdicts"]] == ["cnn_strided"]


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("no_field", 400, "multipart/form-data field 'image'"),
        ("unknown_model", 404, "no model named 'resnet9000'"),
        ("not_image", 422, "not an image"),
        ("wrong_method", 405, "not allowed"),
        ("unknown_route", 404, "not found"),
    ],
)
def test_bad_requests_get_specific_json_errors(client, image_file, kind, status, message):
    if kind == "no_field":
        response = client.post("/predict", data={"file": (io.BytesIO(image_file.read_bytes()), "a.jpg")})
    elif kind == "unknown_model":
        response = _post(client, image_file.read_bytes(), model="resnet9000")
    elif kind == "not_image":
        response = _post(client, b"<html>hello</html>", "page.jpg")
    elif kind == "wrong_method":
        response = client.get("/predict")
    else:
        response = client.get("/nothing-here")
    assert response.status_code == status
    assert response.is_json and message in response.get_json()["error"]


def test_upload_over_the_byte_limit_is_413_json(app, client, image_file):
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 2000
    try:
        response = _post(client, b"\xff" * 5000)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413
    assert "2,000 bytes" in response.get_json()["error"]


def test_unexpected_decoder_failure_is_a_422_not_a_500(client, image_file, monkeypatch):
    import model_zoo.judge as judging

    def explode(*args, **kwargs):
        raise RuntimeError("decoder surprise")

    monkeypatch.setattr(judging, "decode_for_card", explode)
    response = _post(client, image_file.read_bytes())
    assert response.status_code == 422 and "could not decode" in response.get_json()["error"]


def test_concurrent_requests_get_consistent_answers(client, image_file):
    data = image_file.read_bytes()

    def ask(_):
        response = _post(client, data)
        return response.status_code, [v["prob_fake"] for v in response.get_json()["verdicts"]]

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(ask, range(24)))
    assert {status for status, _ in answers} == {200}
    assert len({tuple(probs) for _, probs in answers}) == 1


def test_empty_zoo_reports_503_not_a_crash(tmp_path, image_file):
    from dashboard.server.api import create_app

    client = create_app(tmp_path / "empty").test_client()
    assert client.get("/health").status_code == 503
    response = _post(client, image_file.read_bytes())
    assert response.status_code == 503 and "no usable models" in response.get_json()["error"]


def test_serves_real_http_on_loopback(app, image_file):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
            assert json.load(response)["status"] == "ok"
        boundary = "testboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + image_file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(f"{base}/predict", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert len(json.load(response)["verdicts"]) == 2
        bad = urllib.request.Request(f"{base}/predict", data=b"", method="POST")
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(bad, timeout=10)
        assert error.value.code == 400 and "error" in json.load(error.value)
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _png(pixels) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_each_verdict_carries_decision_input_check_and_version(client, image_file, trained_zoo):
    import hashlib

    import numpy as np

    from model_zoo.decision import decide

    body = _post(client, image_file.read_bytes()).get_json()
    for verdict in body["verdicts"]:
        entry = read_entry(verdict["model"], trained_zoo)
        assert verdict["decision"] == decide(verdict["prob_fake"], entry.card)
        assert verdict["uncertain_band"] == entry.card.to_dict()["decision"]["uncertain_band"]
        assert verdict["calibrated"] is True
        digest = hashlib.sha256((trained_zoo / verdict["model"] / "model.keras").read_bytes()).hexdigest()
        assert verdict["model_version"] == f"{entry.card.to_dict()['created']}@{digest[:12]}"
        assert 0 < verdict["inference_time_ms"] < 10_000
        check = verdict["input_check"]
        assert (check["width"], check["height"], check["resampled"]) == (32, 32, False)
        assert verdict["novelty_cutoff"] == entry.card.to_dict()["novelty"]["cutoff"] and verdict["novelty"] >= 0
        assert verdict["in_distribution"] is (verdict["novelty"] <= verdict["novelty_cutoff"])

    # The synthetic FAKE cue at full contrast: unlike anything the test zoo trained on (tests/integration/test_abstain.py).
    unlike = ((np.add.outer(np.arange(32), np.arange(32)) % 2) * 255).astype(np.uint8)
    for verdict in _post(client, _png(np.stack([unlike] * 3, axis=2)), "unlike.png").get_json()["verdicts"]:
        assert verdict["in_distribution"] is False and verdict["novelty"] > verdict["novelty_cutoff"]
        assert "looks unlike its training images" in verdict["input_check"]["messages"][0]

    big = np.full((480, 640, 3), 128, np.uint8)
    for verdict in _post(client, _png(big), "big.png").get_json()["verdicts"]:
        assert verdict["in_distribution"] is False and verdict["input_check"]["shrink_factor"] == 20.0
        assert "640x480 image was shrunk 20x to 32x32" in verdict["input_check"]["messages"][0]


def test_models_lists_band_cutoff_and_version(client, trained_zoo):
    first = client.get("/models").get_json()["models"][0]
    card = read_entry(first["name"], trained_zoo).card.to_dict()
    assert first["uncertain_band"] == card["decision"]["uncertain_band"]
    assert first["novelty_cutoff"] == card["novelty"]["cutoff"]
    assert first["model_version"].startswith(card["created"] + "@")


def test_an_old_entry_without_band_or_novelty_is_served(trained_zoo, tmp_path, image_file):
    from dashboard.server.api import create_app
    from model_zoo.novelty import NOVELTY_FILE
    from tests.zoo_builders import copy_zoo

    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    for folder in (zoo / "cnn_maxpool", zoo / "cnn_strided"):
        card = json.loads((folder / "card.json").read_text())
        card.pop("novelty")
        card["decision"] = {k: v for k, v in card["decision"].items() if not k.startswith(("band", "uncertain"))}
        (folder / "card.json").write_text(json.dumps(card))
        (folder / NOVELTY_FILE).unlink()
    response = _post(create_app(zoo).test_client(), image_file.read_bytes())
    assert response.status_code == 200
    for verdict in response.get_json()["verdicts"]:
        assert verdict["decision"] == verdict["label"] and verdict["uncertain_band"] == [verdict["threshold"]] * 2
        assert verdict["novelty"] is None and verdict["in_distribution"] is None
