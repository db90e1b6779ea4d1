"""model_zoo.input_check on hand-written cards: the size and novelty sentences for CIFAKE models and for models
trained on a folder of their own images (no model, no TensorFlow)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dashboard.verdict_display import input_notes
from model_zoo.card import Card
from model_zoo.input_check import check_input
from model_zoo.judge import JudgedImage
from model_zoo.novelty import NoveltyStats, image_size_facts, novelty_block, train_image_range
from model_zoo.verdicts import verdict_for
from tests.cards import typed

CIFAKE = typed({"input_shape": [32, 32, 3], "train": {"dataset": "data/cifake.zip"},
                "novelty": {"cutoff": 2.0, "train_image_size": [32, 32]}})
NEVER_RESIZED = "the model learnt from 32x32 images that were never resized, so verdicts on resized images are unreliable."


def _folder_card(size: list[int], extent: list[list[int]], **train) -> Card:
    """A resize-policy model trained on a labelled folder (train.split) whose images had these (H, W) sizes."""
    return typed({"input_shape": [32, 32, 3], "train": {"split": {"seed": 0}, **train},
                  "novelty": {"cutoff": 2.0, "train_image_size": size, "train_image_range": extent}})


# 40 to 64 pixels a side (most 64 high, 48 wide), all shrunk to 32x32 in training.
MIXED = _folder_card([64, 48], [[40, 40], [64, 64]])


def test_a_cifake_card_keeps_its_wording():
    check = check_input((640, 480), CIFAKE, 3.5)
    assert check.messages() == [
        "This 640x480 image was shrunk 20x to 32x32, its 1.3:1 shape squeezed into a square; " + NEVER_RESIZED,
        "To this model the image looks unlike its training images (novelty 3.5, above the 2.0 that only 1 in 100 "
        "CIFAKE validation images exceed), so its verdict is unreliable."]
    assert check.resampled and check.in_distribution is False
    native = check_input((32, 32), CIFAKE, 1.5)
    assert native.messages() == ["To this model the image looks like its training images (novelty 1.5, within the "
                                 "cut-off 2.0)."]
    assert not native.resampled and native.in_distribution is True
    assert check_input((16, 16), CIFAKE).size_message() == "This 16x16 image was enlarged 2x to 32x32; " + NEVER_RESIZED
    assert check_input((32, 32), typed(input_shape=[32, 32, 3])).size_message() is None  # an older card: no novelty


def test_the_api_object_keeps_its_fields_and_adds_the_range():
    record = check_input((64, 48), CIFAKE, 1.0).as_dict()
    assert record["train_image_size"] == [32, 32] and record["train_image_range"] == [[32, 32], [32, 32]]
    assert {"width", "height", "model_input", "resampled", "shrink_factor", "novelty", "novelty_cutoff", "novel",
            "novelty_untrusted", "in_distribution", "messages"} <= set(record)
    # (width, height) like every other size in the object; the card stores (height, width).
    assert check_input((48, 64), MIXED).as_dict()["train_image_range"] == [[40, 40], [64, 64]]
    tall = _folder_card([60, 40], [[50, 30], [70, 40]])
    record = check_input((35, 60), tall).as_dict()
    assert record["train_image_size"] == [40, 60] and record["train_image_range"] == [[30, 50], [40, 70]]
    assert record["resampled"] is False


def test_a_folder_of_the_models_input_size_reads_like_cifake():
    card = _folder_card([32, 32], [[32, 32], [32, 32]])
    assert check_input((32, 32), card).size_message() is None and not check_input((32, 32), card).resampled
    big = check_input((640, 480), card, 1.0)
    assert big.size_message() == ("This 640x480 image was shrunk 20x to 32x32, its 1.3:1 shape squeezed into a "
                                  "square; " + NEVER_RESIZED)
    assert big.resampled and big.in_distribution is False


def test_an_upload_within_the_resized_training_sizes_is_resized_as_they_were():
    check = check_input((48, 48), MIXED, 1.0)
    assert check.size_message() == ("This 48x48 image was shrunk 1.5x to 32x32; the model learnt from 40x40 to 64x64 "
                                    "images resized to 32x32 the same way, so its size alone does not make the "
                                    "verdict unreliable.")
    assert not check.resampled and check.in_distribution is True
    assert check_input((48, 48), MIXED).in_distribution is None  # no novelty score: cannot be told, not "unlike"
    for size in ((40, 40), (64, 64), (40, 64), (64, 40)):  # the edges are in, either way round
        assert not check_input(size, MIXED).resampled, size


def test_an_upload_outside_the_resized_training_sizes_says_which_way():
    big = check_input((640, 480), MIXED, 1.0)
    assert big.size_message() == ("This 640x480 image was shrunk 20x to 32x32, its 1.3:1 shape squeezed into a square; "
                                  "the model learnt from 40x40 to 64x64 images resized to 32x32, and this one is "
                                  "bigger than any of them, so verdicts on it are unreliable.")
    assert big.resampled and big.in_distribution is False
    small = check_input((20, 20), MIXED)
    assert small.size_message().endswith("and this one is smaller than any of them, so verdicts on it are unreliable.")
    assert small.size_message().startswith("This 20x20 image was enlarged 1.6x to 32x32;")
    assert "outside that range of sizes" in check_input((100, 30), MIXED).size_message()  # wider, yet shorter
    assert check_input((65, 48), MIXED).resampled and check_input((48, 39), MIXED).resampled  # one pixel out


def test_the_models_own_input_size_is_named_as_needing_no_resizing():
    # Training enlarged 16-40 px images to 32x32: a 32x32 upload is within them; one folder size, one sentence.
    small = _folder_card([24, 24], [[16, 16], [40, 40]])
    assert check_input((32, 32), small).size_message() == (
        "This 32x32 image needed no resizing; the model learnt from 16x16 to 40x40 images resized to 32x32, so its "
        "size alone does not make the verdict unreliable.")
    one = _folder_card([24, 24], [[24, 24], [24, 24]])
    assert check_input((24, 24), one).size_message() == (
        "This 24x24 image was enlarged 1.3x to 32x32; the model learnt from 24x24 images resized to 32x32 the same "
        "way, so its size alone does not make the verdict unreliable.")
    native = check_input((32, 32), one)
    assert native.resampled and native.size_message() == (
        "This 32x32 image needed no resizing; the model learnt from 24x24 images resized to 32x32, and this one is "
        "bigger than any of them, so verdicts on it are unreliable.")


@pytest.mark.parametrize(("card", "calibrated_on"), [
    (CIFAKE, "CIFAKE validation images"),
    (typed({"input_shape": [32, 32, 3], "novelty": {"cutoff": 2.0}}), "CIFAKE validation images"),  # older cards: CIFAKE
    (MIXED, "of its validation images"),
    (CIFAKE.updated(train={"split": {"seed": 0}}), "of its validation images"),  # a folder card from before the range
    (_folder_card([64, 48], [[40, 40], [64, 64]], dataset_name="SDXL faces"), "SDXL faces validation images"),
])
def test_the_novelty_sentence_names_the_images_the_cut_off_was_set_on(card, calibrated_on):
    assert check_input((48, 48), card, 3.0).novelty_message() == (
        f"To this model the image looks unlike its training images (novelty 3.0, above the 2.0 that only 1 in 100 "
        f"{calibrated_on} exceed), so its verdict is unreliable.")


def test_the_dashboards_note_names_the_calibration_images_of_the_flagged_models():
    def judged(*cards: tuple[str, dict]) -> JudgedImage:
        return JudgedImage("x.png", tuple(verdict_for(name, 0.5, card, check_input((48, 48), card, 3.0))
                                          for name, card in cards), size=(48, 48))

    assert input_notes(judged(("a", MIXED)))[-1] == (
        "a finds this image unlike the images it was trained on (novelty above a cut-off that only 1 in 100 of its "
        "validation images exceed), so its verdict is unreliable.")
    assert "1 in 100 CIFAKE validation images exceed" in input_notes(judged(("a", CIFAKE), ("b", CIFAKE)))[-1]
    assert "1 in 100 of their validation images exceed" in input_notes(judged(("a", CIFAKE), ("b", MIXED)))[-1]


def test_size_facts_are_the_most_common_size_and_the_extremes():
    sizes = np.array([[64, 48], [40, 64], [64, 48], [50, 40], [64, 48]])
    assert image_size_facts(sizes) == {"train_image_size": [64, 48], "train_image_range": [[40, 40], [64, 64]]}
    assert image_size_facts(np.array([[32, 32]] * 3)) == {"train_image_size": [32, 32],
                                                          "train_image_range": [[32, 32], [32, 32]]}
    with pytest.raises(ValueError):
        image_size_facts(np.zeros((0, 2), np.int64))
    assert train_image_range(MIXED) == ((40, 40), (64, 64)) and train_image_range(CIFAKE) is None


def test_the_novelty_block_records_a_folders_sizes_and_leaves_cifakes_as_it_was():
    layer = SimpleNamespace(name="prob_fake", input=None)  # a stand-in for the model's output layer
    model = SimpleNamespace(layers=[layer], get_layer=lambda name: layer)
    stats = NoveltyStats(np.zeros((2, 3)), np.eye(3), 2.0)
    cifake = novelty_block(stats, model, n_fit=10, val_scores=np.ones(5))
    assert cifake["train_image_size"] == [32, 32] and "train_image_range" not in cifake
    sizes = np.array([[40, 64], [64, 48], [40, 64]])
    folder = novelty_block(stats, model, n_fit=10, val_scores=np.ones(5), train_sizes=sizes)
    assert folder["train_image_size"] == [40, 64] and folder["train_image_range"] == [[40, 48], [64, 64]]


def test_models_that_saw_the_image_differently_each_get_their_own_named_sentence():
    def judged(size: tuple[int, int], *cards: tuple[str, dict]) -> JudgedImage:
        return JudgedImage("x.png", tuple(verdict_for(name, 0.5, card, check_input(size, card))
                                          for name, card in cards), size=size)

    same = input_notes(judged((640, 480), ("a", CIFAKE), ("b", CIFAKE)))
    assert same == ["This 640x480 image was shrunk 20x to 32x32, its 1.3:1 shape squeezed into a square; " +
                    NEVER_RESIZED]  # one sentence for both: no names needed
    crops = MIXED.updated(preprocessing={**MIXED.preprocessing.to_dict(),
                                         "input_policy": {"kind": "crop", "size": 32, "max_crops": 16}})
    mixed = input_notes(judged((32, 32), ("a", CIFAKE), ("c", crops)))
    assert mixed == ["c: This 32x32 image was judged at its own resolution by one 32x32 crop covering it; nothing "
                     "was resized."]  # a's native size needs no sentence; c's is named as c's
