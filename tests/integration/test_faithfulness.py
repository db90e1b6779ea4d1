"""Explanations checked against a model with a known answer: the FAKE artefact sits in the top-left quadrant.

One tiny CNN is trained per module (tests/quadrant_model.py); every test reuses it and its maps.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_zoo.card import Card
from model_zoo.faithfulness_measures import (
    SANITY_MAX_RHO,
    curve_auc,
    deletion_insertion,
    random_order,
    rank_correlation,
    reinitialised,
    removed,
    saliency_order,
)
from model_zoo.saliency import METHODS, explanation_map, explanation_maps, gradcam_layer
from tests.quadrant_model import QUADRANT, quadrant_card, quadrant_images, save_entry, train_quadrant_model

# SmoothGrad is left out of the localisation tests: its input noise (20% of the value range) is itself
# strong FAKE evidence for an artefact detector, so P(FAKE) saturates and its gradients vanish on this model.
CAM_METHODS = ("Grad-CAM", "Grad-CAM++", "Score-CAM")


@pytest.fixture(scope="module")
def model():
    return train_quadrant_model(seed=0)


@pytest.fixture(scope="module")
def card():
    return Card.from_dict(quadrant_card())


@pytest.fixture(scope="module")
def fakes():
    images, labels = quadrant_images(12, seed=7)
    return images[labels == 1]


@pytest.fixture(scope="module")
def fake_maps(model, card, fakes):
    """Each method's FAKE maps of the held-out FAKE images, computed once."""
    return {method: explanation_maps(model, card, fakes, method, "FAKE", seed=0) for method in METHODS}


def _quadrant_share(maps: np.ndarray) -> np.ndarray:
    return maps[:, QUADRANT[0], QUADRANT[1]].sum(axis=(1, 2)) / np.maximum(maps.sum(axis=(1, 2)), 1e-9)


def test_the_quadrant_model_detects_its_artefact(model, card):
    from model_zoo import predict_prob_fake

    images, labels = quadrant_images(12, seed=7)
    assert np.mean((predict_prob_fake(model, images, card) >= 0.5) == labels) >= 0.95


@pytest.mark.parametrize("method", CAM_METHODS)
def test_class_activation_maps_put_the_fake_heat_in_the_artefact_quadrant(fake_maps, method):
    share = _quadrant_share(fake_maps[method])  # the quadrant is a quarter of the image
    assert share.min() > 0.5, share


@pytest.mark.parametrize("method", CAM_METHODS)
def test_deletion_and_insertion_beat_random_pixel_order(model, card, fakes, fake_maps, method):
    rng = np.random.default_rng(0)
    orders = {"map": saliency_order(fake_maps[method], rng), "random": random_order(len(fakes), 32 * 32, rng)}
    curves = deletion_insertion(model, card, fakes, np.ones(len(fakes), bool), orders, steps=8)
    (map_del, map_ins), (random_del, random_ins) = curves["map"], curves["random"]
    assert curve_auc(map_del).mean() < curve_auc(random_del).mean() - 0.1
    assert curve_auc(map_ins).mean() > curve_auc(random_ins).mean() + 0.1


def test_curves_run_from_the_image_to_its_blurred_copy(model, card, fakes):
    from model_zoo import predict_prob_fake

    order = random_order(len(fakes), 32 * 32, np.random.default_rng(1))
    deletion, insertion = deletion_insertion(model, card, fakes, np.ones(len(fakes), bool), {"r": order}, steps=4)["r"]
    assert deletion.shape == insertion.shape == (len(fakes), 5)
    np.testing.assert_allclose(deletion[:, 0], predict_prob_fake(model, fakes, card), atol=1e-6)
    np.testing.assert_allclose(deletion[:, -1], predict_prob_fake(model, removed(fakes), card), atol=1e-6)
    np.testing.assert_allclose(insertion[:, 0], deletion[:, -1])
    np.testing.assert_allclose(insertion[:, -1], deletion[:, 0])
    # Explaining REAL tracks 1 - P(FAKE).
    real_deletion, _ = deletion_insertion(model, card, fakes, np.zeros(len(fakes), bool), {"r": order}, steps=4)["r"]
    np.testing.assert_allclose(real_deletion, 1.0 - deletion, atol=1e-6)


def test_removal_blurs_the_artefact_away(fakes):
    blurred = removed(fakes)
    assert blurred.shape == fakes.shape and blurred.dtype == np.uint8
    # The checkerboard is the image's second difference; blurring leaves little of it.
    checker = lambda images: np.abs(np.diff(images[:, QUADRANT[0], QUADRANT[1]].astype(float), 2, axis=2)).mean()  # noqa: E731
    assert checker(blurred) < 0.1 * checker(fakes)


@pytest.mark.parametrize("method", CAM_METHODS)
def test_maps_of_a_reinitialised_model_are_not_rank_correlated_with_the_trained_ones(model, card, fakes, fake_maps,
                                                                                      method):
    random_maps = explanation_maps(reinitialised(model, seed=0), card, fakes, method, "FAKE", seed=0)
    assert rank_correlation(fake_maps[method], random_maps).mean() < SANITY_MAX_RHO


def test_rank_correlation_is_spearman_and_zero_for_flat_maps():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 8, 8))
    np.testing.assert_allclose(rank_correlation(maps, maps), 1.0)
    np.testing.assert_allclose(rank_correlation(maps, -maps), -1.0)
    np.testing.assert_allclose(rank_correlation(maps, maps**3 + 5), 1.0)  # ranks only: any increasing transform
    assert rank_correlation(maps, np.zeros_like(maps)).tolist() == [0.0, 0.0, 0.0]
    from scipy.stats import spearmanr

    other = rng.random((3, 8, 8))
    expected = [spearmanr(a.ravel(), b.ravel()).statistic for a, b in zip(maps, other, strict=True)]
    np.testing.assert_allclose(rank_correlation(maps, other), expected)


def test_saliency_order_is_most_salient_first_and_breaks_ties_at_random():
    heat = np.zeros((2, 4, 4), np.float32)
    heat[0, 3, 3], heat[0, 0, 1] = 1.0, 0.5
    first = saliency_order(heat, np.random.default_rng(0))
    assert first[0, :2].tolist() == [15, 1]
    assert sorted(first[1].tolist()) == list(range(16))
    assert first[1].tolist() != list(range(16))  # a flat map is not taken in raster order
    assert not np.array_equal(first[1], saliency_order(heat, np.random.default_rng(1))[1])


def test_batched_maps_equal_single_image_maps_and_smoothgrad_repeats_with_a_seed(model, card, fakes, fake_maps):
    for method in CAM_METHODS:
        for index in (0, 3):
            np.testing.assert_allclose(explanation_map(model, card, fakes[index], method, "FAKE"),
                                       fake_maps[method][index], atol=1e-5)
    again = explanation_maps(model, card, fakes, "SmoothGrad", "FAKE", seed=0)
    np.testing.assert_array_equal(again, fake_maps["SmoothGrad"])
    mixed = explanation_maps(model, card, fakes[:2], "Grad-CAM", ["FAKE", "REAL"])
    np.testing.assert_allclose(mixed[0], fake_maps["Grad-CAM"][0], atol=1e-6)
    np.testing.assert_allclose(mixed[1], explanation_map(model, card, fakes[1], "Grad-CAM", "REAL"), atol=1e-6)


def test_score_cam_equals_tf_keras_vis_for_each_image(model, card, fakes, monkeypatch):
    """The batched Score-CAM gives what tf-keras-vis' Scorecam gives one image at a time."""
    import keras
    from tf_keras_vis.scorecam import Scorecam

    import model_zoo.saliency
    from model_zoo import normalize_for_card
    from model_zoo.saliency import unit_range

    keep = 6  # fewer than the model's 16 channels: each image's top-variance channels are chosen
    monkeypatch.setattr(model_zoo.saliency, "SCORE_CAM_CHANNELS", keep)

    p = model.outputs[0]
    two_class = keras.Model(model.inputs, keras.ops.log(keras.ops.concatenate([1.0 - p, p], axis=-1) + 1e-7))
    for index, target in ((0, "FAKE"), (1, "REAL"), (2, "FAKE")):
        x = normalize_for_card(fakes[index : index + 1], card)
        column = 1 if target == "FAKE" else 0
        reference = Scorecam(two_class, clone=False)(lambda out, c=column: out[:, c], x,
                                                     penultimate_layer=gradcam_layer(model, card),
                                                     max_N=keep)
        ours = explanation_map(model, card, fakes[index], "Score-CAM", target)
        np.testing.assert_allclose(ours, unit_range(np.asarray(reference))[0], atol=1e-4)


def test_smoothgrad_equals_tf_keras_vis_with_the_same_noise(model, card, fakes):
    """The compiled SmoothGrad gives what tf-keras-vis' Saliency gives from the same seed (on random weights:
    the trained quadrant model saturates under SmoothGrad's noise and every gradient is zero)."""
    import tensorflow as tf
    from tf_keras_vis.saliency import Saliency

    from model_zoo import normalize_for_card
    from model_zoo.saliency import SMOOTH_NOISE, SMOOTH_SAMPLES, unit_range

    untrained = reinitialised(model, seed=2)
    images, targets = fakes[:4], ["FAKE", "REAL", "FAKE", "REAL"]
    mask = tf.constant([1.0, 0.0, 1.0, 0.0])
    np.random.seed(5)
    reference = Saliency(untrained, clone=False)(lambda out: mask * out[:, 0] + (1 - mask) * (1 - out[:, 0]),
                                                 normalize_for_card(images, card), smooth_samples=SMOOTH_SAMPLES,
                                                 smooth_noise=SMOOTH_NOISE)
    ours = explanation_maps(untrained, card, images, "SmoothGrad", targets, seed=5)
    assert ours.max() == 1.0  # real gradients, not the all-zero maps of a saturated model
    np.testing.assert_allclose(ours, unit_range(np.asarray(reference)), atol=1e-4)


def test_explanation_maps_reject_bad_targets(model, card, fakes):
    with pytest.raises(ValueError, match="targets for"):
        explanation_maps(model, card, fakes, "Grad-CAM", ["FAKE"])
    with pytest.raises(ValueError, match="target must be one of"):
        explanation_maps(model, card, fakes[:1], "Grad-CAM", ["MAYBE"])
    with pytest.raises(ValueError, match="method must be one of"):
        explanation_maps(model, card, fakes[:1], "LIME")


# --- the report, the class heatmaps and the command -----------------------------------------------------------------

@pytest.fixture(scope="module")
def sample(fakes):
    from training.lib.data import Split

    images, labels = quadrant_images(8, seed=11)
    return Split(images, labels, [f"test/{'FAKE' if y else 'REAL'}/{i}.png" for i, y in enumerate(labels)])


def test_report_flags_a_method_whose_maps_ignore_the_model(model, card, sample, monkeypatch):
    """A "method" that only looks at the image (edge strength) gives the same map for any weights: it must fail."""
    import training.lib.faithfulness_study as faithfulness

    real_maps = faithfulness.explanation_maps

    def maps(model_, card_, images, method, targets, seed=None):
        if method == "SmoothGrad":  # stand-in: a map computed from the pixels alone
            return np.abs(np.gradient(images.astype(np.float32).mean(axis=-1), axis=2))
        return real_maps(model_, card_, images, method, targets, seed=seed)

    monkeypatch.setattr(faithfulness, "explanation_maps", maps)
    report = faithfulness.faithfulness_report(model, card, sample, steps=5, sanity_images=8,
                                              methods=("Grad-CAM", "SmoothGrad"))
    image_only, gradcam = report["methods"]["SmoothGrad"], report["methods"]["Grad-CAM"]
    assert image_only["randomisation_rho"] == pytest.approx(1.0)
    assert image_only["passes_sanity"] is False
    assert gradcam["passes_sanity"] is True and gradcam["randomisation_rho"] < SANITY_MAX_RHO
    assert report["ranking"] == ["Grad-CAM", "SmoothGrad"]  # failing methods rank last
    assert gradcam["beats_random"] is True
    assert gradcam["deletion_auc"] < report["random"]["deletion_auc"]
    assert gradcam["insertion_auc"] > report["random"]["insertion_auc"]
    assert len(gradcam["deletion_curve"]) == len(report["random"]["insertion_curve"]) == 6
    assert report["sample"]["per_class"] == {"REAL": 8, "FAKE": 8} and report["sanity"]["images"] == 8
    json.dumps(report, allow_nan=False)  # strict JSON


def test_rank_methods_puts_sanity_failures_last_then_orders_by_gain():
    from training.lib.faithfulness_study import rank_methods

    methods = {"a": {"passes_sanity": False, "score": 0.9}, "b": {"passes_sanity": True, "score": 0.1},
               "c": {"passes_sanity": True, "score": 0.3}, "d": {"passes_sanity": True, "score": None}}
    assert rank_methods(methods) == ["c", "b", "d", "a"]


def test_stratified_sample_is_fixed_and_balanced():
    from training.lib.data import stratified_sample

    labels = np.array([0] * 30 + [1] * 7)
    picked = stratified_sample(labels, 5, seed=3)
    assert (labels[picked] == 0).sum() == 5 and (labels[picked] == 1).sum() == 5
    np.testing.assert_array_equal(picked, stratified_sample(labels, 5, seed=3))
    assert not np.array_equal(picked, stratified_sample(labels, 5, seed=4))
    assert (labels[stratified_sample(labels, 10)] == 1).sum() == 7  # a smaller class is taken whole


def test_class_mean_heatmaps_group_by_truth_and_verdict(model, card):
    from training.lib.class_heatmaps import GROUPS, class_mean_heatmaps

    images, labels = quadrant_images(10, seed=5)
    prob_fake = np.where(labels == 1, 0.9, 0.1).astype(np.float32)
    prob_fake[:2] = 0.8  # two REAL images called FAKE
    arrays = class_mean_heatmaps(model, card, images, labels, prob_fake, per_group=6, seed=0)
    assert arrays["groups"].tolist() == list(GROUPS) == ["REAL_correct", "REAL_wrong", "FAKE_correct", "FAKE_wrong"]
    assert arrays["totals"].tolist() == [8, 2, 10, 0]
    assert arrays["counts"].tolist() == [6, 2, 6, 0]
    assert (arrays["empty"] <= arrays["counts"]).all() and arrays["empty"][3] == 0
    assert arrays["maps"].shape == (4, 32, 32) and not arrays["maps"][3].any()  # an empty group stays zero
    assert _quadrant_share(arrays["maps"][2:3])[0] > 0.5  # FAKE called FAKE: the model looks at the artefact


@pytest.fixture(scope="module")
def quadrant_zoo(model, tmp_path_factory):
    zoo = tmp_path_factory.mktemp("faith_zoo")
    save_entry(model, zoo)
    return zoo


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    from training.lib.synthetic import make_synthetic_cifake

    return make_synthetic_cifake(tmp_path_factory.mktemp("faith_data") / "cifake.zip", 2, 10, as_zip=True, seed=4)


def test_command_writes_both_files_into_the_entry_and_nothing_else(quadrant_zoo, small_data, monkeypatch, capsys):
    import shutil

    from model_zoo import read_entry
    from training.faithfulness import main

    monkeypatch.setenv("CIFAKE_CACHE_DIR", str(small_data.parent / "cache"))
    zoo = quadrant_zoo.parent / "faith_zoo_copy"
    shutil.copytree(quadrant_zoo, zoo)
    before = {p.name: p.read_bytes() for p in (zoo / "quadrant").iterdir()}
    code = main(["all", "--zoo", str(zoo), "--data", str(small_data), "--per-class", "4", "--steps", "4",
                 "--sanity-images", "4", "--heatmap-per-group", "3"])
    assert code == 0
    out = capsys.readouterr().out
    assert "quadrant: faithfulness on 8 test images" in out and "Score-CAM" in out
    entry = read_entry("quadrant", zoo)
    after = {p.name: p.read_bytes() for p in entry.path.iterdir()}
    assert set(after) == set(before) | {"faithfulness.json", "class_heatmaps.npz"}
    assert all(after[name] == data for name, data in before.items() if name != "card.json")  # the model untouched
    assert json.loads(after["card.json"]) == json.loads(before["card.json"])  # re-serialised by the publisher only
    report = entry.faithfulness()
    assert sorted(report["methods"]) == sorted(METHODS) and sorted(report["ranking"]) == sorted(METHODS)
    assert report["sample"]["n"] == 8 and len(report["sample"]["paths"]) == 8
    assert all(path.startswith("test/") for path in report["sample"]["paths"])
    assert report["dataset"] == str(small_data) and report["seconds"] > 0
    assert "test_set" not in report and "view" not in report  # a CIFAKE model's report is as it always was
    heatmaps = entry.class_heatmaps()
    assert heatmaps["maps"].shape == (4, 32, 32)
    assert heatmaps["totals"].sum() == 20 and (heatmaps["counts"] <= 3).all()
    assert str(heatmaps["verdicts_from"]) == "model run over the test split"  # the entry has no test_predictions.csv
    assert "test_set" not in heatmaps
    with np.load(entry.path / "class_heatmaps.npz", allow_pickle=False) as archive:  # no pickles inside
        assert {"groups", "maps", "counts", "totals", "method"} <= set(archive.files)
    # The same sample and seed give the same figures.
    assert main(["quadrant", "--zoo", str(zoo), "--data", str(small_data), "--per-class", "4", "--steps", "4",
                 "--sanity-images", "4", "--heatmap-per-group", "3"]) == 0
    again = read_entry("quadrant", zoo).faithfulness()
    timeless = lambda methods: {m: {k: v for k, v in r.items() if k != "map_seconds"} for m, r in methods.items()}  # noqa: E731
    assert timeless(again["methods"]) == timeless(report["methods"]) and again["sample"] == report["sample"]


def test_command_errors_are_one_line(quadrant_zoo, small_data, tmp_path, capsys, monkeypatch):
    from training.faithfulness import main

    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    assert main(["nope", "--zoo", str(quadrant_zoo), "--data", str(small_data)]) == 2
    assert "no model named 'nope'" in capsys.readouterr().err
    assert main(["quadrant", "--zoo", str(quadrant_zoo)]) == 2
    assert "--data" in capsys.readouterr().err
    assert main(["all", "--zoo", str(tmp_path / "empty"), "--data", str(small_data)]) == 2
    assert f"no usable entries in {tmp_path / 'empty'}" in capsys.readouterr().err


def test_entry_readers_refuse_broken_or_pickled_files(quadrant_zoo, tmp_path):
    import shutil

    from model_zoo import read_entry

    folder = shutil.copytree(quadrant_zoo / "quadrant", tmp_path / "zoo" / "quadrant")
    entry = read_entry("quadrant", tmp_path / "zoo")
    assert entry.faithfulness() is None and entry.class_heatmaps() is None  # not measured yet
    (folder / "faithfulness.json").write_text("{not json")
    np.savez(folder / "class_heatmaps.npz", groups=np.array([{"a": 1}], dtype=object), maps=np.zeros((1, 2, 2)))
    assert entry.faithfulness() is None
    assert entry.class_heatmaps() is None  # an object array needs pickle: refused
