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
    TEST_SET,
    corrupt,
    corrupt_each,
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
    assert list(stored.columns) == [*COLUMNS, "roc_auc", TEST_SET] and len(stored) == len(CORRUPTIONS)
    assert set(stored[TEST_SET]) == {"CIFAKE"}  # which test set was measured
    np.testing.assert_allclose(stored["accuracy"], table["accuracy"], atol=1e-6)
    entry = read_entry("cnn_strided", zoo)  # still a valid entry
    assert entry.card.to_dict()["robustness"]["n"] == len(synthetic_dataset.test)
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
    assert read_entry("cnn_strided", zoo).card.to_dict()["robustness"]["n"] == 20
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


def test_corruptions_work_at_any_size_and_downscale_is_relative(images):
    rng = np.random.default_rng(3)
    odd = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((37, 91), (120, 64), (5, 7))]
    for family, level in CORRUPTIONS:
        for image, out in zip(odd, corrupt_each(odd, family, level), strict=True):
            assert out.shape == image.shape and out.dtype == np.uint8, (family, level)
    # downscale is relative to each image's size: 4-pixel stripes suffer the same at 64 and at 256 pixels wide
    # (shrinking both to one fixed size would wipe out the wide image's stripes)
    errors = []
    for width in (64, 256):
        stripes = np.repeat(np.tile(np.array([0, 0, 255, 255], np.uint8), width // 4)[None, :, None], 48, 0)
        stripes = np.repeat(stripes, 3, 2)
        errors.append(np.abs(corrupt(stripes, "downscale", 0.5).astype(int) - stripes).mean())
    assert errors[0] == pytest.approx(errors[1], rel=0.05) and errors[0] < 100
    # each image's noise depends on its place in the whole set, not on how the set is chunked
    whole = corrupt_each(odd, "noise", 5, seed=1)
    chunked = corrupt_each(odd[:1], "noise", 5, seed=1) + corrupt_each(odd[1:], "noise", 5, seed=1, first=1)
    assert all(np.array_equal(a, b) for a, b in zip(whole, chunked, strict=True))


def test_cli_measures_a_crop_model_on_its_own_folder_test_split(crop_zoo, tmp_path, capsys, monkeypatch):
    import training.lib.robustness_study as robustness
    from model_zoo import predict_prob_fake

    folder, trained = crop_zoo
    zoo = tmp_path / "zoo"
    shutil.copytree(trained, zoo)
    entry = read_entry("crop", zoo)
    shown, firsts = [], []  # the sizes of the images each call scored, and the first of them

    def spy(model, images, card):
        shown.append({np.asarray(image).shape for image in images})
        firsts.append(np.asarray(images[0]))
        return predict_prob_fake(model, images, card)

    monkeypatch.setattr(robustness, "predict_prob_fake", spy)
    monkeypatch.setattr(robustness, "FOLDER_CHUNK", 10)  # several chunks, so the chunked path is the one measured
    assert main(["crop", "--data", str(folder), "--zoo", str(zoo)]) == 0
    captured = capsys.readouterr()
    assert "crop: accuracy under corruption" in captured.out
    assert "the trace test split" in captured.err
    stored = pd.read_csv(zoo / "crop" / ROBUSTNESS_FILE)
    assert list(zip(stored["corruption"], stored["level"], strict=True)) == list(CORRUPTIONS)
    assert stored["accuracy"].between(0, 1).all() and stored["roc_auc"].between(0, 1).all()
    assert set(stored[TEST_SET]) == {"trace"}
    # every test image (fewer than the default sample), whole at 64x64, never resized to the model's 32x32 crops
    n_test = entry.card.to_dict()["train"]["split"]["n_test"]
    card = read_entry("crop", zoo).card.to_dict()
    assert card["robustness"]["n"] == n_test and card["robustness"][TEST_SET] == "trace"
    assert all(sizes == {(64, 64, 3)} for sizes in shown) and len(shown) == len(CORRUPTIONS) * -(-n_test // 10)
    # the clean row is the judge's score of the same images: the stored test evaluation (crop grid, mean logit)
    clean = stored[stored["corruption"] == "none"].iloc[0]
    assert clean["accuracy"] == pytest.approx(entry.test_metrics["accuracy"], abs=1e-6)
    assert clean["roc_auc"] == pytest.approx(entry.test_metrics["roc_auc"], abs=1e-6)
    # each condition scored the first chunk's images after exactly its corruption, applied to the whole image
    originals = firsts[0]
    for (corruption, level), seen in zip(CORRUPTIONS, firsts[: len(CORRUPTIONS)], strict=True):
        np.testing.assert_array_equal(seen, corrupt_each([originals], corruption, level)[0], err_msg=corruption)
        assert (corruption == "none") == np.array_equal(seen, originals)


def test_cli_refuses_a_model_on_data_it_was_not_trained_on(crop_zoo, trained_zoo, synthetic_zip, tmp_path, capsys,
                                                           monkeypatch):
    folder, crop = crop_zoo
    monkeypatch.setenv("CIFAKE_CACHE_DIR", str(tmp_path / "cache"))
    # a folder model on CIFAKE, and a CIFAKE model on a folder: one line naming the entry, nothing written
    assert main(["crop", "--data", str(synthetic_zip), "--zoo", str(crop)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: crop was trained on a labelled folder") and str(folder) in err[-1]
    assert main(["cnn_maxpool", "--data", str(folder), "--zoo", str(trained_zoo)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cnn_maxpool was trained on CIFAKE") and str(folder) in err[-1]
    assert not (crop / "crop" / ROBUSTNESS_FILE).exists() and not (trained_zoo / "cnn_maxpool" / ROBUSTNESS_FILE).exists()
    # 'all' over a mixed zoo measures the entries trained on the data given and names the ones it leaves out
    zoo = tmp_path / "zoo"
    shutil.copytree(crop, zoo)
    shutil.copytree(trained_zoo / "cnn_maxpool", zoo / "cnn_maxpool")
    assert main(["all", "--data", str(folder), "--zoo", str(zoo), "--sample", "10"]) == 0
    assert "note: 'all' leaves out cnn_maxpool (trained on other data than" in capsys.readouterr().err
    assert (zoo / "crop" / ROBUSTNESS_FILE).is_file() and not (zoo / "cnn_maxpool" / ROBUSTNESS_FILE).exists()
    assert read_entry("crop", zoo).card.to_dict()["robustness"]["n"] == 10


def test_the_consensus_is_measured_as_its_members_corrupted_predictions_combined(synthetic_dataset, tmp_path):
    """The zoo's answer gets robustness figures: each member scores the corrupted sample, and the consensus combines
    those scores exactly as it combines them when it answers (model_zoo.consensus.consensus_prob_fake)."""
    from model_zoo import binary_metrics, load_model, predict_prob_fake
    from model_zoo.consensus import consensus_prob_fake, write_consensus
    from model_zoo.decision import threshold
    from model_zoo.zoo import PREDICTIONS_FILE, VALIDATION_PREDICTIONS_FILE
    from tests.tiny_zoo import brightness_entry
    from training.lib.robustness_study import robustness_sample

    zoo = tmp_path / "zoo"
    rng = np.random.default_rng(0)
    for name, steep in (("bright", 0.0), ("dim", 0.3)):
        folder = brightness_entry(zoo, name, train={"dataset": "synthetic", "seed": 0, "validation_fraction": 0.1})
        for file, n in ((VALIDATION_PREDICTIONS_FILE, 200), (PREDICTIONS_FILE, 100)):
            labels = np.repeat([0, 1], n // 2)
            probs = 1 / (1 + np.exp(-(np.where(labels == 1, 2.0, -2.0) + rng.normal(0, 1.5 + steep, n))))
            pd.DataFrame({"path": [f"{file}/{i}.jpg" for i in range(n)], "label": labels,
                          "prob_fake": probs}).to_csv(folder / file, index=False)
    write_consensus(zoo, created="2026-01-02T03:04:05+0000")
    consensus = read_entry("zoo_consensus", zoo)
    members = [read_entry(name, zoo) for name in ("bright", "dim")]

    table = evaluate_robustness("zoo_consensus", synthetic_dataset, zoo, sample=20)
    assert len(table) == len(CORRUPTIONS)
    test = robustness_sample(synthetic_dataset.test, 20, 0)
    models = [load_model(member) for member in members]
    for row in table.itertuples():
        damaged = corrupt(test.images, row.corruption, row.level, 0)
        member_probs = np.stack([predict_prob_fake(model, damaged, member.card)
                                 for model, member in zip(models, members, strict=True)], axis=1)
        expected = binary_metrics(test.labels, consensus_prob_fake(consensus.card, member_probs),
                                  threshold(consensus.card))
        assert (row.accuracy, row.roc_auc) == pytest.approx((expected["accuracy"], expected["roc_auc"]), abs=1e-6)
    stored = read_entry("zoo_consensus", zoo)
    assert stored.robustness() is not None and stored.card.to_dict()["robustness"]["n"] == 20
    assert len(stored.test_predictions()) == 100  # the consensus's own files are kept
    # Shown where every entry's robustness shows (the dashboard and the model card read entry.robustness() too).
    from model_zoo.leaderboard_table import leaderboard_frame

    row = leaderboard_frame([stored, *members]).set_index("model").loc["zoo_consensus"]
    corrupted = table[table["corruption"] != "none"]["accuracy"]
    assert row["robust_accuracy"] == pytest.approx(corrupted.mean())
