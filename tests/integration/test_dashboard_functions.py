"""The dashboard's plain functions, called directly (no Streamlit): figures, filters, metrics, spectra, maps."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dashboard import charts
from dashboard.comparison import disagreement_matrix, metrics_long, robustness_long
from dashboard.evaluation import (
    card_headline,
    normalized_confusion,
    pr_points,
    reliability_bins,
    roc_points,
    threshold_metrics,
)
from dashboard.misclassified import disagreements, filter_errors, model_thresholds, paginate, predictions_table
from dashboard.overlays import COLORMAPS, colorize, enlarge, overlay, png_bytes
from dashboard.spectra import class_counts, class_cues, log_amplitude_spectrum, mean_image, sample_indices
from dashboard.study_figures import augmentation_study, history_long, pooling_study
from dashboard.verdict_display import (
    CIFAKE_NOTE,
    display_image,
    measure_latency_ms,
    study_arms_note,
    training_data_note,
    verdict_rows,
    verdicts_json,
)
from model_zoo import decode_for_card, list_entries, load_model, load_usable_models, normalize_for_card
from model_zoo.card import Card
from model_zoo.decision import apply_temperature, expected_calibration_error, label_name, temperature, threshold
from model_zoo.leaderboard_table import leaderboard_frame
from tests.cards import typed


def _jpeg(size=(32, 32), seed=0) -> bytes:
    array = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def entries(trained_zoo):
    found, problems = list_entries(trained_zoo)
    assert found and not problems
    return found


@pytest.fixture(scope="module")
def models(entries):
    return {e.name: (load_model(e), e.card) for e in entries}


@pytest.fixture(scope="module")
def loaded(entries):
    return load_usable_models(entries)[0]


# --- evaluation --------------------------------------------------------------------------------------------

def test_threshold_metrics_follow_the_threshold():
    predictions = pd.DataFrame({"label": [0, 0, 1, 1], "prob_fake": [0.1, 0.6, 0.4, 0.9]})
    at_half = threshold_metrics(predictions, 0.5)
    assert at_half["confusion_matrix"] == [[1, 1], [1, 1]] and at_half["accuracy"] == 0.5
    strict = threshold_metrics(predictions, 0.95)
    assert strict["confusion_matrix"] == [[2, 0], [2, 0]] and strict["recall"] == 0.0
    lenient = threshold_metrics(predictions, 0.05)
    assert lenient["recall"] == 1.0 and lenient["precision"] == 0.5


def test_normalized_confusion_rows_sum_to_one_or_zero():
    rates = normalized_confusion([[3, 1], [0, 0]])
    np.testing.assert_allclose(rates, [[0.75, 0.25], [0.0, 0.0]])


def test_card_headline_shows_leak_aware_metrics_threshold_and_calibration(entries):
    card = entries[0].card
    tiles = {label: value for label, value, _ in card_headline(card)}
    written = card.to_dict()
    unseen = written["metrics"]["test_unseen"]
    assert tiles["Test accuracy"] == f"{written['metrics']['test']['accuracy']:.4f}"
    assert tiles[f"Unseen accuracy (n={unseen['n']:,})"] == f"{unseen['accuracy']:.4f}"
    assert tiles["Decision threshold"] == f"{written['decision']['threshold']:.3f}"
    assert tiles["Validation ECE"] == f"{written['decision']['ece_before']:.3f} → {written['decision']['ece_after']:.3f}"
    assert tiles["Test ECE"] == f"{written['evaluation']['test_ece']:.4f}"
    old = {key: value for key, value in written.items() if key not in ("decision", "evaluation", "schema_version")}
    old["metrics"] = {"validation": written["metrics"]["validation"]}  # an older, unevaluated card
    tiles = {label: value for label, value, _ in card_headline(Card.from_dict(old))}
    assert tiles == {"Test accuracy": "not evaluated", "Test ROC-AUC": "n/a", "Decision threshold": "0.500"}


def test_curves_and_calibration():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([0.1, 0.2, 0.7, 0.6, 0.8, 0.95])
    roc = roc_points(labels, probs)
    assert roc["fpr"].is_monotonic_increasing and roc["tpr"].iloc[-1] == 1.0
    pr = pr_points(labels, probs)
    assert 0 < pr.attrs["ap"] <= 1
    assert roc_points(np.zeros(3), np.array([0.1, 0.2, 0.3])).empty  # undefined with one class
    bins = reliability_bins(labels, probs, 5)
    assert len(bins) == 5 and bins["count"].sum() == 6
    perfect = expected_calibration_error(np.array([0, 1, 1, 0]), np.array([0.0, 1.0, 1.0, 0.0]))
    assert perfect == 0.0
    worst = expected_calibration_error(np.array([1, 0]), np.array([0.0, 1.0]))
    assert worst == pytest.approx(1.0)


# --- figures ---------------------------------------------------------------------------------------------

def test_figures_are_plotly_figures_with_data(entries):
    predictions = entries[0].test_predictions()
    labels, probs = predictions["label"].to_numpy(), predictions["prob_fake"].to_numpy()
    curves = {entries[0].name: (labels, probs)}
    cm = entries[0].test_metrics["confusion_matrix"]
    figures = [
        charts.confusion_figure(cm), charts.confusion_figure(cm, normalized=True),
        charts.roc_figure(curves), charts.pr_figure(curves), charts.reliability_figure(labels, probs),
        charts.history_figure(entries[0].history()), charts.metric_bars(metrics_long(entries)),
        charts.class_counts_figure(class_counts({"train": labels, "test": labels})),
        charts.spectrum_figure(np.ones((8, 8)), "s"), charts.spectrum_figure(np.eye(8) - 0.5, "d", diverging=True),
        charts.disagreement_figure(disagreement_matrix(predictions_table(entries), [e.name for e in entries],
                                                       model_thresholds(entries))),
        charts.validation_curves_figure(history_long(entries)),
        charts.robustness_figure(pd.DataFrame({"corruption": ["none", "jpeg", "jpeg", "blur"], "level": [0, 95, 50, 1.0],
                                               "accuracy": [0.95, 0.9, 0.8, 0.7]})),
    ]
    for figure in figures:  # every trace plots values (an empty chart renders without complaint)
        assert figure.data, figure.layout.title.text
        for trace in figure.data:
            values = [np.ravel(getattr(trace, axis)) for axis in ("x", "y", "z") if getattr(trace, axis, None) is not None]
            assert values and all(len(v) for v in values), (figure.layout.title.text, trace.type)
    roc, points = charts.roc_figure(curves), roc_points(labels, probs)  # trace 0 is the chance diagonal
    np.testing.assert_allclose(roc.data[1].x, points["fpr"])
    np.testing.assert_allclose(roc.data[1].y, points["tpr"])
    assert roc.data[1].name == f"{entries[0].name} (AUC {entries[0].test_metrics['roc_auc']:.3f})"
    normalised = charts.confusion_figure([[3, 1], [1, 3]], normalized=True)
    np.testing.assert_allclose(normalised.data[0].z, [[0.75, 0.25], [0.25, 0.75]])
    assert "ECE" in charts.reliability_figure(labels, probs).layout.title.text


def test_model_colours_are_stable():
    assert charts.model_colors(["b", "a"]) == charts.model_colors(["a", "b"])


# --- leaderboard and errors ------------------------------------------------------------------------------------------

def test_leaderboard_frame(entries, tmp_path):
    board = leaderboard_frame(entries, {e.name: 1.5 for e in entries})
    assert len(board) == len(entries) and set(board["model"]) == {e.name for e in entries}
    assert board["accuracy"].is_monotonic_decreasing
    by_name = {e.name: e for e in entries}
    for row in board.itertuples():  # each model's own threshold, and the test images unseen in train
        card = by_name[row.model].card
        assert row.threshold == threshold(card)
        assert (row.unseen_accuracy, row.unseen_n) == (card.metrics["test_unseen"].accuracy,
                                                       card.metrics["test_unseen"].n)
    assert (board["measured_latency_ms"] == 1.5).all() and "robust_accuracy" not in board and "metrics_on" not in board
    assert "measured_latency_ms" not in leaderboard_frame(entries)
    assert leaderboard_frame([]).empty


def test_robustness_is_optional(entries, tmp_path):
    import shutil

    from model_zoo import read_entry

    shutil.copytree(entries[0].path, tmp_path / entries[0].name)
    entry = read_entry(entries[0].name, tmp_path)
    assert entry.robustness() is None
    (entry.path / "robustness.csv").write_text("corruption,level,accuracy\nnone,0,0.95\njpeg,95,0.9\njpeg,50,0.7\n")
    assert list(entry.robustness()["accuracy"]) == [0.95, 0.9, 0.7]
    assert leaderboard_frame([entry])["robust_accuracy"].iloc[0] == pytest.approx(0.8)  # the clean row is not averaged
    assert len(robustness_long([entry])) == 3
    figure = charts.robustness_figure(robustness_long([entry]))
    assert [t.name for t in figure.data] == [entry.name] and list(figure.data[0].x) == ["95", "50"]
    (entry.path / "robustness.csv").write_text("something,else\n1,2\n")
    assert entry.robustness() is None


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "path": [f"test/{c}/{i}.jpg" for i, c in enumerate(["REAL", "REAL", "REAL", "FAKE", "FAKE", "FAKE"])],
        "label": [0, 0, 0, 1, 1, 1],
        "a": [0.9, 0.6, 0.1, 0.2, 0.45, 0.8],  # wrong on 0, 1, 3, 4
        "b": [0.2, 0.7, 0.1, 0.3, 0.9, 0.9],  # wrong on 1, 3
    })


HALF = {"a": 0.5, "b": 0.5}  # both models deciding at 0.5 (per-model thresholds: tests/integration/test_decision_rule.py)


def test_filter_errors():
    table = _table()
    assert list(filter_errors(table, "a", HALF).index) == [0, 3, 1, 4]  # most confident first
    assert list(filter_errors(table, "a", HALF, true_class="FAKE").index) == [3, 4]
    assert list(filter_errors(table, "a", HALF, confidence=(0.75, 1.0)).index) == [0, 3]
    assert list(filter_errors(table, "a", HALF, others="all others right").index) == [0, 4]
    assert sorted(filter_errors(table, "a", HALF, others="all others wrong").index) == [1, 3]
    assert filter_errors(table, "a", HALF)["confidence"].between(0.5, 1).all()
    with pytest.raises(ValueError):
        filter_errors(table, "a", HALF, others="nonsense")


def test_disagreements_and_pages():
    table = _table()
    assert list(disagreements(table, ["a", "b"], HALF).index) == [0, 4]
    assert disagreements(table, ["a"], HALF).empty
    matrix = disagreement_matrix(table, ["a", "b"], HALF)
    assert matrix.loc["a", "b"] == matrix.loc["b", "a"] == pytest.approx(2 / 6) and matrix.loc["a", "a"] == 0
    rows, pages = paginate(table, 2, 4)
    assert pages == 2 and list(rows.index) == [4, 5]
    rows, pages = paginate(table, 99, 4)
    assert list(rows.index) == [4, 5]
    assert paginate(table.iloc[0:0], 1, 4)[1] == 1


def test_predictions_table_joins_models(entries):
    table = predictions_table(entries)
    assert {"path", "label", *(e.name for e in entries)} <= set(table.columns)
    assert len(table) == entries[0].test_metrics["n"]
    assert predictions_table([]).empty


# --- overlays and explanation maps -------------------------------------------------------------------------------------

def test_overlays():
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    heat = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    big = enlarge(image, 256)
    assert big.shape == (256, 256, 3) and (big[:8, :8] == image[0, 0]).all()  # nearest neighbour: blocks
    assert colorize(heat, "jet").shape == (32, 32, 3)
    for name in COLORMAPS:
        picture = overlay(image, heat, 0.5, name, size=128)
        assert picture.shape == (128, 128, 3) and picture.dtype == np.uint8
    np.testing.assert_array_equal(overlay(image, heat, 0.0, size=64), enlarge(image, 64))
    with pytest.raises(ValueError):
        overlay(image, heat, 1.5)
    with pytest.raises(ValueError):
        colorize(heat, "rainbow-unicorn")
    assert png_bytes(image)[:4] == b"\x89PNG"


@pytest.mark.parametrize("method", ["Grad-CAM", "Grad-CAM++", "Score-CAM", "SmoothGrad"])
def test_explanation_maps_have_input_shape_and_unit_range(entries, models, method):
    from model_zoo.saliency import explanation_map

    entry = entries[0]
    model, card = models[entry.name]
    seen = decode_for_card(_jpeg((200, 150)), card)
    for target in ("FAKE", "REAL"):
        heat = explanation_map(model, card, seen, method, target)
        assert heat.shape == card.input_size and heat.dtype == np.float32
        assert np.isfinite(heat).all() and heat.min() >= 0.0 and heat.max() <= 1.0


def test_explanation_rejects_unknown_choices(entries, models):
    from model_zoo.saliency import explanation_map, gradcam_layer

    model, card = models[entries[0].name]
    seen = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError):
        explanation_map(model, card, seen, "LIME")
    with pytest.raises(ValueError):
        explanation_map(model, card, seen, "Grad-CAM", "MAYBE")
    assert gradcam_layer(model, card) == card.explain.gradcam_layer
    fallback = gradcam_layer(model, card.updated(explain={}))  # no layer named in the card: the last 4-D feature map
    assert len(model.get_layer(fallback).output.shape) == 4
    assert explanation_map(model, card.updated(explain={}), seen, "Grad-CAM").shape == (32, 32)


# --- inference --------------------------------------------------------------------------------------------------------

def test_judged_uploads_match_the_card_path_and_fail_clearly(loaded):
    from model_zoo.judge import judge

    data = _jpeg((640, 480))
    result = judge(data, loaded.values(), name="big.jpg")
    assert result.error is None and [v.model for v in result.verdicts] == list(loaded)
    for verdict in result.verdicts:
        model, card = loaded[verdict.model].model, loaded[verdict.model].card
        raw = model.predict(normalize_for_card(decode_for_card(data, card)[None], card), verbose=0)[0, 0]
        expected = float(apply_temperature(np.array([raw]), temperature(card))[0])  # the card's temperature scaling
        assert verdict.prob_fake == pytest.approx(expected, abs=1e-5)
        assert verdict.threshold == threshold(card) and verdict.label == label_name(verdict.prob_fake, card)
        np.testing.assert_array_equal(result.seen[verdict.model], decode_for_card(data, card))
    bad = judge(b"GIF89a broken", loaded.values(), name="bad.gif")
    assert bad.error and "bad.gif" in bad.error and not bad.verdicts
    rows = verdict_rows([result, bad])
    assert rows[1]["error"] == bad.error and rows[0][result.verdicts[0].model] == round(result.verdicts[0].prob_fake, 4)
    assert rows[0]["FAKE votes"].endswith(f"/{len(loaded)}")
    document = json.loads(verdicts_json([result, bad]))
    # The download holds the API's verdict records, field for field.
    assert document["images"][0]["models"] == [v.as_dict() for v in result.verdicts] and "error" in document["images"][1]


def test_display_image_is_screen_sized():
    shown = display_image(_jpeg((2000, 1000)), max_side=400)
    assert max(shown.shape[:2]) <= 400 and shown.shape[2] == 3


def test_study_arms_note_counts_what_the_inspect_page_leaves_out():
    assert study_arms_note(0) == ""
    assert "1 study arm is left out" in study_arms_note(1) and "5 study arms are left out" in study_arms_note(5)


def test_the_inspect_banner_names_each_training_set_and_its_models(tmp_path):
    from model_zoo.zoo import ZooEntry

    cifake = [ZooEntry(name, tmp_path, typed(train={"dataset": "../shared/cifake/cifake.zip"})) for name in ("a", "b")]
    assert training_data_note(cifake) == CIFAKE_NOTE
    folder = ZooEntry("mine", tmp_path, typed(train={"dataset": "/photos/sdxl_vs_camera.zip", "split": {"seed": 0}}))
    note = training_data_note([*cifake, folder])
    assert "a and b on **32x32** CIFAKE images" in note and "mine on the labelled folder **sdxl_vs_camera**" in note
    assert "32x32" not in training_data_note([folder])  # a folder model alone is not said to know CIFAKE


def test_latency_is_the_median_of_single_image_calls_after_a_warm_up(monkeypatch):
    import types

    import dashboard.verdict_display as inference

    shapes: list[tuple] = []
    monkeypatch.setattr(inference, "predict_prob", lambda model, card, seen: shapes.append(seen.shape))
    ticks = iter([10.0, 10.005, 20.0, 20.001, 30.0, 30.003])  # calls of 5, 1 and 3 ms
    monkeypatch.setattr(inference, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    assert measure_latency_ms("model", typed(input_shape=[24, 40, 3]), repeats=3) == pytest.approx(3.0)
    assert shapes == [(24, 40, 3)] * 4  # one untimed warm-up, then the three timed calls


# --- data cues and studies ---------------------------------------------------------------------------------------------

def test_spectra_and_means(synthetic_dataset):
    images, labels = synthetic_dataset.train.images, synthetic_dataset.train.labels
    counts = class_counts({"train": labels, "test": synthetic_dataset.test.labels})
    assert set(counts["class"]) == {"REAL", "FAKE"} and counts["count"].sum() == len(labels) + len(synthetic_dataset.test)
    picks = sample_indices(labels, 1, 5)
    assert len(picks) == 5 and (labels[picks] == 1).all()
    assert mean_image(images).shape == (32, 32, 3) and mean_image(images[:0]).shape == (32, 32, 3)
    spectrum = log_amplitude_spectrum(images[:10])
    assert spectrum.shape == (32, 32) and np.isfinite(spectrum).all()
    cues = class_cues(images, labels, max_per_class=50)
    assert cues.n_used == {"REAL": 50, "FAKE": 50}
    # The synthetic FAKE class adds a checkerboard: energy at the Nyquist corner (after fftshift: index 0, 0).
    assert cues.difference[0, 0] > 0.5 and abs(cues.difference[16, 16]) < cues.difference[0, 0]


def test_a_pure_checkerboard_peaks_at_nyquist():
    y, x = np.mgrid[0:32, 0:32]
    board = (np.where((x + y) % 2 == 0, 200, 50)[..., None] * np.ones(3)).astype(np.uint8)
    spectrum = log_amplitude_spectrum(board[None])
    assert np.unravel_index(np.argmax(spectrum), spectrum.shape) == (0, 0)


def test_studies(entries, tmp_path):
    import shutil

    pooling = pooling_study(entries)
    assert pooling is not None and set(pooling["architecture"]) == {e.card.to_dict()["architecture"] for e in entries}
    assert augmentation_study(entries) is None
    assert pooling_study(entries[:1]) is None

    from model_zoo import read_card, read_entry, write_card

    shutil.copytree(entries[0].path, tmp_path / "variant")
    card = read_card(tmp_path / "variant" / "card.json").to_dict()
    card["name"], card["train"]["augmentation"] = "variant", "none" if card["train"]["augmentation"] != "none" else "flip"
    write_card(tmp_path / "variant", card)
    variant = read_entry("variant", tmp_path)
    study = augmentation_study([entries[0], variant])
    assert study is not None and study["augmentation"].nunique() == 2
    # an augmentation variant does not join the pooling comparison (it would confound it)
    assert "variant" not in set(pooling_study([*entries, variant])["model"])


def test_metric_bars_zoom_in_on_the_differences_between_good_models():
    import pandas as pd

    from dashboard import charts

    rows = pd.DataFrame({"model": ["a", "a", "b", "b"], "metric": ["accuracy", "roc_auc"] * 2,
                         "value": [0.9712, 0.9961, 0.9696, 0.9959]})
    low, high = charts.metric_bars(rows).layout.yaxis.range
    assert 0.9 <= low < 0.9696 and high >= 0.9961
    low, _ = charts.metric_bars(rows.assign(value=[0.3, 0.5, 0.4, 0.6])).layout.yaxis.range
    assert low < 0.3


def test_pooling_answer_names_the_winner_the_gaps_and_the_speed():
    import pandas as pd

    from dashboard.study_figures import pooling_answer

    study = pd.DataFrame({"model": ["cnn_maxpool", "cnn_avgpool", "cnn_strided"],
                          "architecture": ["cnn_maxpool", "cnn_avgpool", "cnn_strided"],
                          "accuracy": [0.95, 0.97, 0.96], "epochs": [12, 12, 12],
                          "seconds_per_epoch": [150.0, 110.0, 75.0]})
    answer = pooling_answer(study)
    assert answer.startswith("**Average pooling** (cnn_avgpool) is the most accurate, at 97.00%")
    assert "max pooling: 2.00 points behind (95.00%)" in answer
    assert "stride-2 convolutions: 1.00 points behind (96.00%)" in answer
    assert "Fastest to train: stride-2 convolutions, 75 s per epoch against 150 s for max pooling (2.0x)" in answer
    assert "different numbers of epochs" not in answer
    assert "different numbers of epochs" in pooling_answer(study.assign(epochs=[10, 12, 12]))


def test_robustness_summary_reads_the_mean_and_the_target_conditions():
    import pandas as pd

    from dashboard.study_figures import robustness_summary

    table = pd.DataFrame({"corruption": ["none", "jpeg", "jpeg", "blur"], "level": [0, 40, 75, 1.0],
                          "accuracy": [0.97, 0.90, 0.96, 0.70], "roc_auc": [0.996, 0.961, 0.99, 0.85]})
    summary = robustness_summary(table)
    assert summary["robust_accuracy"] == pytest.approx((0.90 + 0.96 + 0.70) / 3)  # the clean row is not a condition
    assert summary["roc_auc_jpeg_40"] == pytest.approx(0.961) and summary["roc_auc_blur_1"] == pytest.approx(0.85)
    older = robustness_summary(table.drop(columns="roc_auc"))  # tables written before ROC-AUC was recorded
    assert older["roc_auc_jpeg_40"] is None and older["robust_accuracy"] == pytest.approx(summary["robust_accuracy"])
    assert robustness_summary(None)["robust_accuracy"] is None


def test_augmentation_answer_names_the_clean_and_the_robust_winner_and_the_cost():
    import pandas as pd

    from dashboard.study_figures import augmentation_answer

    study = pd.DataFrame({"architecture": ["cnn_strided"] * 3, "augmentation": ["none", "flip_shift", "robust"],
                          "accuracy": [0.960, 0.970, 0.966], "robust_accuracy": [0.80, 0.83, 0.93],
                          "roc_auc_jpeg_40": [0.90, 0.92, 0.975], "roc_auc_blur_1": [0.70, 0.72, 0.962]})
    answer = augmentation_answer(study)
    assert answer.startswith("For cnn_strided, **flip_shift** gives the best clean accuracy (97.00%)")
    assert "**robust** holds up best under corruption (93.00% mean accuracy" in answer
    assert "0.40 points of clean accuracy below the best" in answer
    assert "jpeg 40 0.975" in answer and "blur 1 0.962" in answer
    assert answer.endswith("Points of clean accuracy lost against flip_shift: none 1.00.")  # robust: 0.4, not named
    same = augmentation_answer(study.assign(accuracy=[0.96, 0.964, 0.97]))
    assert "and is also the clean winner" in same
    assert same.endswith("lost against robust: none 1.00, flip_shift 0.60.")  # worst first


def test_small_multiples_fill_rows_of_four():
    from dashboard.charts import grid_rows, panel_cell, small_multiples

    assert [grid_rows(n) for n in (0, 1, 4, 5, 8, 9)] == [1, 1, 1, 2, 2, 3]
    assert [panel_cell(i, 8) for i in (0, 3, 4, 7)] == [(1, 1), (1, 4), (2, 1), (2, 4)]
    assert panel_cell(1, 2) == (1, 2)  # two panels: one row of two
    figure = small_multiples(["a", "b", "c", "d", "e"], "(none)", vertical_spacing=0.2)
    assert [annotation.text for annotation in figure.layout.annotations] == ["a", "b", "c", "d", "e"]
