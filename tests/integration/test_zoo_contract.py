"""The zoo contract: validation, atomic writes, and the single preprocessing path."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest

from model_zoo import (
    ZooError,
    batch_to_model_input,
    image_to_model_input,
    list_entries,
    read_entry,
    resize_for_card,
    staged_entry,
    validate_card,
    write_card,
)
from model_zoo.zoo import _swap_in
from tests.cards import typed


def test_validate_card_names_each_problem(trained_zoo):
    card = json.loads((trained_zoo / "cnn_maxpool" / "card.json").read_text())
    assert validate_card(card) == []
    del card["params"]
    card["input_shape"] = [32, 32]
    del card["metrics"]["test"]["roc_auc"]
    problems = validate_card(card)
    assert "missing key 'params'" in problems
    assert any("input_shape" in p for p in problems)
    assert "metrics.test missing 'roc_auc'" in problems
    assert validate_card([1, 2]) == ["card is not a JSON object"]


def test_a_failed_write_leaves_the_old_entry_untouched(trained_zoo, tmp_path):
    zoo = shutil.copytree(trained_zoo, tmp_path / "zoo")
    before = (zoo / "cnn_maxpool" / "card.json").read_text()
    with pytest.raises(RuntimeError, match="disk full"):
        with staged_entry("cnn_maxpool", zoo, from_existing=True) as folder:
            (folder / "card.json").write_text("{ half a card")
            raise RuntimeError("disk full")
    assert (zoo / "cnn_maxpool" / "card.json").read_text() == before
    assert not list(zoo.glob(".tmp-*"))
    assert read_entry("cnn_maxpool", zoo).card.to_dict()["name"] == "cnn_maxpool"


def test_an_invalid_staged_entry_is_never_published(tmp_path):
    with pytest.raises(ZooError, match="missing key"):
        with staged_entry("half", tmp_path) as folder:
            (folder / "model.keras").write_bytes(b"x")
            write_card(folder, {"name": "half"})
    assert not (tmp_path / "half").exists() and not list(tmp_path.glob(".tmp-*"))


def test_a_crash_between_the_two_renames_is_recovered(trained_zoo, tmp_path):
    zoo = shutil.copytree(trained_zoo, tmp_path / "zoo")
    # Simulate dying right after the old entry was moved aside.
    (zoo / "cnn_maxpool").rename(zoo / ".old-cnn_maxpool-deadbeef")
    entries, problems = list_entries(zoo)
    assert [e.name for e in entries] == ["cnn_maxpool", "cnn_strided"] and problems == []


def test_swap_replaces_an_existing_entry(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "a").write_text("old")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "a").write_text("new")
    _swap_in(tmp_path / "new", tmp_path / "old")
    assert (tmp_path / "old" / "a").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_dataset_arrays_and_file_decoding_give_identical_model_input(trained_zoo, synthetic_zip, synthetic_dataset):
    """Training/evaluation (arrays from the loader) and serving (file bytes) must not skew."""
    card = read_entry("cnn_maxpool", trained_zoo).card
    with zipfile.ZipFile(synthetic_zip) as archive:
        for i in (0, 5, 33):
            served = image_to_model_input(archive.read(synthetic_dataset.test.paths[i]), card)
            trained = batch_to_model_input(synthetic_dataset.test.images[i : i + 1], card)
            np.testing.assert_array_equal(served, trained)
    assert served.dtype == np.float32 and 0.0 <= served.min() and served.max() <= 1.0


def test_card_drives_resize_and_normalisation():
    card = typed(name="t", input_shape=[64, 48, 3],
                 preprocessing={"color": "BGR", "resize": "bilinear", "mean": [10.0, 20.0, 30.0], "std": [2.0, 2.0, 2.0]})
    image = np.zeros((100, 80, 3), np.uint8)
    image[..., 0] = 200  # red
    assert resize_for_card(image, card).shape == (64, 48, 3)
    x = batch_to_model_input([image, image[:50]], card)
    assert x.shape == (2, 64, 48, 3)
    # BGR: red lands in the last channel, normalised with the last mean/std.
    np.testing.assert_allclose(x[0, 0, 0], [(0 - 10) / 2, (0 - 20) / 2, (200 - 30) / 2])


def test_trained_from_tells_scratch_from_fine_tuned():
    from model_zoo.zoo import trained_from

    assert trained_from(typed(train={"weights": None})) == "from scratch"
    assert trained_from(typed()) == "from scratch"
    assert typed(train={"weights": "imagenet"}).trained_from == "ImageNet-pretrained, fine-tuned"
    assert typed(train={"weights": "/data/w/resnet50_notop.h5"}).trained_from == "fine-tuned from resnet50_notop.h5"
