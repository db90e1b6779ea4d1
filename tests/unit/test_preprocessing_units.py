"""model_zoo.preprocessing step by step: size, resize method, colour order, mean/std, batches, files (no TensorFlow)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from model_zoo.card import Card, CardError
from model_zoo.preprocessing import (
    UNIT_RANGE,
    batch_to_model_input,
    decode_for_card,
    image_to_model_input,
    input_size,
    normalization,
    normalize_for_card,
    resize_for_card,
)
from tests.cards import typed


def _card(height=32, width=32, **preprocessing) -> Card:
    return typed(name="t", input_shape=[height, width, 3], preprocessing={**UNIT_RANGE, **preprocessing})


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_input_size_is_height_then_width():
    assert input_size(typed(input_shape=[48, 64, 3])) == (48, 64) == typed(input_shape=[48, 64, 3]).input_size
    with pytest.raises(CardError, match=r"input_shape must be \[H, W, 3\], got \['48', 64.0, 3\]"):
        typed(input_shape=["48", 64.0, 3])


def test_resize_uses_the_cards_method():
    big = _image(96, 80)
    for method, flag in (("area", cv2.INTER_AREA), ("bilinear", cv2.INTER_LINEAR), ("nearest", cv2.INTER_NEAREST)):
        out = resize_for_card(big, _card(32, 40, resize=method))
        assert out.shape == (32, 40, 3)
        np.testing.assert_array_equal(out, cv2.resize(big, (40, 32), interpolation=flag), err_msg=method)
    # No resize method in the card: area.
    card = typed(input_shape=[32, 40, 3], preprocessing={"mean": [0, 0, 0], "std": [255, 255, 255]})
    np.testing.assert_array_equal(resize_for_card(big, card), cv2.resize(big, (40, 32), interpolation=cv2.INTER_AREA))


def test_area_enlarges_bilinearly_and_the_right_size_is_untouched():
    small = _image(16, 20)
    np.testing.assert_array_equal(resize_for_card(small, _card(32, 40)),
                                  cv2.resize(small, (40, 32), interpolation=cv2.INTER_LINEAR))
    # One side smaller is enough to enlarge bilinearly.
    tall = _image(64, 20)
    np.testing.assert_array_equal(resize_for_card(tall, _card(32, 40)),
                                  cv2.resize(tall, (40, 32), interpolation=cv2.INTER_LINEAR))
    wide = _image(20, 64)
    np.testing.assert_array_equal(resize_for_card(wide, _card(32, 40)),
                                  cv2.resize(wide, (40, 32), interpolation=cv2.INTER_LINEAR))
    exact = _image(32, 40)
    assert resize_for_card(exact, _card(32, 40)) is exact
    # One side exactly right and the other larger: only shrinking, so area.
    for shape in ((32, 80), (64, 40)):
        image = _image(*shape)
        np.testing.assert_array_equal(resize_for_card(image, _card(32, 40)),
                                      cv2.resize(image, (40, 32), interpolation=cv2.INTER_AREA), err_msg=str(shape))


def test_unknown_resize_method_names_the_model():
    with pytest.raises(CardError, match=r"preprocessing.resize must be one of 'area', 'bilinear' or 'nearest'"):
        _card(resize="lanczos")


def test_normalization_constants_and_defaults():
    to_bgr, mean, std = normalization(_card(color="BGR", mean=[1, 2, 3], std=[4, 5, 6]))
    assert to_bgr is True and mean.dtype == np.float32 and std.dtype == np.float32
    assert list(mean) == [1, 2, 3] and list(std) == [4, 5, 6]
    to_bgr, mean, std = normalization(_card(mean=[0, 0, 0], std=[1, 1, 1]))
    assert to_bgr is False and list(mean) == [0, 0, 0] and list(std) == [1, 1, 1]


def test_normalize_swaps_channels_before_mean_and_std():
    pixel = np.array([[[200, 100, 50]]], np.uint8)
    rgb = normalize_for_card(pixel, _card(mean=[10, 20, 30], std=[2, 4, 5]))
    np.testing.assert_allclose(rgb[0, 0], [(200 - 10) / 2, (100 - 20) / 4, (50 - 30) / 5])
    bgr = normalize_for_card(pixel, _card(color="BGR", mean=[10, 20, 30], std=[2, 4, 5]))
    np.testing.assert_allclose(bgr[0, 0], [(50 - 10) / 2, (100 - 20) / 4, (200 - 30) / 5])
    assert rgb.dtype == np.float32
    unit = normalize_for_card(np.array([[[255, 0, 51]]], np.uint8), _card())
    np.testing.assert_allclose(unit[0, 0], [1.0, 0.0, 0.2], rtol=1e-6)


def test_batches_of_any_sizes_and_the_fast_path():
    card = _card(32, 32, mean=[5, 5, 5], std=[2, 2, 2])
    ready = np.stack([_image(32, 32, seed) for seed in range(3)])
    np.testing.assert_array_equal(batch_to_model_input(ready, card), normalize_for_card(ready, card))
    mixed = [_image(64, 64, 1), _image(32, 32, 2), _image(10, 50, 3)]
    out = batch_to_model_input(mixed, card)
    assert out.shape == (3, 32, 32, 3) and out.dtype == np.float32
    for i, image in enumerate(mixed):
        np.testing.assert_array_equal(out[i], normalize_for_card(resize_for_card(image, card), card))
    # A 4-D batch at another size is resized too.
    other = np.stack([_image(40, 40, seed) for seed in range(2)])
    np.testing.assert_array_equal(batch_to_model_input(other, card)[1],
                                  normalize_for_card(resize_for_card(other[1], card), card))
    empty = batch_to_model_input([], _card(24, 16))
    assert empty.shape == (0, 24, 16, 3) and empty.dtype == np.float32


def _encoded(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, quality=95)
    return buffer.getvalue()


def test_files_decode_resize_and_normalise_like_arrays():
    card = _card(32, 32, resize="bilinear", mean=[1, 2, 3], std=[3, 3, 3])
    image = _image(80, 60)
    png = _encoded(image, "PNG")
    seen = decode_for_card(png, card)
    np.testing.assert_array_equal(seen, resize_for_card(image, card))
    batch = image_to_model_input(png, card, name="photo.png")
    assert batch.shape == (1, 32, 32, 3) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0], normalize_for_card(seen, card))


def test_large_jpegs_are_draft_decoded_to_at_least_four_times_the_input():
    card = _card(32, 32)
    photo = np.kron(_image(60, 80, 4), np.ones((20, 20, 1), np.uint8))  # 1200x1600, smooth blocks
    jpeg = _encoded(photo, "JPEG")
    seen = decode_for_card(jpeg, card)
    assert seen.shape == (32, 32, 3)
    full = resize_for_card(np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")), card)
    # Draft decoding at >= 128 px then area-resizing stays within a few levels of the full decode.
    assert np.abs(seen.astype(int) - full.astype(int)).mean() < 3
    small_draft = Image.open(io.BytesIO(jpeg))
    small_draft.draft("RGB", (4 * 32, 4 * 32))
    assert small_draft.size == (200, 150)  # 1/8 scale is the smallest at least 128 pixels high
    np.testing.assert_array_equal(seen, resize_for_card(np.asarray(small_draft.convert("RGB")), card))
    # min_size is (4 H, 4 W): a model with 200-pixel input gets a draft of at least 800 pixels.
    draft = Image.open(io.BytesIO(jpeg))
    draft.draft("RGB", (4 * 200, 4 * 200))
    assert min(draft.size) >= 800
    for shape in ((200, 200), (200, 50), (50, 200)):  # the larger side sets the draft size, whichever it is
        big_card = _card(*shape)
        np.testing.assert_array_equal(decode_for_card(jpeg, big_card),
                                      resize_for_card(np.asarray(draft.convert("RGB")), big_card), err_msg=str(shape))


def test_bad_bytes_are_an_image_error_naming_the_file():
    from model_zoo.images import ImageError

    with pytest.raises(ImageError, match="notes.txt"):
        image_to_model_input(b"not an image", _card(), name="notes.txt")
