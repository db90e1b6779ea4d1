"""The API served to a team: token, bounded queue (503 + Retry-After), access log, /metrics, waitress."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dashboard.server.serving import ServingSettings, make_server

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def image_bytes(synthetic_folder) -> bytes:
    return sorted((synthetic_folder / "test" / "FAKE").iterdir())[0].read_bytes()


def _app(zoo: Path, **settings):
    from dashboard.server.api import create_app

    return create_app(zoo, serving_settings=ServingSettings(**settings))


def _post(client, data: bytes, headers: dict | None = None, **form):
    return client.post("/predict", data={"image": (io.BytesIO(data), "photo.jpg"), **form}, headers=headers or {})


def _sample(metrics_text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text (0 when the series does not exist yet)."""
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def _until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the server state"
        time.sleep(0.01)


# --- settings -----------------------------------------------------------------------------------------------

def test_settings_come_from_the_environment_and_bad_values_are_named():
    settings = ServingSettings.from_env({"CIFAKE_API_TOKEN": " abc ", "CIFAKE_API_WORKERS": "3", "CIFAKE_API_QUEUE": "0"})
    assert (settings.token, settings.workers, settings.queue) == ("abc", 3, 0)
    assert settings.threads == 3 + 0 + 4
    assert ServingSettings.from_env({}).token is None
    with pytest.raises(ValueError, match="CIFAKE_API_WORKERS='many'"):
        ServingSettings.from_env({"CIFAKE_API_WORKERS": "many"})
    with pytest.raises(ValueError, match="CIFAKE_API_WORKERS=0 must be at least 1"):
        ServingSettings.from_env({"CIFAKE_API_WORKERS": "0"})


# --- token ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def token_client(trained_zoo):
    return _app(trained_zoo, token=TOKEN, access_log=io.StringIO()).test_client()


@pytest.mark.parametrize("path", ["/models", "/metrics", "/"])
def test_without_the_token_every_route_but_health_is_401(token_client, path):
    response = token_client.get(path)
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.get_json()["error"]
    challenges = response.headers.getlist("WWW-Authenticate")
    assert any(c.startswith("Bearer") for c in challenges) and any(c.startswith("Basic") for c in challenges)


def test_a_wrong_token_is_401_and_predict_needs_it_too(token_client, image_bytes):
    assert token_client.get("/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert token_client.get("/models", headers={"Authorization": TOKEN}).status_code == 401  # no scheme
    assert _post(token_client, image_bytes).status_code == 401
    assert _post(token_client, image_bytes, {"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_token_opens_every_route_and_health_stays_open(token_client):
    assert token_client.get("/health").status_code == 200  # load balancers and probes carry no token
    assert token_client.get("/models", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert token_client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()  # what a browser sends after its password prompt
    assert token_client.get("/models", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    wrong = base64.b64encode(b"anyone:guess").decode()
    assert token_client.get("/models", headers={"Authorization": f"Basic {wrong}"}).status_code == 401


# --- bounded work -------------------------------------------------------------------------------------------

def test_a_full_queue_answers_503_with_retry_after_and_the_rest_complete(trained_zoo, image_bytes, monkeypatch):
    import model_zoo.judge as judging

    app = _app(trained_zoo, workers=1, queue=1, retry_after=3, access_log=io.StringIO())
    gate, client = app.extensions["serving"].gate, app.test_client()
    release = threading.Event()
    real_decode = judging.decode_for_card

    def slow_decode(*args, **kwargs):
        release.wait(60)  # holds the only worker until the test lets go
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(judging, "decode_for_card", slow_decode)
    answers: list[int] = []
    first = threading.Thread(target=lambda: answers.append(_post(client, image_bytes).status_code))
    first.start()
    _until(lambda: gate.working == 1)
    second = threading.Thread(target=lambda: answers.append(_post(client, image_bytes).status_code))
    second.start()
    _until(lambda: gate.waiting == 1)
    try:
        busy = _post(client, image_bytes)  # one worker busy, one waiting: no room
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "3"
        assert "busy" in busy.get_json()["error"]
        assert client.get("/health").status_code == 200  # GETs are not gated
        metrics = client.get("/metrics").get_data(as_text=True)
        assert _sample(metrics, "cifake_api_queue_depth") == 1 and _sample(metrics, "cifake_api_workers_busy") == 1
    finally:
        release.set()
        first.join(60)
        second.join(60)
    assert answers == [200, 200]
    assert (gate.admitted, gate.working) == (0, 0)
    assert _post(client, image_bytes).status_code == 200  # room again once they are done
    metrics = client.get("/metrics").get_data(as_text=True)
    assert _sample(metrics, "cifake_api_requests_total", route="/predict", status="503") == 1


# --- metrics and access log ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def logged(trained_zoo):
    log = io.StringIO()
    return _app(trained_zoo, access_log=log), log


def test_metrics_count_a_request_and_its_latency(logged, image_bytes):
    app, _ = logged
    client = app.test_client()
    before = client.get("/metrics").get_data(as_text=True)
    assert _post(client, image_bytes).status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    after = response.get_data(as_text=True)
    ok = {"route": "/predict", "status": "200"}
    assert _sample(after, "cifake_api_requests_total", **ok) == _sample(before, "cifake_api_requests_total", **ok) + 1
    count = "cifake_api_request_duration_seconds_count"
    assert _sample(after, count, route="/predict") == _sample(before, count, route="/predict") + 1
    assert _sample(after, "cifake_api_models_loaded") == 2
    client.get("/no/such/route/4711")
    later = client.get("/metrics").get_data(as_text=True)
    assert _sample(later, "cifake_api_requests_total", route="other", status="404") >= 1
    assert "/no/such/route/4711" not in later  # unknown paths share one label value


def test_each_request_is_one_json_log_line(logged, image_bytes):
    app, log = logged
    client = app.test_client()
    log.truncate(0)
    log.seek(0)
    response = _post(client, image_bytes, {"X-Request-ID": "scan-42"}, model="cnn_strided")
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "scan-42"
    bad = _post(client, b"not an image at all", {"X-Request-ID": "<script>evil id</script>"})
    assert bad.status_code == 422
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["id"] == "scan-42" and first["model"] == "cnn_strided" and first["status"] == 200
    assert first["method"] == "POST" and first["path"] == "/predict"
    assert first["bytes"] > len(image_bytes)  # the multipart body: the image plus the form around it
    assert first["response_bytes"] == len(response.data)
    assert first["latency_ms"] > 0 and first["queued_ms"] >= 0
    assert second["status"] == 422 and second["model"] == "all"
    assert second["id"] != "<script>evil id</script>" and len(second["id"]) == 32  # an unsafe id is replaced by a fresh one
    assert bad.headers["X-Request-ID"] == second["id"]


# --- over real HTTP, through waitress ------------------------------------------------------------------------------

def test_waitress_serves_the_guarded_app_on_loopback(trained_zoo, image_bytes):
    log = io.StringIO()
    app = _app(trained_zoo, token=TOKEN, workers=2, queue=2, access_log=log)
    server = make_server(app, "127.0.0.1", 0, app.extensions["serving"].settings, app.config["MAX_CONTENT_LENGTH"])
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    boundary = "testboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n".encode()
            + image_bytes + f"\r\n--{boundary}--\r\n".encode())

    def post(headers: dict) -> tuple[int, dict]:
        request = urllib.request.Request(f"{base}/predict", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **headers})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    try:
        status, _ = post({})
        assert status == 401
        status, answer = post({"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and [v["model"] for v in answer["verdicts"]] == ["cnn_maxpool", "cnn_strided"]
        with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
            assert response.headers["Server"] == "cifake-api"  # waitress, not Werkzeug's development server
    finally:
        server.close()
        thread.join(10)
    statuses = [json.loads(line)["status"] for line in log.getvalue().splitlines()]
    assert statuses == [401, 200, 200]
