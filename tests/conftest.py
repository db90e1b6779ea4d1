"""Shared fixtures: synthetic CIFAKE-shaped data and a small zoo trained on it (temp dirs only)."""

from __future__ import annotations

from pathlib import Path

import pytest

import model_zoo  # noqa: E402, F401  (quiets TensorFlow's start-up log)
from training.lib.synthetic import make_synthetic_cifake  # noqa: E402

# Architectures in the shared test zoo: two differently-pooled CNNs keep comparisons meaningful.
TEST_ZOO_ARCHS = ("cnn_maxpool", "cnn_strided")
# Enough steps for both to learn the synthetic FAKE pattern (test_every_model_learns_the_synthetic_difference).
# 4 epochs of 16 at 2e-3 (56 steps): validation accuracy reaches 1.0 by epoch 3 for both. That needs the short-run
# batch-norm momentum (training.train.batchnorm_momentum): at Keras' 0.99 the moving statistics lagged so far behind
# that some runs served at chance even after 8 epochs. The fixed cost of a run (building, tracing, saving) dominates.
TEST_ZOO_TRAINING = {"epochs": 4, "batch_size": 16, "lr": 2e-3}


@pytest.fixture(autouse=True)
def _no_inherited_cifake_path(monkeypatch):
    """CI exports CIFAKE_PATH for test_real_cifake.py, which reads it at import. Every other test names its data:
    an inherited path once made a dashboard test decode all 120,000 real images and time out."""
    monkeypatch.delenv("CIFAKE_PATH", raising=False)


@pytest.fixture(autouse=True)
def _no_background_warm_up(monkeypatch):
    """Every app a test opens would otherwise start the inspect page's warm-up thread (dashboard.warm_start), which
    goes on loading and compiling that test's models during the tests after it, on the worker's two cores. Tests of
    the warm-up itself set CIFAKE_WARM_UP back; subprocesses (the browser tests' `streamlit run`) inherit the 0."""
    monkeypatch.setenv("CIFAKE_WARM_UP", "0")


@pytest.fixture(scope="session")
def synthetic_zip(tmp_path_factory) -> Path:
    """A CIFAKE-shaped zip: 120 train + 40 test images per class."""
    return make_synthetic_cifake(tmp_path_factory.mktemp("data") / "cifake.zip", 120, 40, as_zip=True, seed=1)


@pytest.fixture(scope="session")
def synthetic_folder(tmp_path_factory) -> Path:
    return make_synthetic_cifake(tmp_path_factory.mktemp("data") / "cifake", 60, 20, seed=2)


@pytest.fixture(scope="session")
def synthetic_dataset(synthetic_zip, tmp_path_factory):
    from training.lib.data import load_cifake

    return load_cifake(synthetic_zip, cache_dir=tmp_path_factory.mktemp("cache"), progress=lambda _: None)


@pytest.fixture(scope="session")
def trained_zoo(synthetic_dataset, tmp_path_factory) -> Path:
    """A zoo of small CNNs trained for a few epochs (TEST_ZOO_TRAINING) on synthetic data and evaluated on its test split.

    Read-only for tests: copy it (shutil.copytree) before changing anything.
    """
    from training.lib.evaluation_run import evaluate
    from training.lib.training_run import TrainConfig, train

    zoo = tmp_path_factory.mktemp("zoo")
    for arch in TEST_ZOO_ARCHS:
        train(TrainConfig(arch=arch, **TEST_ZOO_TRAINING), synthetic_dataset, zoo)
        evaluate(arch, synthetic_dataset, zoo)
    return zoo


@pytest.fixture(scope="session")
def crop_zoo(tmp_path_factory) -> tuple[Path, Path]:
    """(folder, zoo): a generated folder of 64x64 PNGs (120 a class; FAKE carries a pixel-level trace) and a zoo
    holding "crop", a cnn_maxpool trained on random 32x32 crops of it (crop policy: judged by 4 crops an image),
    evaluated on the folder's test split. About 30 s. Read-only for tests: copy the zoo before changing anything."""
    from training.lib.evaluation_run import evaluate
    from training.lib.image_folders import load_labelled_data
    from training.lib.synthetic import make_image_folder
    from training.lib.training_run import TrainConfig, train

    base = tmp_path_factory.mktemp("crop")
    folder = make_image_folder(base / "trace", 120, 64, seed=5)
    dataset = load_labelled_data(folder, progress=lambda _: None)
    zoo = base / "zoo"
    train(TrainConfig(arch="cnn_maxpool", name="crop", epochs=3, batch_size=16, lr=3e-3, augment="none",
                      input_policy="crop", input_size=32), dataset, zoo)
    evaluate("crop", dataset, zoo)
    return folder, zoo


@pytest.fixture(scope="module")
def app(trained_zoo):
    """The JSON API and upload page (dashboard.server.api) over the trained test zoo."""
    from dashboard.server.api import create_app

    return create_app(trained_zoo)


@pytest.fixture()
def client(app):
    return app.test_client()
