"""The evidence tests where users meet them: the CLI, the API, the HTML report and the inspect page; and a crop model
trained on a planted high-frequency trace is told its evidence is fine texture."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model_zoo import load_model, read_entry
from model_zoo.evidence import evidence_tests
from model_zoo.zoo import LoadedModel


def _png(size=(32, 32), seed=0) -> bytes:
    array = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_cli_prints_one_json_line_per_image_and_an_error_line_for_a_bad_file(trained_zoo, tmp_path, capsys):
    from training.explain import main

    good = tmp_path / "good.png"
    good.write_bytes(_png())
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    status = main([str(good), str(bad), "--model", "cnn_maxpool", "--zoo", str(trained_zoo)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 1 and [line["file"] for line in lines] == [str(good), str(bad)]
    record = lines[0]
    assert record["model"] == "cnn_maxpool" and record["verdict"] in ("REAL", "FAKE")
    assert record["sentences"] and all(isinstance(s, str) for s in record["sentences"])
    keys = {t["key"] for t in record["tests"]}
    assert {"lowpass_8", "highpass_8", "hide_border", "hide_centre", "hide_gradcam_top", "tiles_8", "tiles_4",
            "grayscale", "jpeg_90", "jpeg_70", "flip", "shift_1"} <= keys
    assert "error" in lines[1] and "bad.png" in lines[1]["error"]


def test_the_api_adds_evidence_when_asked_and_refuses_an_unknown_explain(client):
    plain = client.post("/predict", data={"image": (io.BytesIO(_png()), "x.png"), "model": "cnn_maxpool"})
    assert plain.status_code == 200 and "evidence" not in plain.get_json()
    asked = client.post("/predict", data={"image": (io.BytesIO(_png()), "x.png"), "model": "cnn_maxpool",
                                          "explain": "evidence"})
    body = asked.get_json()
    assert asked.status_code == 200, body
    evidence = body["evidence"]
    assert evidence["model"] == "cnn_maxpool" and evidence["prob_fake"] == pytest.approx(body["verdicts"][0]["prob_fake"],
                                                                                          abs=1e-4)
    assert evidence["sentences"] and len(evidence["tests"]) >= 14
    wrong = client.post("/predict", data={"image": (io.BytesIO(_png()), "x.png"), "explain": "why"})
    assert wrong.status_code == 400 and "explain must be 'evidence'" in wrong.get_json()["error"]


def test_the_html_report_carries_the_sentences_and_the_tests(trained_zoo):
    from dashboard.report import ImageReport, image_report_html
    from model_zoo.judge import judge

    entry = read_entry("cnn_strided", trained_zoo)
    loaded = LoadedModel(entry, load_model(entry))
    judged = judge(_png(seed=3), [loaded], name="<b>x</b>.png")
    from model_zoo.evidence import evidence_for

    evidence = evidence_for(loaded, judged)
    html = image_report_html(ImageReport(judged.name, judged.verdicts, evidence=evidence))
    assert "<h2>Why, in words</h2>" in html
    for sentence in evidence.sentences:
        assert f"<li>{sentence}</li>" in html.replace("&#x27;", "'")
    assert "one JPEG re-save at quality 70" in html and "The smallest change that flips the verdict" in html
    assert "data:image/png;base64," in html and "<b>x</b>" not in html


def test_a_crop_model_trained_on_a_planted_high_frequency_trace_is_told_its_evidence_is_fine_texture(crop_zoo):
    from model_zoo.judge import judge

    folder, zoo = crop_zoo
    entry = read_entry("crop", zoo)
    loaded = LoadedModel(entry, load_model(entry))
    fakes = sorted((Path(folder) / "FAKE").glob("*.png"))[-6:]
    told = []
    for path in fakes:
        judged = judge(str(path), [loaded])
        verdict = judged.verdicts[0]
        if verdict.label != "FAKE":
            continue
        evidence = evidence_tests(loaded.model, entry.card, judged.seen["crop"], name="crop",
                                  prob_fake=verdict.prob_fake)
        assert evidence.crops == 4  # a 64x64 image, judged by its 2x2 grid of 32x32 crops
        told.append(evidence.sentences[0])
    assert told, "the crop model called none of the FAKE images FAKE"
    # Keeping only coarse detail takes the FAKE evidence away: it is fine texture. Whether the trace's fine detail
    # alone also keeps it ("is fine texture") or not ("needs fine texture and more": a high-passed image is unlike any
    # training image) varies between training runs; both sentences say what their numbers show.
    fine = ("The FAKE evidence is fine texture: keeping only coarse detail drops P(FAKE)",
            "The FAKE evidence needs fine texture and more: keeping only coarse detail drops P(FAKE)")
    assert all(s.startswith(fine) for s in told), told


def test_the_inspect_page_explains_the_verdict_in_words_above_the_heatmaps(trained_zoo, monkeypatch):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MODEL_ZOO_DIR", str(trained_zoo))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "streamlit_app.py"), default_timeout=180)
    at.run()
    at.switch_page("dashboard/pages/inspect_image_page.py").run()
    at.file_uploader(key="inspect_uploads").upload("photo.png", _png(seed=5), "image/png").run()
    assert not at.exception, [e.value for e in at.exception]
    headings = [s.value for s in at.subheader]
    assert headings.index("Why, in words") < headings.index("Heatmaps")
    sentences = [m.value for m in at.markdown if m.value.startswith("- The ")]
    assert sentences and "evidence" in sentences[0]
    assert any(e.label == "The tests behind these sentences" for e in at.expander)


def test_the_warm_up_compiles_what_the_first_upload_needs(trained_zoo):
    from dashboard.warm_start import warm_inspect
    from model_zoo import list_entries, load_usable_models

    entries, _ = list_entries(trained_zoo)
    answering, _ = load_usable_models(entries)
    seconds = warm_inspect(answering, next(iter(answering)))
    assert set(seconds) == {"judge", "evidence", "heatmaps"} and all(v >= 0 for v in seconds.values())


def test_the_warm_up_gives_way_to_an_upload_that_is_waiting(trained_zoo):
    from dashboard.warm_start import warm_inspect
    from model_zoo import list_entries, load_usable_models

    entries, _ = list_entries(trained_zoo)
    answering, _ = load_usable_models(entries)
    wanted, said = iter([True, False]), []
    seconds = warm_inspect(answering, next(iter(answering)), say=said.append, wanted=lambda: next(wanted))
    assert list(seconds) == ["judge"]
    assert "an upload is waiting" in said[0] and "stopped before the evidence" in said[0]


def test_the_app_starts_the_warm_up_in_the_background_unless_the_server_turns_it_off(trained_zoo, monkeypatch):
    import threading
    import time

    from dashboard.views import resources
    from tests.dashboard_app import open_dashboard

    started = []  # (zoo, thread) of each warm-up that ran; what it does is tested above
    monkeypatch.setattr(resources, "_warm_up", lambda zoo: started.append((zoo, threading.current_thread().name)))
    resources.start_warm_up.clear()  # one warm-up per process and zoo: another test may have run this zoo's already

    open_dashboard(trained_zoo, monkeypatch)  # CIFAKE_WARM_UP=0 (tests/conftest.py)
    time.sleep(0.5)
    assert not started
    monkeypatch.setenv("CIFAKE_WARM_UP", "1")
    at = open_dashboard(trained_zoo, monkeypatch)
    assert not at.exception
    for _ in range(100):  # the app's warm-up thread runs at once; the test starts none of its own
        if started:
            break
        time.sleep(0.05)
    assert started == [(str(trained_zoo), resources.WARM_UP_THREAD)]
    resources.start_warm_up.clear()  # the next test's warm-up must be a real one


@pytest.mark.parametrize("warming", [True, False])
def test_an_upload_made_while_the_models_warm_up_says_why_it_is_slower(trained_zoo, monkeypatch, warming):
    from dashboard.views import resources
    from tests.dashboard_app import open_dashboard

    class Thread:  # the warm-up, still at work or done
        def is_alive(self) -> bool:
            return warming

    monkeypatch.setenv("CIFAKE_WARM_UP", "1")
    monkeypatch.setattr(resources, "start_warm_up", lambda zoo: Thread())
    resources.UPLOAD_WAITING.clear()
    at = open_dashboard(trained_zoo, monkeypatch, "inspect_image")
    assert not resources.UPLOAD_WAITING.is_set()  # the page with nothing uploaded lets the warm-up go on
    at.file_uploader(key="inspect_uploads").upload("photo.png", _png(seed=7), "image/png").run()
    assert not at.exception
    assert resources.UPLOAD_WAITING.is_set()  # an upload: the warm-up stops before its next step
    noted = any("still loading and compiling" in c.value for c in at.caption)
    assert noted is warming
