"""Checks on the real CIFAKE dataset; they run only when CIFAKE_PATH points at it (CI sets it when present)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import model_zoo
from model_zoo import binary_metrics, list_entries, load_model, predict_prob_fake
from model_zoo.decision import threshold
from training.lib.data import load_cifake

CIFAKE = os.environ.get("CIFAKE_PATH", "")
SHIPPED_ZOO = Path(model_zoo.__file__).resolve().parent / "entries"

pytestmark = pytest.mark.skipif(not CIFAKE or not Path(CIFAKE).exists(),
                                reason="real CIFAKE not available: set CIFAKE_PATH to the Kaggle zip or folder")


@pytest.fixture(scope="module")
def cifake():
    return load_cifake(CIFAKE)


def test_real_cifake_has_the_published_counts(cifake):
    assert cifake.train.counts() == {"REAL": 50_000, "FAKE": 50_000}
    assert cifake.test.counts() == {"REAL": 10_000, "FAKE": 10_000}
    assert cifake.train.images.shape[1:] == (32, 32, 3)


# Per-image predictions are re-made on a random sample of the test split; the full-set metrics are then
# recomputed from the stored per-image predictions. Together: the card's figures are this model's on all
# 20,000 images, at a tenth of the cost of predicting them all again for every shipped model.
FRESH_SAMPLE = 2_000


def test_shipped_models_stored_test_accuracy_matches_a_fresh_evaluation(cifake):
    entries, problems = list_entries(SHIPPED_ZOO)
    assert problems == [], problems
    if not entries:
        pytest.skip("the shipped zoo is empty: fill it with `make zoo CIFAKE_PATH=...`")
    sample = np.random.default_rng(0).choice(len(cifake.test.labels), FRESH_SAMPLE, replace=False)
    sample_paths = [cifake.test.paths[i] for i in sample]
    for entry in entries:
        stored = entry.test_metrics
        assert stored is not None and stored["n"] == 20_000, f"{entry.name} was not evaluated on the full test set"
        predictions = entry.test_predictions().set_index("path")
        assert sorted(predictions.index) == sorted(cifake.test.paths), f"{entry.name}: stored predictions != test split"
        labels = predictions.loc[cifake.test.paths, "label"].to_numpy()
        assert (labels == cifake.test.labels).all(), f"{entry.name}: stored labels differ from the dataset's"
        from_stored = binary_metrics(labels, predictions.loc[cifake.test.paths, "prob_fake"].to_numpy(),
                                     threshold(entry.card))
        assert from_stored["accuracy"] == pytest.approx(stored["accuracy"], abs=1e-9), entry.name
        assert from_stored["roc_auc"] == pytest.approx(stored["roc_auc"], abs=1e-6), entry.name

        fresh = predict_prob_fake(load_model(entry), cifake.test.images[sample], entry.card)
        stored_sample = predictions.loc[sample_paths, "prob_fake"].to_numpy()
        assert np.abs(fresh - stored_sample).max() <= 1e-4, f"{entry.name}: the model no longer gives its stored scores"
        # Every shipped model must be a real detector, not a diverged one: the diverged cnn of issue 11 scored 93.65%,
        # the paper's CNN 92.98%; the augmentation study's no-augmentation arm (overfitting, shipped) 95.67%.
        # A frozen ImageNet backbone with a small head is a weaker, minutes-to-train probe (logistic regression on its
        # features scored 86-89% in the issue that brought it), held to a lower floor.
        floor = 0.85 if (entry.card.to_dict().get("backbone") or {}).get("frozen") else 0.95
        assert stored["accuracy"] >= floor, f"{entry.name}: test accuracy {stored['accuracy']:.4f} < {floor}"
        unseen = entry.card.to_dict()["metrics"]["test_unseen"]
        assert unseen["n"] == 20_000 - entry.card.to_dict()["evaluation"]["test_in_train"] == 20_000 - 378, entry.name


def test_test_images_copied_from_train_are_found_by_their_bytes(cifake):
    # MANIFEST.txt: 378 test/FAKE files are byte-identical to a train/FAKE file; no REAL one is.
    copied = ~cifake.test.unseen_in(cifake.train)
    assert copied.sum() == 378
    assert set(cifake.test.labels[copied]) == {1}
