"""Training augmentations: each does what its name says, on uint8 batches, and nothing else."""

import cv2
import numpy as np
import pytest

from model_zoo.image_changes import jpeg_recompress as pil_jpeg
from training.lib import augment as A

tf = pytest.importorskip("tensorflow")


def _textured_batch(n: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth random images (like photos, unlike white noise, they survive JPEG recognisably)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    return np.stack([cv2.resize(image, (32, 32), interpolation=cv2.INTER_CUBIC) for image in small])


@pytest.mark.parametrize("name", A.AUGMENTATIONS)
def test_every_augmentation_keeps_shape_and_dtype_and_none_is_identity(name):
    images = _textured_batch()
    out = A.augment(tf.constant(images), name).numpy()
    assert out.shape == images.shape and out.dtype == np.uint8
    changed = np.mean([not np.array_equal(a, b) for a, b in zip(images, out)])
    if name == "none":
        assert changed == 0
    else:  # flips alone change about half the images; the others change more
        assert changed > 0.3


def test_unknown_augmentation_is_refused():
    with pytest.raises(ValueError, match="unknown augmentation"):
        A.augment(tf.constant(_textured_batch(2)), "mixup")


def test_blur_is_a_gaussian_blur(monkeypatch):
    monkeypatch.setattr(A, "BLUR_SIGMA", (1.0, 1.0))
    images = _textured_batch(8)
    out = A.gaussian_blur(tf.constant(images)).numpy()
    expected = np.stack([cv2.GaussianBlur(i, (9, 9), 1.0, borderType=cv2.BORDER_REFLECT_101) for i in images])
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_batched_jpeg_matches_per_image_jpeg_at_that_quality(monkeypatch):
    monkeypatch.setattr(A, "JPEG_QUALITY", (40, 40))
    images = _textured_batch(16)
    out = A.jpeg_recompress(tf.constant(images)).numpy().astype(int)
    expected = np.stack([pil_jpeg(i, 40) for i in images]).astype(int)
    # Same codec settings: far closer to a per-image JPEG than to the original.
    assert np.abs(out - expected).mean() < 0.5 * np.abs(out - images.astype(int)).mean()


def test_downscale_upscale_loses_detail_like_the_robustness_corruption(monkeypatch):
    monkeypatch.setattr(A, "DOWNSCALE_FACTOR", (0.5, 0.5))
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)  # pure detail: halving it destroys it
    out = A.downscale_upscale(tf.constant(images)).numpy().astype(float)
    assert out.std() < 0.6 * images.std()


def test_noise_has_the_configured_strength(monkeypatch):
    monkeypatch.setattr(A, "NOISE_SIGMA", (5.0, 5.0))
    images = np.full((16, 32, 32, 3), 128, np.uint8)
    out = A.gaussian_noise(tf.constant(images)).numpy().astype(float)
    assert 4.5 < out.std() < 5.5 and abs(out.mean() - 128) < 0.5


def test_rotation_turns_a_bar_but_leaves_a_centred_disc(monkeypatch):
    yy, xx = np.mgrid[:32, :32]
    disc = (((yy - 15.5) ** 2 + (xx - 15.5) ** 2) < 100)[..., None].repeat(3, -1).astype(np.uint8) * 255
    bar = (np.abs(yy - 15.5) < 2)[..., None].repeat(3, -1).astype(np.uint8) * 255
    images = np.stack([disc] * 8 + [bar] * 8)
    tf.random.set_seed(0)  # fixed angles: the disc's resampled rim changes a little, a turned bar much more
    out = A.random_rotation(tf.constant(images), 15.0).numpy().astype(int)
    disc_change = np.abs(out[:8] - disc).mean()
    bar_change = np.abs(out[8:] - bar).mean()
    assert disc_change < 8 and bar_change > 2 * disc_change
    unrotated = A.random_rotation(tf.constant(images), 0.0).numpy()
    assert np.array_equal(unrotated, images)


def test_resized_crop_zooms_in_and_keeps_flat_images_flat():
    flat = np.full((8, 32, 32, 3), 77, np.uint8)
    assert np.array_equal(A.random_resized_crop(tf.constant(flat)).numpy(), flat)
    ramp = np.broadcast_to(np.arange(32, dtype=np.uint8)[None, None, :, None] * 8, (64, 32, 32, 3)).copy()
    out = A.random_resized_crop(tf.constant(ramp)).numpy().astype(float)
    # A crop of a horizontal ramp, stretched back to full width, spans a smaller range of values.
    spans = out[:, 16, -1, 0] - out[:, 16, 0, 0]
    assert np.all(spans <= 248 + 1) and np.mean(spans) < 240


def test_robust_leaves_about_half_the_images_clean():
    images = _textured_batch(256, seed=2)
    out = A.random_corruption(tf.constant(images)).numpy()
    clean = np.mean([np.array_equal(a, b) for a, b in zip(images, out)])
    assert abs(clean - A.ROBUST_FRACTION) < 0.12
