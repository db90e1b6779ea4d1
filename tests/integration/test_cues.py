"""The cue study (training/lib/cue_study.py, training/cues.py): its conditions, the table and spectra it publishes into
an entry, the command line, and the zoo's readers of what it wrote."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from model_zoo import binary_metrics, is_detector, load_model, predict_prob_fake, read_entry
from model_zoo.card import SCHEMA_VERSION
from model_zoo.cue_vocabulary import CUES_COLUMNS, GRADCAM_BOTTOM, GRADCAM_TOP, JPEG_GRID, LOWPASS, NONE
from model_zoo.decision import threshold
from model_zoo.zoo import CUE_SPECTRA_FILE, CUES_FILE, ZooEntry
from tests.cards import typed
from tests.zoo_builders import copy_zoo, edit_card
from training.cues import main
from training.lib import cue_study
from training.lib.cue_study import (
    CONDITIONS,
    apply_condition,
    condition_rng,
    cue_table,
    evaluate_cues,
    sample_index,
)
from training.lib.synthetic import synthetic_image


@pytest.fixture(scope="module")
def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    labels = np.arange(12) % 2
    return np.stack([synthetic_image(rng, fake=bool(label)) for label in labels]), labels


def _ramp_maps(images: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.linspace(0, 1, 32)[:, None], (len(images), 32, 32)).copy()


def test_the_conditions_cover_the_question_once_each():
    keys = [(c.condition, c.level) for c in CONDITIONS]
    assert len(keys) == len(set(keys)) and keys[0] == (NONE, 0)
    names = {c.condition for c in CONDITIONS}
    assert names == {"none", "lowpass", "highpass", "amplitude_swap", "centre_fill", "border_fill", "gradcam_top",
                     "gradcam_bottom", "tiles", "grayscale", "channel", "jpeg_grid"}
    assert (LOWPASS, 8) in keys and [level for name, level in keys if name == JPEG_GRID] == list(range(8))
    assert sorted(level for name, level in keys if name == "tiles") == [4, 8, 16]


@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda c: f"{c.condition}-{c.level:g}")
def test_every_condition_gives_new_uint8_images_the_same_for_every_model(batch, condition):
    images, labels = batch
    before = images.copy()
    maps = _ramp_maps(images)
    out = apply_condition(condition, images, labels, condition_rng(0, condition), maps)
    assert out.shape == images.shape and out.dtype == np.uint8 and not np.shares_memory(out, images)
    np.testing.assert_array_equal(images, before)  # never edits the test set in place
    again = apply_condition(condition, images, labels, condition_rng(0, condition), maps)
    np.testing.assert_array_equal(out, again)  # seeded by (seed, condition, level): every model sees these
    assert (condition.condition == NONE) == np.array_equal(out, images)


def test_the_gradcam_conditions_need_the_models_maps(batch):
    images, labels = batch
    condition = next(c for c in CONDITIONS if c.condition == GRADCAM_TOP)
    with pytest.raises(ValueError, match="saliency"):
        apply_condition(condition, images, labels, condition_rng(0, condition))


def test_the_sample_is_stratified_and_seeded():
    labels = np.repeat([0, 1], 50)
    picked = sample_index(labels, 20, seed=0)
    assert len(picked) == 20 and (labels[picked] == 0).sum() == 10
    np.testing.assert_array_equal(picked, sample_index(labels, 20, seed=0))
    assert not np.array_equal(picked, sample_index(labels, 20, seed=1))
    np.testing.assert_array_equal(sample_index(labels, None), np.arange(100))


def test_table_scores_exactly_the_changed_images(trained_zoo, synthetic_dataset, monkeypatch):
    entry = read_entry("cnn_maxpool", trained_zoo)
    model = load_model(entry)
    test = synthetic_dataset.test
    labels = np.asarray(test.labels).astype(int)
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def spy(model, images, card):
        seen.append((np.array(images), predict_prob_fake(model, images, card)))
        return seen[-1][1]

    explained = []

    def maps(model, card, images, method, targets, seed=None):  # the model's own Grad-CAM, for its own verdicts
        explained.append((method, list(targets)))
        return _ramp_maps(images)

    monkeypatch.setattr(cue_study, "predict_prob_fake", spy)
    monkeypatch.setattr(cue_study, "explanation_maps", maps)
    table = cue_table(model, entry.card, test.images, labels)
    assert list(table.columns) == list(CUES_COLUMNS) and len(table) == len(CONDITIONS)
    verdicts = (seen[0][1] >= threshold(entry.card)).astype(int)  # the first call scores the unchanged images
    assert explained == [("Grad-CAM", [("REAL", "FAKE")[v] for v in verdicts])]
    for condition, (images, prob_fake), row in zip(CONDITIONS, seen[1:], table.itertuples(), strict=True):
        expected = apply_condition(condition, test.images, labels, condition_rng(0, condition), _ramp_maps(test.images))
        np.testing.assert_array_equal(images, expected, err_msg=condition.label)
        metrics = binary_metrics(labels, prob_fake, threshold(entry.card))
        assert (row.accuracy, row.roc_auc) == pytest.approx((metrics["accuracy"], metrics["roc_auc"]))
        assert row.mean_p_fake_real == pytest.approx(prob_fake[labels == 0].mean())
        assert row.mean_p_fake_fake == pytest.approx(prob_fake[labels == 1].mean())
    clean = table.iloc[0]
    assert clean["accuracy"] == pytest.approx(entry.test_metrics["accuracy"])  # the unchanged whole split
    assert {GRADCAM_TOP, GRADCAM_BOTTOM} <= set(table["condition"])


def test_evaluate_publishes_cues_and_spectra_into_the_entry(trained_zoo, synthetic_dataset, tmp_path):
    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    model_bytes = (zoo / "cnn_strided" / "model.keras").read_bytes()
    table = evaluate_cues("cnn_strided", synthetic_dataset, zoo, sample=40)
    entry = read_entry("cnn_strided", zoo)  # still a valid entry
    stored = entry.cues()
    assert list(stored.columns) == list(CUES_COLUMNS) and len(stored) == len(CONDITIONS)
    np.testing.assert_allclose(stored["accuracy"], table["accuracy"], atol=1e-6)
    assert (stored["n"] == 40).all()
    with np.load(zoo / "cnn_strided" / CUE_SPECTRA_FILE, allow_pickle=False) as archive:
        assert archive["class_difference"].shape == (32, 32) and archive["image_bands"].shape == (2, 16)
        assert archive["gradient_power"].shape == (32, 32) and archive["gradient_bands"].shape == (16,)
        assert archive["gradient_bands"].sum() == pytest.approx(1.0, abs=1e-5)
        assert archive["image_bands"].sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
    assert entry.cue_spectra() is not None
    block = entry.card.to_dict()["cues"]
    assert block["n"] == 40 and block["per_class"] == {"REAL": 20, "FAKE": 20} and block["file"] == CUES_FILE
    assert not {"test_set", "view", "left_out"} & set(block)  # a CIFAKE model's files are as they always were
    assert (zoo / "cnn_strided" / "model.keras").read_bytes() == model_bytes
    assert not list(zoo.glob(".tmp-*")) and not list(zoo.glob(".old-*"))


def test_a_crash_while_writing_leaves_the_entry_untouched(trained_zoo, synthetic_dataset, tmp_path, monkeypatch):
    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    card_before = (zoo / "cnn_maxpool" / "card.json").read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(cue_study, "write_card", crash)
    with pytest.raises(OSError, match="disk full"):
        evaluate_cues("cnn_maxpool", synthetic_dataset, zoo, sample=10, conditions=CONDITIONS[:2])
    assert not (zoo / "cnn_maxpool" / CUES_FILE).exists() and not (zoo / "cnn_maxpool" / CUE_SPECTRA_FILE).exists()
    assert (zoo / "cnn_maxpool" / "card.json").read_text() == card_before
    assert not list(zoo.glob(".tmp-*"))


def _arm(zoo, source: str = "cnn_strided", augmentation: str = "none") -> str:
    """A copy of an entry named and carded as an augmentation-study arm."""
    name = f"{source}-aug-{augmentation}"
    shutil.copytree(zoo / source, zoo / name)
    card = json.loads((zoo / name / "card.json").read_text())
    edit_card(zoo / name, name=name, role="study", train={**card["train"], "augmentation": augmentation})
    return name


def test_all_measures_the_detectors_and_a_named_arm_on_request(trained_zoo, synthetic_zip, tmp_path, capsys,
                                                               monkeypatch):
    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    arm = _arm(zoo)
    monkeypatch.setenv("CIFAKE_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["all", "--data", str(synthetic_zip), "--zoo", str(zoo), "--sample", "12"]) == 0
    captured = capsys.readouterr()
    assert (zoo / "cnn_maxpool" / CUES_FILE).is_file() and (zoo / "cnn_strided" / CUES_FILE).is_file()
    assert not (zoo / arm / CUES_FILE).exists()
    assert f"note: 'all' leaves out {arm} (name them to include them)" in captured.err
    assert f"[{len(CONDITIONS)}/{len(CONDITIONS)}]" in captured.err and "cnn_strided: accuracy after each change" in captured.out
    assert main([arm, "--data", str(synthetic_zip), "--zoo", str(zoo), "--sample", "12"]) == 0
    assert (zoo / arm / CUES_FILE).is_file()


def test_command_line_errors_are_one_line(trained_zoo, capsys):
    assert main(["nope", "--zoo", str(trained_zoo)]) == 2
    assert "error: no model named 'nope'" in capsys.readouterr().err
    for bad in ("1", "many"):
        with pytest.raises(SystemExit) as exit_info:
            main(["cnn_maxpool", "--zoo", str(trained_zoo), "--sample", bad])
        assert exit_info.value.code == 2
        assert "--sample" in capsys.readouterr().err


def test_detectors_are_the_entries_whose_role_says_so(tmp_path):
    def entry(name: str, **card) -> ZooEntry:
        return ZooEntry(name, tmp_path / name, typed(name=name, schema_version=SCHEMA_VERSION, **card))

    assert is_detector(entry("cnn_strided", role="detector"))
    assert not is_detector(entry("cnn_strided", role="study"))
    assert not is_detector(entry("cnn_strided-aug-none"))  # an old card without a role: named like an arm
    assert is_detector(entry("odd"))


def test_the_zoo_reads_cue_files_only_when_they_are_sound(trained_zoo, tmp_path):
    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    folder = zoo / "cnn_maxpool"
    entry = read_entry("cnn_maxpool", zoo)
    assert entry.cues() is None and entry.cue_spectra() is None  # not measured: optional
    for text in ("", "something,else\n1,2\n", "condition,level,accuracy\n"):
        (folder / CUES_FILE).write_text(text)
        assert entry.cues() is None, text
    (folder / CUES_FILE).write_text("condition,level,accuracy\nnone,0,0.9\n")
    assert entry.cues()["accuracy"].tolist() == [0.9]
    arrays = {"class_difference": np.zeros((32, 32)), "image_bands": np.zeros((2, 16)),
              "gradient_power": np.zeros((32, 32)), "gradient_bands": np.zeros(16)}
    np.savez(folder / CUE_SPECTRA_FILE, **arrays)
    assert set(entry.cue_spectra()) == set(arrays)
    np.savez(folder / CUE_SPECTRA_FILE, **{**arrays, "gradient_bands": np.array([{"a": 1}], dtype=object)})
    assert entry.cue_spectra() is None  # a pickled array is refused, not loaded
    np.savez(folder / CUE_SPECTRA_FILE, class_difference=np.zeros((32, 32)))
    assert entry.cue_spectra() is None
    (folder / CUE_SPECTRA_FILE).write_bytes(b"not a zip")
    assert entry.cue_spectra() is None
