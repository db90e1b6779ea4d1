"""Shared fixtures: synthetic CIFAKE-shaped data and a small zoo trained on it (temp dirs only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training.synthetic import make_synthetic_cifake  # noqa: E402

# Architectures in the shared test zoo: two differently-pooled CNNs keep comparisons meaningful.
TEST_ZOO_ARCHS = ("cnn_maxpool", "cnn_strided")


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
    """A zoo of small CNNs trained for 2 epochs on synthetic data and evaluated on its test split.

    Read-only for tests: copy it (shutil.copytree) before changing anything.
    """
    from training.evaluate import evaluate
    from training.train import TrainConfig, train

    zoo = tmp_path_factory.mktemp("zoo")
    for arch in TEST_ZOO_ARCHS:
        train(TrainConfig(arch=arch, epochs=2, batch_size=32), synthetic_dataset, zoo)
        evaluate(arch, synthetic_dataset, zoo)
    return zoo
