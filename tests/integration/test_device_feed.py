"""The device feed (training.lib.device_feed): the card's normalisation to 1e-5, the host feed's augmentations, the
split's batches, and where --feed device applies."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from model_zoo import normalize_for_card
from tests.cards import typed
from training.lib.device_feed import DeviceBatches, augment_on_device, normalize_on_device

RGB = typed(input_shape=[8, 8, 3], preprocessing={"color": "RGB", "resize": "area", "mean": [127.5] * 3, "std": [127.5] * 3})
BGR = typed(input_shape=[8, 8, 3],
            preprocessing={"color": "BGR", "resize": "area", "mean": [103.9, 116.8, 123.7], "std": [1.0, 2.0, 4.0]})


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (32, 8, 8, 3), dtype=np.uint8)


@pytest.mark.parametrize("card", [RGB, BGR], ids=["rgb", "bgr"])
def test_normalisation_on_the_device_is_the_cards(images, card):
    ours = ops.convert_to_numpy(normalize_on_device(ops.convert_to_tensor(images), card))
    assert ours.dtype == np.float32 and np.abs(ours - normalize_for_card(images, card)).max() <= 1e-5


def test_flip_shift_only_flips_and_shifts_whole_pixels_with_reflect_padding(images):
    import keras

    out = ops.convert_to_numpy(augment_on_device(ops.convert_to_tensor(images), "flip_shift",
                                                 keras.random.SeedGenerator(0)))
    assert out.shape == images.shape and out.dtype == np.uint8
    shifts = set()
    for before, after in zip(images, out, strict=True):
        found = [(flip, dy, dx) for flip, image in enumerate((before, before[:, ::-1])) for dy in range(5)
                 for dx in range(5)
                 if (np.pad(image, [(2, 2), (2, 2), (0, 0)], mode="reflect")[dy:dy + 8, dx:dx + 8] == after).all()]
        assert found, "not a flip and whole-pixel shift of its image"
        shifts.add(found[0])
    assert len(shifts) > 5  # each image drew its own flip and shift
    none = augment_on_device(ops.convert_to_tensor(images), "none", keras.random.SeedGenerator(0))
    assert np.array_equal(ops.convert_to_numpy(none), images)
    with pytest.raises(ValueError, match="--feed device augments with none, flip, flip_shift only, not 'rotate'"):
        augment_on_device(ops.convert_to_tensor(images), "rotate", keras.random.SeedGenerator(0))


def test_batches_hold_the_splits_images_and_reshuffle_each_epoch(images):
    labels = (images.mean(axis=(1, 2, 3)) > 127).astype(int)
    index = np.arange(3, 30)  # a split: 27 of the 32 images
    batches = DeviceBatches(images, labels, index, 8, RGB, "none", shuffle=True, seed=3)
    assert len(batches) == 4
    seen_x, seen_y = zip(*(map(ops.convert_to_numpy, batches[i]) for i in range(len(batches))), strict=True)
    x, y = np.concatenate(seen_x), np.concatenate(seen_y)
    expected = normalize_for_card(images[index], RGB)
    order = [int(np.flatnonzero((expected == row).all(axis=(1, 2, 3)))[0]) for row in x]  # which image each row is
    assert sorted(order) == list(range(len(index)))  # every image of the split once, none from outside it
    assert np.array_equal(y, labels[index][order])  # each with its own label
    first = order
    batches.on_epoch_end()
    again = np.concatenate([ops.convert_to_numpy(batches[i][0]) for i in range(len(batches))])
    assert not np.array_equal(again, x)  # a new order
    resumed = DeviceBatches(images, labels, index, 8, RGB, "none", shuffle=True, seed=3, epoch=1)
    assert np.array_equal(np.concatenate([ops.convert_to_numpy(resumed[i][0]) for i in range(4)]), again)
    assert first != list(range(len(index)))
    with pytest.raises(ValueError, match="card's input size 32x32"):
        DeviceBatches(images, labels, index, 8, RGB.updated(input_shape=[32, 32, 3]))


def test_the_device_feed_is_for_fine_tuning_a_backbone():
    """training.train --feed device end to end is tests/integration/test_gpu_script.py (the script a GPU session runs)."""
    from training.lib.training_run import TrainConfig

    with pytest.raises(ValueError, match="--feed device applies to fine-tuning a backbone"):
        TrainConfig(arch="cnn_maxpool", feed="device")
    with pytest.raises(ValueError, match="--feed device applies to fine-tuning a backbone"):
        TrainConfig(arch="efficientnet_lite1", feed="device", freeze_backbone=True)
    assert TrainConfig(arch="efficientnet_lite2", feed="device").feed == "device"
