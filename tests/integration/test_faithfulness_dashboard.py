"""Faithfulness in the dashboard: the studies ranking, the model page's class-mean heatmaps, the note and
sanity flag beside each heatmap on the Inspect page. The reports are measured on the small trained zoo."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from dashboard.faithfulness_tables import (  # noqa: E402
    FLAG,
    class_heatmaps_figure,
    curves_figure,
    fails_sanity,
    map_note,
    method_table,
    ranking_sentence,
    ranking_table,
)
from model_zoo import list_entries, read_entry  # noqa: E402
from model_zoo.saliency import METHODS  # noqa: E402

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
FAILING = "SmoothGrad"  # the method the `flagged_zoo` marks as failing the sanity check


@pytest.fixture(scope="module")
def measured_zoo(trained_zoo, synthetic_zip, tmp_path_factory):
    """The trained zoo with faithfulness measured for its first model only (a tiny sample)."""
    from training.lib.data import load_cifake
    from training.lib.faithfulness_study import evaluate_faithfulness

    zoo = shutil.copytree(trained_zoo, tmp_path_factory.mktemp("measured") / "zoo")
    dataset = load_cifake(synthetic_zip, cache_dir=tmp_path_factory.mktemp("cache"), progress=lambda _: None)
    first = sorted(p.name for p in zoo.iterdir() if (p / "card.json").is_file())[0]
    evaluate_faithfulness(first, dataset, zoo, per_class=3, steps=3, sanity_images=2, per_group=4)
    return zoo, first


@pytest.fixture(scope="module")
def flagged_zoo(measured_zoo, tmp_path_factory):
    """measured_zoo with FAILING marked as failing the randomisation check and the others passing."""
    source, name = measured_zoo
    zoo = shutil.copytree(source, tmp_path_factory.mktemp("flagged") / "zoo")
    path = zoo / name / "faithfulness.json"
    report = json.loads(path.read_text())
    for method, result in report["methods"].items():  # a 2-epoch model's own verdicts vary: set them
        result.update(passes_sanity=method != FAILING, randomisation_rho=0.91 if method == FAILING else 0.12)
    report["ranking"] = [m for m in report["ranking"] if m != FAILING] + [FAILING]
    path.write_text(json.dumps(report))
    return zoo, name


def _png(seed: int = 0) -> bytes:
    array = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _app(page: str, zoo: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(f"dashboard/pages/{page}_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_tables_and_notes_follow_the_report(flagged_zoo):
    zoo, name = flagged_zoo
    report = read_entry(name, zoo).faithfulness()
    table = method_table(report)
    assert list(table["method"]) == report["ranking"] and list(table["rank"]) == list(range(1, len(METHODS) + 1))
    assert sorted(table["method"]) == sorted(METHODS)
    flagged = table.set_index("method")["sanity check"]
    assert flagged[FAILING].startswith(FLAG) and flagged.drop(FAILING).str.startswith("passes").all()
    assert fails_sanity(report, FAILING) and not fails_sanity(report, "Grad-CAM") and not fails_sanity(None, FAILING)
    note = map_note(name, FAILING, report)
    assert note.startswith(FLAG) and "0.91" in note
    assert FLAG not in map_note(name, "Grad-CAM", report) and "sanity check passed" in map_note(name, "Grad-CAM", report)
    assert "python -m training.faithfulness other" in map_note("other", "Grad-CAM", None)
    # the consensus has no network to measure: its note points at its members, never at a command that cannot run
    assert "members" in map_note("zoo_consensus", "Grad-CAM", None, consensus=True)
    assert "python -m" not in map_note("zoo_consensus", "Grad-CAM", None, consensus=True)
    assert f"{FAILING} fails the randomisation check" in ranking_sentence(name, report)
    entries, _ = list_entries(zoo)
    everything = ranking_table(entries)
    assert set(everything["model"]) == {name}  # only the measured model has rows
    assert ranking_table([e for e in entries if e.name != name]).empty


def test_a_rho_near_the_cut_off_is_called_borderline():
    from dashboard.faithfulness_tables import borderline

    def report(rho, se, passes):
        return {"sanity": {"fails_at": 0.5}, "ranking": ["m"], "random": {},
                "methods": {"m": {"randomisation_rho": rho, "randomisation_rho_se": se, "passes_sanity": passes}}}

    near, far = report(0.49, 0.02, True), report(0.2, 0.02, True)
    assert borderline(near, "m") and not borderline(far, "m") and not borderline(report(0.49, None, True), "m")
    assert method_table(near)["sanity check"][0] == "passes (borderline)"
    assert method_table(report(0.52, 0.02, False))["sanity check"][0] == f"{FLAG} (borderline)"
    assert method_table(far)["sanity check"][0] == "passes"
    assert "within two standard errors" in map_note("x", "m", near) and "within" not in map_note("x", "m", far)


def test_figures_draw_every_method_and_the_four_groups(flagged_zoo):
    zoo, name = flagged_zoo
    entry = read_entry(name, zoo)
    curves = curves_figure(name, entry.faithfulness())
    legend = [trace.name for trace in curves.data if trace.showlegend]
    assert len(legend) == len(METHODS) + 1 and "random order" in legend
    assert f"{FAILING} ({FLAG})" in legend
    arrays = entry.class_heatmaps()
    heat = class_heatmaps_figure(name, arrays)
    assert len(heat.data) == 4
    np.testing.assert_array_equal(np.asarray(heat.data[0].z), arrays["maps"][0])
    titles = [a.text for a in heat.layout.annotations]
    assert titles[0].startswith("REAL, called REAL (") and titles[3].startswith("FAKE, called REAL")


def test_studies_page_ranks_methods_and_flags_failures(flagged_zoo, monkeypatch):
    zoo, name = flagged_zoo
    at = _app("studies", zoo, monkeypatch)
    assert any(h.value == "Explanations: which heatmaps can be trusted?" for h in at.header)
    tables = [d.value for d in at.dataframe if "sanity check" in d.value.columns]
    assert len(tables) == 1 and tables[0].set_index("method").loc[FAILING, "sanity check"].startswith(FLAG)
    assert any(f"**{name}**" in m.value for m in at.markdown)


def test_model_page_shows_class_mean_heatmaps(measured_zoo, monkeypatch):
    zoo, name = measured_zoo
    at = _app("model", zoo, monkeypatch)
    at.selectbox(key="model_page_model").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(h.value == "Where the model looks" for h in at.header)
    assert any("sanity check" in d.value.columns for d in at.dataframe)
    other = next(p.name for p in zoo.iterdir() if (p / "card.json").is_file() and p.name != name)
    at.selectbox(key="model_page_model").set_value(other).run()
    assert any(f"python -m training.faithfulness {other}" in i.value for i in at.info)  # not measured: says how


def test_inspect_page_puts_faithfulness_beside_each_map_and_flags_failures(flagged_zoo, monkeypatch):
    zoo, name = flagged_zoo
    at = _app("inspect_image", zoo, monkeypatch)
    at.file_uploader(key="inspect_uploads").upload("photo.png", _png(), "image/png")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    notes = [c.value for c in at.caption]
    assert any(n.startswith(f"Grad-CAM for {name}, on 6 CIFAKE test images: rank") for n in notes)
    assert any("not measured" in n for n in notes)  # the other model has no report
    at.radio(key="inspect_method").set_value(FAILING).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(w.value.startswith(FLAG) and name in w.value for w in at.warning)
    captions = [c for image in at.image for c in image.captions]
    assert any(c.startswith(f"{name}:") and c.endswith(FLAG) for c in captions)
