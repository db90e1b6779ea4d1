"""Model cards (Hugging Face shape) and the self-contained HTML reports, as functions and on the dashboard pages."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model_zoo import read_entry
from model_zoo.card_markdown import README_FILE, SECTIONS, model_card_markdown, split_front_matter
from tests.tiny_zoo import brightness_entry, flat_image_bytes

OTHER_SET = {"accuracy": 0.8, "precision": 0.75, "recall": 0.9, "f1": 0.818, "roc_auc": 0.88,
             "confusion_matrix": [[7, 3], [1, 9]], "n": 20, "n_real": 10, "n_fake": 10, "skipped": 2,
             "threshold": 0.5, "folder": "/data/phone_photos", "evaluated": "2026-11-20"}
ROBUSTNESS = "corruption,level,accuracy\nnone,0,0.95\njpeg,50,0.9\nblur,1,0.61\nblur,2,0.55\n"
# Anything that would make a browser fetch: a URL in src/href/srcset/action, CSS url() or @import, a script.
EXTERNAL = re.compile(r"""(?:src|href|srcset|action|poster)\s*=\s*["']?\s*(?:https?:)?//|url\(|@import|<script""",
                      re.IGNORECASE)
DATA_PNG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """'bright': CIFAKE figures, an other test set and robustness.csv; 'fresh': never evaluated."""
    zoo = tmp_path_factory.mktemp("zoo")
    folder = brightness_entry(zoo, "bright", other_test_sets={"phone_photos": OTHER_SET},
                              description="mean brightness <script>alert(1)</script>")
    (folder / "robustness.csv").write_text(ROBUSTNESS)
    (folder / "test_predictions.csv").write_text("path,label,prob_fake\n" + "".join(
        f"test/{'FAKE' if i % 2 else 'REAL'}/{i}.jpg,{i % 2},{(i % 2) * 0.6 + i / 100:.3f}\n" for i in range(40)))
    fresh = brightness_entry(zoo, "fresh")
    card = json.loads((fresh / "card.json").read_text())
    for split in ("test", "test_unseen"):
        card["metrics"].pop(split)
    (fresh / "card.json").write_text(json.dumps(card))
    return zoo


def _pngs(html: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(data))) for data in DATA_PNG.findall(html)]


# ---- the model card -------------------------------------------------------------------------------------

def test_model_card_front_matter_is_hugging_face_yaml_with_every_test_set(zoo):
    yaml = pytest.importorskip("yaml")
    front, body = split_front_matter(model_card_markdown(read_entry("bright", zoo)))
    meta = yaml.safe_load(front)
    assert meta["library_name"] == "keras" and meta["pipeline_tag"] == "image-classification"
    assert meta["datasets"] == ["cifake"] and "ai-generated-image-detection" in meta["tags"]
    results = meta["model-index"][0]["results"]
    assert meta["model-index"][0]["name"] == "bright"
    assert [r["dataset"]["name"] for r in results] == ["CIFAKE", "CIFAKE (test images unseen in train)",
                                                        "phone_photos"]
    accuracy = {r["dataset"]["name"]: next(m["value"] for m in r["metrics"] if m["type"] == "accuracy")
                for r in results}
    assert accuracy == {"CIFAKE": 0.95, "CIFAKE (test images unseen in train)": 0.94, "phone_photos": 0.8}
    assert body.startswith("# bright")


def test_model_card_has_every_section_in_order_with_the_measured_figures(zoo):
    text = model_card_markdown(read_entry("bright", zoo))
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings == list(SECTIONS)
    section = dict(zip(headings, re.split(r"^## .+$", text, flags=re.MULTILINE)[1:], strict=True))
    assert "| CIFAKE test | 95.00% |" in section["Metrics"]
    assert "| CIFAKE test, unseen in train | 94.00% |" in section["Metrics"]
    assert "| phone_photos | 80.00% | 0.8800 | 0.7500 | 0.9000 | 0.8180 | 20 | 2 |" in section["Metrics"]
    assert "| blur | 2 | 55.00% |" in section["Metrics"]  # robustness rows, in robustness.csv's order
    assert "blur 2: 55.0%, blur 1: 61.0%, jpeg 50: 90.0%" in section["Limitations"]  # the worst three
    assert "Other test set 'phone_photos'" in section["Training and evaluation data"]
    assert "2 unreadable files skipped" in section["Training and evaluation data"]
    assert "shrunk to 32x32" in section["Out-of-scope uses"]
    assert "Errors by class" in section["Factors"]
    assert text == model_card_markdown(read_entry("bright", zoo))  # a pure function of the entry


def test_an_unevaluated_entry_says_so_and_has_no_model_index(zoo):
    text = model_card_markdown(read_entry("fresh", zoo))
    front, _ = split_front_matter(text)
    assert "model-index" not in front and "Not evaluated on the CIFAKE test split yet." in text
    assert "Not evaluated on a test set yet" in text


def test_model_card_states_the_uncertain_band_and_the_novelty_cut_off(tmp_path):
    decision = {"temperature": 1.0, "threshold": 0.5, "fitted_on": "validation", "uncertain_band": [0.2, 0.8],
                "band_test": {"coverage": 0.9, "accuracy_decided": 0.991}}
    novelty = {"method": "mahalanobis", "cutoff": 21.5, "cutoff_quantile": 0.99, "train_image_size": [32, 32]}
    brightness_entry(tmp_path, "banded", decision=decision, novelty=novelty)
    text = model_card_markdown(read_entry("banded", tmp_path))
    assert ("| Abstains | UNCERTAIN when P(FAKE) lies in [0.200, 0.800); on the CIFAKE test set it decides 90.0% "
            "of images, 99.10% of those correctly |") in text
    assert "| Input check | novelty (Mahalanobis distance of the penultimate features) above 21.5 flags" in text


def test_model_card_command_writes_readme_once_and_keeps_the_entry_valid(zoo, tmp_path, capsys):
    import shutil

    from training.model_card import main

    copy = tmp_path / "zoo"
    shutil.copytree(zoo, copy)
    assert main(["all", "--zoo", str(copy)]) == 0
    assert capsys.readouterr().out.splitlines() == ["bright: README.md written", "fresh: README.md written"]
    readme = (copy / "bright" / README_FILE).read_text()
    assert readme == model_card_markdown(read_entry("bright", copy))
    assert main(["bright", "--zoo", str(copy)]) == 0
    assert "bright: README.md already up to date" in capsys.readouterr().out
    assert main(["bright", "--zoo", str(copy), "--print"]) == 0
    assert capsys.readouterr().out.startswith("---\nlibrary_name:")
    assert main(["nope", "--zoo", str(copy)]) == 2 and "no model named 'nope'" in capsys.readouterr().err


# ---- the HTML reports -------------------------------------------------------------------------------------

def test_model_report_is_self_contained_with_metrics_charts_and_the_card(zoo):
    from dashboard.report import model_report_html

    html = model_report_html(read_entry("bright", zoo))
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert "<td>phone_photos</td><td class=\"num\">0.8000</td>" in html
    assert "<td>CIFAKE test</td><td class=\"num\">0.9500</td>" in html
    assert "<h3>Intended use</h3>" in html and "<h3>Factors</h3>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    images = _pngs(html)
    assert len(images) == 5  # accuracy, loss, ROC, reliability, robustness
    assert all(image.format == "PNG" and image.size == (640, 360) for image in images)


def test_image_report_holds_verdicts_heatmaps_provenance_and_nothing_external(zoo):
    from dashboard.overlays import overlay
    from dashboard.report import HeatmapFigure, ImageReport, image_report_html
    from model_zoo import LoadedModel, load_model
    from model_zoo.judge import judge
    from model_zoo.saliency import explanation_map
    from tests.provenance_files import A1111_PARAMETERS, png_with_text

    entry = read_entry("bright", zoo)
    model = load_model(entry)
    data = png_with_text(parameters=A1111_PARAMETERS)
    result = judge(data, [LoadedModel(entry, model)], name="<lighthouse>.png")
    heat = explanation_map(model, entry.card, result.seen["bright"], "Grad-CAM", "FAKE")
    figure = HeatmapFigure("bright", "bright: Grad-CAM evidence for FAKE.", overlay(result.seen["bright"], heat))
    report = ImageReport(result.name, result.verdicts, result.seen["bright"],
                         {"bright": result.seen["bright"]}, [figure], result.provenance.as_dict())
    html = image_report_html(report)
    assert not EXTERNAL.search(html)
    verdict = result.verdicts[0]
    assert f'<td class="{verdict.decision}">{verdict.decision}</td>' in html
    assert f'<td class="num">{verdict.prob_fake:.4f}</td>' in html
    assert "Image report: &lt;lighthouse&gt;.png" in html
    assert "bright: Grad-CAM evidence for FAKE." in html
    assert "PNG text chunk &#x27;parameters&#x27;" in html and "made by a generative AI model" in html
    images = _pngs(html)
    assert [image.size for image in images] == [(32, 32), (32, 32), (256, 256)]  # original, input, overlay
    overlay_pixels = np.asarray(images[2])
    assert overlay_pixels.shape == (256, 256, 3) and overlay_pixels.std() > 0


def test_markdown_subset_escapes_and_renders_tables_lists_and_code():
    from dashboard.report import markdown_to_html

    html = markdown_to_html("# T\n\nA **b** `c` <i>\n\n- one\n- two\n\n| a | b |\n|---|---:|\n| 1 | 2 |\n\n```\nx < y\n```")
    assert html.splitlines() == ["<h2>T</h2>", "<p>A <strong>b</strong> <code>c</code> &lt;i&gt;</p>",
                                 "<ul><li>one</li><li>two</li></ul>",
                                 "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>2</td>"
                                 "</tr></tbody></table>", "<pre><code>x &lt; y</code></pre>"]


# ---- on the pages ---------------------------------------------------------------------------------------

@pytest.fixture
def app_env(zoo, monkeypatch):
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    return zoo


def _page(name: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page(f"dashboard/pages/{name}_page.py").run()
    return at


def test_model_page_shows_test_sets_the_model_card_and_offers_the_report(app_env):
    from dashboard.views.report_view import model_report_for

    at = _page("model")
    at.selectbox(key="model_page_model").set_value("bright").run()
    assert not at.exception, [e.value for e in at.exception]
    sets = next(d.value for d in at.dataframe if "test set" in d.value.columns)
    assert sets["test set"].tolist() == ["CIFAKE test", "CIFAKE test, unseen in train", "phone_photos"]
    assert sets.set_index("test set").loc["phone_photos", "accuracy"] == 0.8
    assert any(e.label.startswith("Model card (Hugging Face format") for e in at.expander)
    assert any("## Intended use" in m.value or "Intended use" in m.value for m in at.markdown)
    labels = [b.label for b in at.get("download_button")]
    assert "Download this model's report (HTML)" in labels and "Download README.md" in labels
    html = model_report_for("bright", str(app_env))  # what the button builds when clicked
    assert "Model report: bright" in html and "phone_photos" in html and not EXTERNAL.search(html)


def test_inspect_page_shows_provenance_beside_the_verdict_and_offers_the_report(app_env, monkeypatch):
    import dashboard.views.report_view as report_view
    from dashboard.report import image_report_html
    from tests.provenance_files import exif_jpeg

    offered = []  # the report the page hands to its download button (built into HTML on click)
    original = report_view.image_report_button
    monkeypatch.setattr(report_view, "image_report_button",
                        lambda report, **kwargs: offered.append(report) or original(report, **kwargs))
    at = _page("inspect_image")
    at.file_uploader(key="inspect_uploads").upload("gen.jpg", exif_jpeg(software="Midjourney v6"), "image/jpeg").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("made by a generative AI model (EXIF Software)" in w.value for w in at.warning)
    findings = next(d.value for d in at.dataframe if "where" in d.value.columns)
    assert findings["where"].tolist() == ["EXIF Software"] and findings["value"].tolist() == ["Midjourney v6"]
    assert "Download this image's report (HTML)" in [b.label for b in at.get("download_button")]
    html = image_report_html(offered[-1])
    assert not EXTERNAL.search(html) and "Image report: gen.jpg" in html and "Midjourney v6" in html
    assert len(DATA_PNG.findall(html)) >= 1 + 2 + 2  # original, each model's input, each model's heatmap
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", html)
    assert sorted(c.split(":")[0] for c in captions if "Grad-CAM evidence for" in c) == ["bright", "fresh"]


def test_the_inspect_pages_report_carries_each_verdicts_input_check(app_env, monkeypatch):
    """The downloaded report says what the page says about the input: here that the 64x48 upload was shrunk."""
    import dashboard.views.report_view as report_view
    from dashboard.report import image_report_html

    offered = []
    original = report_view.image_report_button
    monkeypatch.setattr(report_view, "image_report_button",
                        lambda report, **kwargs: offered.append(report) or original(report, **kwargs))
    at = _page("inspect_image")
    at.file_uploader(key="inspect_uploads").upload("wide.png", flat_image_bytes(200, (64, 48)), "image/png").run()
    assert not at.exception, [e.value for e in at.exception]
    html = image_report_html(offered[-1])
    assert "<th>input check</th>" in html
    assert html.count("This 64x48 image was shrunk 2x to 32x32, its 1.3:1 shape squeezed into a square") == 2  # both models


def test_inspect_page_without_metadata_says_absence_proves_nothing(app_env):
    at = _page("inspect_image")
    at.file_uploader(key="inspect_uploads").upload("flat.png", flat_image_bytes(200, (64, 48)), "image/png").run()
    assert not at.exception
    assert any("says nothing about how the image was made" in i.value for i in at.info)


def test_leaderboard_page_shows_other_test_sets_beside_cifake(app_env):
    at = _page("leaderboard")
    assert not at.exception, [e.value for e in at.exception]
    board = at.dataframe[0].value.set_index("model")
    assert board.loc["bright", "phone_photos accuracy"] == 0.8 and board.loc["bright", "accuracy"] == 0.95
    assert board.loc["bright", "phone_photos ROC-AUC"] == 0.88
    assert any("other test sets, your own labelled folders" in c.value for c in at.caption)
