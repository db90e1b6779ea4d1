"""Architectures, the training and evaluation CLIs, zoo entries they write, and resuming."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from model_zoo import list_entries, load_model, read_entry
from model_zoo.decision import labels_for
from model_zoo.zoo import RUNS_DIR
from tests.cards import typed
from tests.conftest import TEST_ZOO_TRAINING
from tests.zoo_builders import edit_card
from training.evaluate import main as evaluate_main
from training.lib.architectures import ARCHITECTURES, GRADCAM_LAYER
from training.lib.training_run import TrainConfig, batchnorm_momentum, train
from training.train import main as train_main

ROOT = Path(__file__).resolve().parents[2]


FROM_SCRATCH = [name for name, arch in ARCHITECTURES.items() if not arch.pretrained]


@pytest.mark.parametrize("name", FROM_SCRATCH)
def test_each_architecture_outputs_one_probability_and_names_its_last_feature_map(name):
    """Pretrained backbones are not built here (four ImageNet graphs, seconds each): their preprocessing is
    checked against Keras' own below, and training builds them."""
    arch = ARCHITECTURES[name]
    model = arch.build()
    assert model.count_params() < 1_500_000  # trainable on a 2-core CPU; vgg_small, the largest, has 1.44M
    assert model.input_shape[1:] == arch.input_shape and model.output_shape[1:] == (1,)
    output = model.layers[-1]
    assert output.activation is keras.activations.sigmoid and output.dtype_policy.name == "float32"
    # Grad-CAM explains the named layer: a spatial feature map with no convolution after it (the deepest features).
    names = [layer.name for layer in model.layers]
    cam = model.get_layer(GRADCAM_LAYER)
    assert len(cam.output.shape) == 4 and cam.output.shape[1] > 1
    after = model.layers[names.index(GRADCAM_LAYER) + 1 :]
    assert not [layer.name for layer in after if isinstance(layer, keras.layers.Conv2D)]


def test_pretrained_cards_preprocess_exactly_like_keras_preprocess_input():
    """The card's mean/std/colour for each backbone reproduce keras.applications' preprocess_input."""
    from keras.applications import densenet, efficientnet, resnet50, vgg16

    from model_zoo import normalize_for_card

    keras_preprocess = {"vgg16": vgg16.preprocess_input, "resnet50": resnet50.preprocess_input,
                        "densenet121": densenet.preprocess_input, "efficientnetb0": efficientnet.preprocess_input}
    # EfficientNet-Lite0 has no keras.applications twin: its reference (x - 127.5) / 127.5 is what the port test uses.
    for lite in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
        keras_preprocess[lite] = lambda x: (x - 127.5) / 127.5
    assert set(keras_preprocess) == {name for name, arch in ARCHITECTURES.items() if arch.pretrained}
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    images[0, 0, 0] = (255, 0, 0)  # pure red: a swapped channel order cannot hide
    for name, preprocess in keras_preprocess.items():
        card = typed(preprocessing=ARCHITECTURES[name].preprocessing)
        expected = keras.ops.convert_to_numpy(preprocess(images.astype(np.float32)))
        np.testing.assert_allclose(normalize_for_card(images, card), expected, rtol=1e-5, atol=1e-4, err_msg=name)


def test_custom_cnns_differ_only_in_how_they_downsample():
    def kinds(name):
        return {type(layer).__name__ for layer in ARCHITECTURES[name].build().layers}

    assert "MaxPooling2D" in kinds("cnn_maxpool") and "AveragePooling2D" not in kinds("cnn_maxpool")
    assert "AveragePooling2D" in kinds("cnn_avgpool") and "MaxPooling2D" not in kinds("cnn_avgpool")
    assert not {"MaxPooling2D", "AveragePooling2D"} & kinds("cnn_strided")


def test_list_prints_one_architecture_per_line(capsys):
    assert train_main(["--list"]) == 0
    assert capsys.readouterr().out.split() == list(ARCHITECTURES)


def test_trained_entry_is_valid_loadable_and_consistent(trained_zoo, synthetic_dataset):
    entries, problems = list_entries(trained_zoo)
    assert [e.name for e in entries] == ["cnn_maxpool", "cnn_strided"] and problems == []
    for entry in entries:
        model = load_model(entry)
        card = entry.card.to_dict()
        assert card["params"] == model.count_params()
        assert card["size_bytes"] == entry.model_path.stat().st_size < 15_000_000
        epochs = TEST_ZOO_TRAINING["epochs"]
        assert card["train"]["epochs_run"] == epochs and 1 <= card["train"]["best_epoch"] <= epochs
        history = entry.history()
        assert list(history.columns) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
        assert len(history) == epochs
        assert card["train"]["best_epoch"] == int(history.loc[history.val_loss.idxmin(), "epoch"])
        # model.keras holds the best-validation checkpoint's weights (test_training_runs.py: when it is not the last).
        best = keras.saving.load_model(trained_zoo / ".runs" / entry.name / "best.keras", compile=False)
        for served, kept in zip(model.get_weights(), best.get_weights(), strict=True):
            np.testing.assert_array_equal(served, kept)
        # Stored predictions cover the whole test split and agree with the stored metrics.
        predictions = entry.test_predictions()
        test = card["metrics"]["test"]
        assert len(predictions) == test["n"] == len(synthetic_dataset.test)
        assert sorted(predictions.path) == sorted(synthetic_dataset.test.paths)
        predicted = labels_for(predictions.prob_fake, entry.card)  # at the card's validation-fitted threshold
        assert test["accuracy"] == pytest.approx(accuracy_score(predictions.label, predicted), abs=1e-9)
        assert test["roc_auc"] == pytest.approx(roc_auc_score(predictions.label, predictions.prob_fake), abs=1e-4)
        tn, fp, fn, tp = np.array(test["confusion_matrix"]).ravel()
        assert tp == ((predicted == 1) & (predictions.label == 1)).sum() and tn + fp + fn + tp == test["n"]
        assert card["metrics"]["validation"]["n"] == card["train"]["n_validation"]


def test_every_model_learns_the_synthetic_difference(trained_zoo):
    # A few epochs are enough for the FAKE pattern: each model's ranking must be far better than chance.
    aucs = {name: read_entry(name, trained_zoo).card.split_metrics("test")["roc_auc"] for name in ("cnn_maxpool", "cnn_strided")}
    assert min(aucs.values()) > 0.9, aucs


def test_short_runs_let_batch_norm_statistics_catch_up(trained_zoo):
    # Keras' 0.99 keeps 0.99**112 = 32% of the initial statistics after the test zoo's 112 steps: its models then
    # served at chance on validation in some runs (train accuracy 1.0). A real CIFAKE run keeps the default.
    assert batchnorm_momentum(12 * 704) == 0.99 and batchnorm_momentum(1_000) == 0.99
    assert batchnorm_momentum(112) ** 112 < 1e-4
    assert batchnorm_momentum(1) == 0.5
    # The model the run trained (its checkpoint; the published copy is rebuilt in float32) used the short-run momentum.
    checkpoint = keras.saving.load_model(trained_zoo / RUNS_DIR / "cnn_maxpool" / "last.keras", compile=False)
    momenta = {layer.momentum for layer in checkpoint.layers if isinstance(layer, keras.layers.BatchNormalization)}
    card = read_entry("cnn_maxpool", trained_zoo).card.to_dict()["train"]
    steps = card["epochs"] * -(-card["n_train"] // card["batch_size"])
    assert momenta == {batchnorm_momentum(steps)} and batchnorm_momentum(steps) < 0.95


def test_evaluate_cli_rewrites_metrics_and_rejects_unknown_names(trained_zoo, synthetic_zip, tmp_path, capsys):
    zoo = shutil.copytree(trained_zoo, tmp_path / "zoo", ignore=shutil.ignore_patterns(".runs"))
    (zoo / "cnn_maxpool" / "test_predictions.csv").unlink()
    # Stale figures in the card: evaluation must replace them, not leave them.
    stale = edit_card(zoo / "cnn_maxpool", test={"accuracy": 0.123, "roc_auc": 0.456, "n": 7})
    del stale["evaluation"]
    (zoo / "cnn_maxpool" / "card.json").write_text(json.dumps(stale))
    assert evaluate_main(["cnn_maxpool", "--data", str(synthetic_zip), "--zoo", str(zoo)]) == 0
    fresh, original = read_entry("cnn_maxpool", zoo), read_entry("cnn_maxpool", trained_zoo)
    assert fresh.card.to_dict()["metrics"]["test"] == original.card.to_dict()["metrics"]["test"]
    assert fresh.card.to_dict()["metrics"]["test"]["n"] == len(fresh.test_predictions()) == 80
    assert fresh.card.to_dict()["evaluation"]["test_in_train"] == original.card.to_dict()["evaluation"]["test_in_train"]
    pd.testing.assert_frame_equal(fresh.test_predictions(), original.test_predictions())
    assert evaluate_main(["no_such_model", "--data", str(synthetic_zip), "--zoo", str(zoo)]) == 2
    assert "no model named 'no_such_model'" in capsys.readouterr().err


def test_a_crash_while_publishing_leaves_no_entry(synthetic_dataset, tmp_path, monkeypatch):
    import training.lib.training_run as train_module

    def broken_write_card(folder, card):
        (folder / "card.json").write_text("{")
        raise OSError("disk full")

    monkeypatch.setattr(train_module, "write_card", broken_write_card)
    with pytest.raises(OSError, match="disk full"):
        train(TrainConfig(arch="cnn_strided", epochs=1, batch_size=32), synthetic_dataset, tmp_path)
    assert not (tmp_path / "cnn_strided").exists() and not list(tmp_path.glob(".tmp-*"))


MIRRORED_SCRIPT = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from training.lib.data import load_cifake
from training.lib.training_run import TrainConfig, train
data = load_cifake(sys.argv[1], cache_dir=sys.argv[3], progress=lambda m: None)
train(TrainConfig(arch="cnn_maxpool", epochs=1, batch_size=16, strategy="mirrored"), data, sys.argv[2])
"""


def test_mirrored_training_on_two_logical_cpus_writes_a_valid_entry(synthetic_zip, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(synthetic_zip), str(tmp_path / "zoo"), str(tmp_path / "cache")],
        capture_output=True, text=True, env=env, timeout=600, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replica(s), global batch 32" in result.stdout
    entry = read_entry("cnn_maxpool", tmp_path / "zoo")
    assert entry.card.to_dict()["train"]["strategy"] == "mirrored"
    assert len(pd.read_csv(entry.path / "history.csv")) == 1
    load_model(entry)


def test_leaderboard_ranks_evaluated_models(trained_zoo, capsys):
    from training.leaderboard import main as leaderboard_main

    assert leaderboard_main(["--zoo", str(trained_zoo)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| cnn_")]
    accuracies = [float(row.split("|")[3].strip().rstrip("%")) for row in rows]
    assert len(rows) == 2 and accuracies == sorted(accuracies, reverse=True)
    assert all(row.split("|")[2].strip() == "from scratch" for row in rows)
    assert "80 images" in out


def _class_ordered(n_per_class: int = 3000):
    images = np.zeros((2 * n_per_class, 32, 32, 3), np.uint8)
    labels = np.repeat([0, 1], n_per_class).astype(np.float32)
    return images, labels


def _first_batch_labels(config: TrainConfig, images, labels) -> np.ndarray:
    from training.lib.training_run import _pipeline

    card = typed(input_shape=[32, 32, 3], preprocessing=ARCHITECTURES[config.arch].preprocessing)
    batches = _pipeline(images, labels, np.arange(len(labels)), config, card, training=True)
    return next(iter(batches))[1].numpy()


def test_training_batches_from_a_class_ordered_split_are_class_mixed():
    images, labels = _class_ordered()
    mixed = _first_batch_labels(TrainConfig(arch="cnn_strided", batch_size=128), images, labels)
    assert 0.3 < mixed.mean() < 0.7
    # What the default prevents: a buffer smaller than a class run hands out one class only.
    local = _first_batch_labels(TrainConfig(arch="cnn_strided", batch_size=128, shuffle_buffer=500), images, labels)
    assert local.mean() == 0.0


@pytest.mark.parametrize("color", ["RGB", "BGR"])
def test_training_pipeline_feeds_exactly_what_the_zoo_serves(color):
    from model_zoo import batch_to_model_input
    from training.lib.training_run import _pipeline

    card = typed(input_shape=[32, 32, 3],
                 preprocessing={"color": color, "resize": "area", "mean": [10.0, 20.0, 30.0], "std": [2.0, 4.0, 8.0]})
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 32, 32, 3), dtype=np.uint8)
    labels = np.zeros(50, np.float32)
    config = TrainConfig(arch="cnn_strided", batch_size=50, augment="none")
    x, _ = next(iter(_pipeline(images, labels, np.arange(50), config, card, training=False)))
    np.testing.assert_allclose(x.numpy(), batch_to_model_input(images, card), rtol=1e-6)


def test_flip_shift_moves_whole_pixels_and_keeps_their_values():
    from training.lib.training_run import _pipeline

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    card = typed(input_shape=[32, 32, 3], preprocessing={"mean": [0, 0, 0], "std": [1, 1, 1]})
    config = TrainConfig(arch="cnn_strided", batch_size=64, augment="flip_shift", shuffle_buffer=1)  # keeps order
    x, _ = next(iter(_pipeline(images, np.zeros(64, np.float32), np.arange(64), config, card, training=True)))
    x = x.numpy()
    moved = 0
    for original, augmented in zip(images, x):
        padded = [np.pad(im, ((2, 2), (2, 2), (0, 0)), mode="reflect") for im in (original, original[:, ::-1])]
        candidates = [p[dy : dy + 32, dx : dx + 32] for p in padded for dy in range(5) for dx in range(5)]
        matches = [np.array_equal(augmented, c) for c in candidates]
        assert any(matches)
        moved += not np.array_equal(augmented, original)
    assert moved > 40  # most images are flipped or shifted


def test_mixed_precision_training_publishes_a_float32_model(synthetic_dataset, tmp_path):
    entry = train(TrainConfig(arch="cnn_strided", epochs=1, batch_size=32, precision="mixed_bfloat16"),
                  synthetic_dataset, tmp_path)
    model = load_model(entry)
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    assert entry.card.to_dict()["train"]["precision"] == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"  # restored for the rest of the process
    assert set(entry.card.to_dict()["decision"]) >= {"temperature", "threshold", "ece_before", "ece_after"}


def test_evaluate_reports_metrics_without_test_images_that_occur_in_train(trained_zoo, synthetic_zip, tmp_path):
    import zipfile

    from training.lib.data import load_cifake
    from training.lib.evaluation_run import evaluate

    leaky = tmp_path / "leaky.zip"
    with zipfile.ZipFile(synthetic_zip) as src, zipfile.ZipFile(leaky, "w") as dst:
        names = src.namelist()
        train_fake = sorted(n for n in names if n.startswith("train/FAKE/"))[0]
        leaked = sorted(n for n in names if n.startswith("test/FAKE/"))[0]
        for name in names:
            dst.writestr(name, src.read(train_fake if name == leaked else name))
    dataset = load_cifake(leaky, cache_dir=tmp_path / "cache", progress=lambda _: None)
    zoo = shutil.copytree(trained_zoo, tmp_path / "zoo")
    typed_card = evaluate("cnn_strided", dataset, zoo).card
    card = typed_card.to_dict()
    full, unseen = card["metrics"]["test"], card["metrics"]["test_unseen"]
    assert card["evaluation"]["test_in_train"] == 1
    assert unseen["n"] == full["n"] - 1
    predictions = read_entry("cnn_strided", zoo).test_predictions()
    kept = predictions[predictions.path != leaked]
    assert unseen["accuracy"] == pytest.approx(accuracy_score(kept.label, labels_for(kept.prob_fake, typed_card)))
