"""Shared fixtures: synthetic CIFAKE-shaped data and a small zoo trained on it (temp dirs only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training.synthetic import make_synthetic_cifake  # noqa: E402

# Architectures in the shared test zoo: two differently-pooled CNNs keep comparisons meaningful.
TEST_ZOO_ARCHS = ("cnn_maxpool", "cnn_strided")
# Enough steps for both to learn the synthetic FAKE pattern (test_every_model_learns_the_synthetic_difference).
# 2 epochs of batch 32 (14 steps) left cnn_strided at chance (test ROC-AUC 0.26-0.58) while cnn_maxpool reached 0.95:
# its batch-norm statistics lag so far behind that validation loss is lowest after epoch 1, and that unlearned epoch is
# what gets published. 8 epochs of 16 at 2e-3 (112 steps) learned it in each of 3 tries (ROC-AUC 1.0, best epoch 3-6).
# Epochs are cheap here (216 images); the fixed cost of a run (building, tracing, calibrating) dominates: ~3 s more each.
TEST_ZOO_TRAINING = {"epochs": 8, "batch_size": 16, "lr": 2e-3}


@pytest.fixture(scope="session")
def synthetic_zip(tmp_path_factory) -> Path:
    """A CIFAKE-shaped zip: 120 train + 40 test images per class."""
    return make_synthetic_cifake(tmp_path_factory.mktemp("data") / "cifake.zip", 120, 40, as_zip=True, seed=1)


@pytest.fixture(scope="session")
def synthetic_folder(tmp_path_factory) -> Path:
    return make_synthetic_cifake(tmp_path_factory.mktemp("data") / "cifake", 60, 20, seed=2)


@pytest.fixture(scope="session")
def synthetic_dataset(synthetic_zip, tmp_path_factory):
    from training.data import load_cifake

    return load_cifake(synthetic_zip, cache_dir=tmp_path_factory.mktemp("cache"), progress=lambda _: None)


@pytest.fixture(scope="session")
def trained_zoo(synthetic_dataset, tmp_path_factory) -> Path:
    """A zoo of small CNNs trained for a few epochs (TEST_ZOO_TRAINING) on synthetic data and evaluated on its test split.

    Read-only for tests: copy it (shutil.copytree) before changing anything.
    """
    from training.evaluate import evaluate
    from training.train import TrainConfig, train

    zoo = tmp_path_factory.mktemp("zoo")
    for arch in TEST_ZOO_ARCHS:
        train(TrainConfig(arch=arch, **TEST_ZOO_TRAINING), synthetic_dataset, zoo)
        evaluate(arch, synthetic_dataset, zoo)
    return zoo
