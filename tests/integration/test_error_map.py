"""`python -m training.error_map` on trained test zoos (CIFAKE-shaped and a folder model) and the Errors page that
shows its map and clusters (Streamlit's AppTest; the box/lasso selection is driven in Chromium by
tests/integration/test_dashboard_browser.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_zoo import read_entry
from model_zoo.decision import labels_for
from tests.dashboard_app import open_dashboard
from tests.zoo_builders import copy_zoo, with_known_errors
from training.error_map import main

WRONG = 30  # errors planted in each model's stored predictions: enough for k-means to try k = 2 and 3


@pytest.fixture(scope="module")
def mapped_zoo(trained_zoo, synthetic_zip, tmp_path_factory) -> Path:
    """The trained zoo with WRONG planted errors per model, its consensus, and every entry mapped."""
    from model_zoo.consensus import write_consensus

    zoo = copy_zoo(trained_zoo, tmp_path_factory.mktemp("mapped") / "zoo")
    for name in ("cnn_maxpool", "cnn_strided"):
        with_known_errors(zoo / name, WRONG, offset=5 if name == "cnn_strided" else 0)
    write_consensus(zoo)
    assert main(["all", "--data", str(synthetic_zip), "--zoo", str(zoo)]) == 0
    return zoo


def test_every_detector_and_the_consensus_get_a_small_map_and_their_error_clusters(mapped_zoo, capsys):
    for name in ("cnn_maxpool", "cnn_strided", "zoo_consensus"):
        entry = read_entry(name, mapped_zoo)
        arrays = entry.test_map()
        assert arrays is not None, name
        predictions = entry.test_predictions()
        assert arrays["coords"].shape == (len(predictions), 2) and arrays["coords"].dtype == np.float16
        assert np.abs(arrays["coords"].astype(np.float32)).max() <= 1.0
        wrong = labels_for(predictions["prob_fake"].to_numpy(), entry.card) != predictions["label"].to_numpy()
        assert ((arrays["cluster"] >= 0) == wrong).all(), name  # exactly the model's own errors are clustered
        k = int(arrays["cluster"].max()) + 1
        assert arrays["prototypes"].shape == (k, 8) and arrays["heatmaps"].shape == (k, 32, 32)
        for c, rows in enumerate(arrays["prototypes"]):
            assert (arrays["cluster"][rows[rows >= 0]] == c).all()
        assert 0 <= float(arrays["knn_recall"]) <= 1 and str(arrays["method"]) == "pca-tsne"
        assert (entry.path / "map.npz").stat().st_size < 100_000
    consensus = read_entry("zoo_consensus", mapped_zoo).test_map()
    member = read_entry(str(consensus["source"]), mapped_zoo).test_map()
    assert str(consensus["source"]) in ("cnn_maxpool", "cnn_strided")
    np.testing.assert_array_equal(consensus["coords"], member["coords"])  # the consensus uses its best member's map


def test_a_map_of_other_predictions_is_not_read(mapped_zoo, tmp_path):
    zoo = copy_zoo(mapped_zoo, tmp_path / "zoo")
    predictions = zoo / "cnn_maxpool" / "test_predictions.csv"
    predictions.write_text("\n".join(predictions.read_text().splitlines()[:-3]) + "\n")  # fewer rows than the map
    assert read_entry("cnn_maxpool", zoo).test_map() is None


def test_a_bad_name_is_one_line(mapped_zoo, synthetic_zip, capsys):
    assert main(["nonesuch", "--data", str(synthetic_zip), "--zoo", str(mapped_zoo)]) == 2
    assert "nonesuch" in capsys.readouterr().err


def test_a_folder_model_is_mapped_on_its_own_test_split(crop_zoo, tmp_path):
    from training.lib.image_folders import load_labelled_data

    folder, trained = crop_zoo
    zoo = copy_zoo(trained, tmp_path / "zoo")
    entry = read_entry("crop", zoo)
    with_known_errors(entry.path, 22)
    assert main(["crop", "--data", str(folder), "--zoo", str(zoo)]) == 0
    arrays = read_entry("crop", zoo).test_map()
    test = load_labelled_data(folder, split=entry.card.train.split, progress=lambda _: None).test
    assert arrays["coords"].shape == (len(test), 2) and str(arrays["test_set"]) == "trace"
    assert int((arrays["cluster"] >= 0).sum()) == 22
    assert arrays["heatmaps"].shape[1:] == (32, 32)  # a crop model's prototypes are explained on its central crop


def test_the_errors_page_opens_on_the_zoos_answer_with_its_map_and_cluster_sentences(mapped_zoo, synthetic_zip,
                                                                                      monkeypatch):
    monkeypatch.setenv("CIFAKE_PATH", str(synthetic_zip))
    at = open_dashboard(mapped_zoo, monkeypatch, "errors")
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="errors_model").value == "zoo_consensus"
    assert any("best member" in c.value for c in at.caption)
    charts = at.get("plotly_chart")
    assert charts, "no map drawn"
    sentences = [m.value for m in at.markdown if m.value.startswith("Cluster ")]
    assert sentences and all(" errors (" in s for s in sentences)
    assert any("are wrong for all 2 detectors" in m.value for m in at.markdown)
    [link] = [b for b in at.button if b.label == "Show this cluster in the grid"][:1]
    link.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="errors_cluster").value == 1
    assert any("match the filters" in c.value for c in at.caption)


def test_the_map_draws_without_images(mapped_zoo, monkeypatch):
    at = open_dashboard(mapped_zoo, monkeypatch, "errors")
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("plotly_chart") and any(m.value.startswith("Cluster ") for m in at.markdown)
    assert any("CIFAKE_PATH" in i.value for i in at.info)
