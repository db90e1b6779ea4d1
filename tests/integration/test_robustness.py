"""Corruption functions behave (shape, dtype, mild ~ identity, monotone damage) and robustness.csv is published atomically."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from model_zoo import read_entry
from training.lib import robustness_study as robustness_module
from training.lib.robustness_study import (
    COLUMNS,
    CORRUPTIONS,
    ROBUSTNESS_FILE,
    corrupt,
    evaluate_robustness,
    psnr,
    robustness_table,
)
from training.lib.synthetic import synthetic_image
from training.robustness import main

FAMILIES = ("jpeg", "blur", "downscale", "noise")


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.stack([synthetic_image(rng, fake=i % 2 == 1) for i in range(16)])


def _levels(family: str) -> list[float]:
    """Levels from mildest to harshest."""
    return [level for name, level in CORRUPTIONS if name == family]


def _mean_psnr(images: np.ndarray, family: str, level: float) -> float:
    damaged = corrupt(images, family, level)
    return float(np.mean([psnr(a, b) for a, b in zip(images, damaged, strict=True)]))


@pytest.mark.parametrize(("family", "level"), CORRUPTIONS)
def test_corruptions_keep_shape_and_dtype(images, family, level):
    for batch in (images, images[0]):  # a batch and one image
        out = corrupt(batch, family, level)
        assert out.shape == batch.shape and out.dtype == np.uint8
    assert not np.shares_memory(corrupt(images, family, level), images)  # never edits the test set in place


def test_none_is_identity_and_mild_levels_are_nearly_identity(images):
    assert np.array_equal(corrupt(images, "none", 0), images)
    assert _mean_psnr(images, "jpeg", 95) > 32  # about 34.5 dB on noisy synthetic images
    assert _mean_psnr(images, "noise", 2) > 40  # sigma 2 -> about 42 dB
    assert _mean_psnr(images, "blur", 0.5) > 32
    assert _mean_psnr(images, "downscale", 0.75) > 27


@pytest.mark.parametrize("family", FAMILIES)
def test_damage_grows_with_severity(images, family):
    scores = [_mean_psnr(images, family, level) for level in _levels(family)]
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False)), scores
    assert scores[-1] < 30  # the harshest level really damages the image


def test_noise_is_seeded_and_jpeg_really_recompresses(images):
    assert np.array_equal(corrupt(images, "noise", 5, seed=1), corrupt(images, "noise", 5, seed=1))
    assert not np.array_equal(corrupt(images, "noise", 5, seed=1), corrupt(images, "noise", 5, seed=2))
    assert not np.array_equal(corrupt(images, "jpeg", 30), images)
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(images, "sepia", 1)


def test_table_has_every_corruption_and_a_clean_baseline(trained_zoo, synthetic_dataset, monkeypatch):
    import training.lib.robustness_study as robustness
    from model_zoo import binary_metrics, load_model, predict_prob_fake
    from model_zoo.decision import threshold

    entry = read_entry("cnn_maxpool", trained_zoo)
    test = synthetic_dataset.test
    seen: list[tuple[np.ndarray, np.ndarray]] = []  # what the model was shown for each row, and its answers

    def spy(model, images, card):
        seen.append((np.array(images), predict_prob_fake(model, images, card)))
        return seen[-1][1]

    monkeypatch.setattr(robustness, "predict_prob_fake", spy)
    model = load_model(entry)
    table = robustness_table(model, entry.card, test.images, test.labels)
    assert list(table.columns) == [*COLUMNS, "roc_auc"]
    assert list(zip(table["corruption"], table["level"], strict=True)) == list(CORRUPTIONS)
    # Each row scores the test set after exactly its corruption (noise: the default seed), and nothing else.
    assert len(seen) == len(CORRUPTIONS)
    for (corruption, level), (images, prob_fake), row in zip(CORRUPTIONS, seen, table.itertuples(), strict=True):
        np.testing.assert_array_equal(images, corrupt(test.images, corruption, level), err_msg=f"{corruption} {level}")
        assert (corruption == "none") == np.array_equal(images, test.images)
        expected = binary_metrics(test.labels, prob_fake, threshold(entry.card))
        assert (row.accuracy, row.roc_auc) == pytest.approx((expected["accuracy"], expected["roc_auc"]))
    clean = table.loc[table["corruption"] == "none"].iloc[0]
    assert clean["accuracy"] == pytest.approx(entry.test_metrics["accuracy"])  # the baseline is the evaluated test
    assert clean["roc_auc"] == pytest.approx(entry.test_metrics["roc_auc"])


def test_evaluate_writes_csv_into_the_entry(trained_zoo, synthetic_dataset, tmp_path):
    zoo = tmp_path / "zoo"
    shutil.copytree(trained_zoo, zoo)
    model_bytes = (zoo / "cnn_strided" / "model.keras").read_bytes()
    table = evaluate_robustness("cnn_strided", synthetic_dataset, zoo)
    stored = pd.read_csv(zoo / "cnn_strided" / ROBUSTNESS_FILE)
    assert list(stored.columns) == [*COLUMNS, "roc_auc"] and len(stored) == len(CORRUPTIONS)
    np.testing.assert_allclose(stored["accuracy"], table["accuracy"], atol=1e-6)
    entry = read_entry("cnn_strided", zoo)  # still a valid entry
    assert entry.card["robustness"]["n"] == len(synthetic_dataset.test)
    assert (zoo / "cnn_strided" / "model.keras").read_bytes() == model_bytes
    assert not list(zoo.glob(".tmp-*")) and not list(zoo.glob(".old-*"))


def test_a_sample_is_stratified_and_recorded_in_the_card(trained_zoo, synthetic_dataset, tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    shutil.copytree(trained_zoo, zoo)
    seen = []
    real_table = robustness_module.robustness_table
    monkeypatch.setattr(robustness_module, "robustness_table",
                        lambda model, card, images, labels, **kw: seen.append(labels) or real_table(model, card, images,
                                                                                                  labels, **kw))
    evaluate_robustness("cnn_strided", synthetic_dataset, zoo, sample=20)
    assert read_entry("cnn_strided", zoo).card["robustness"]["n"] == 20
    assert len(seen[0]) == 20 and (seen[0] == 1).sum() == 10  # half of each class


def test_a_crash_while_writing_leaves_the_entry_untouched(trained_zoo, synthetic_dataset, tmp_path, monkeypatch):
    import training.lib.robustness_study as robustness

    zoo = tmp_path / "zoo"
    shutil.copytree(trained_zoo, zoo)
    card_before = (zoo / "cnn_maxpool" / "card.json").read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(robustness, "write_card", crash)
    with pytest.raises(OSError, match="disk full"):
        evaluate_robustness("cnn_maxpool", synthetic_dataset, zoo)
    assert not (zoo / "cnn_maxpool" / ROBUSTNESS_FILE).exists()
    assert (zoo / "cnn_maxpool" / "card.json").read_text() == card_before
    assert not list(zoo.glob(".tmp-*"))


def test_cli_reports_unknown_model_as_user_error(trained_zoo, capsys):
    assert main(["nope", "--zoo", str(trained_zoo)]) == 2
    assert "error: no model named 'nope'" in capsys.readouterr().err
    # several names: every one is checked before the dataset is decoded (there is none here to decode)
    assert main(["cnn_maxpool", "nope2", "--zoo", str(trained_zoo), "--data", "/nonexistent/cifake.zip"]) == 2
    assert "error: no model named 'nope2'" in capsys.readouterr().err


def test_cli_one_model_prints_the_table(trained_zoo, synthetic_zip, tmp_path, capsys, monkeypatch):
    zoo = tmp_path / "zoo"
    shutil.copytree(trained_zoo, zoo)
    monkeypatch.setenv("CIFAKE_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["cnn_maxpool", "--data", str(synthetic_zip), "--zoo", str(zoo)]) == 0
    captured = capsys.readouterr()
    assert "cnn_maxpool: accuracy under corruption" in captured.out and "jpeg" in captured.out and "noise" in captured.out
    assert f"[{len(CORRUPTIONS)}/{len(CORRUPTIONS)}] noise 10" in captured.err  # progress, one line per condition
    assert (zoo / "cnn_maxpool" / ROBUSTNESS_FILE).is_file()
    assert not (zoo / "cnn_strided" / ROBUSTNESS_FILE).exists()
