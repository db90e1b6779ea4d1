"""Each controlled change of the cue study does what it says (model_zoo/image_changes.py, model_zoo/cue_vocabulary.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from model_zoo import image_changes as T
from model_zoo.cue_vocabulary import BANDS, NEUTRAL, band_fractions, band_index, normalised_power
from training.lib.synthetic import synthetic_image


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.stack([synthetic_image(rng, fake=i % 2 == 1) for i in range(8)])


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    """Uniform noise: energy in every band, so a filter that leaks shows it."""
    return np.random.default_rng(1).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)


def _spectrum(values: np.ndarray) -> np.ndarray:
    return np.fft.fft2(np.asarray(values, np.float64), axes=(1, 2))


def _energy(spectrum: np.ndarray, where: np.ndarray) -> float:
    return float((np.abs(spectrum[:, where, :]) ** 2).sum())


def test_sixteen_radial_bands_up_to_nyquist():
    bands = band_index(32, 32)
    assert bands.shape == (32, 32) and bands.min() == 0 and bands.max() == BANDS - 1
    assert bands[0, 0] == 0  # the mean
    for k in range(16):  # on the axes, band k is k cycles per image
        assert bands[0, k] == bands[k, 0] == bands[0, -k] == k
    assert bands[0, 16] == bands[16, 16] == bands[16, 0] == BANDS - 1  # Nyquist and the corners: the top band
    assert bands[3, 4] == 5  # radius 5 (a 3-4-5 triangle)
    np.testing.assert_array_equal(bands, np.roll(bands[::-1, ::-1], 1, axis=(0, 1)))  # f and -f share a band


@pytest.mark.parametrize("keep", [4, 8, 12])
def test_lowpass_leaves_no_energy_above_its_cutoff_and_keeps_the_rest(noise, keep):
    above = band_index(32, 32) >= keep
    original, filtered = _spectrum(noise), _spectrum(T.bandpass_float(noise, 0, keep))
    assert _energy(filtered, above) < 1e-18 * _energy(original, above)
    np.testing.assert_allclose(filtered[:, ~above, :], original[:, ~above, :], atol=1e-6)
    # rounded to uint8, what is left above the cut-off is rounding noise
    rounded = _spectrum(T.lowpass(noise, keep))
    assert _energy(rounded, above) < 1e-3 * _energy(original, above)
    assert T.lowpass(noise, keep).dtype == np.uint8 and T.lowpass(noise, keep).shape == noise.shape


@pytest.mark.parametrize("drop", [4, 8])
def test_highpass_is_the_residual_on_mid_grey_with_nothing_below_its_cutoff(noise, images, drop):
    below = band_index(32, 32) < drop
    residual = T.highpass_float(noise, drop) - NEUTRAL
    assert _energy(_spectrum(residual), below) < 1e-18 * _energy(_spectrum(noise), below)
    # low-pass and high-pass split the image: together they give it back
    np.testing.assert_allclose(T.bandpass_float(noise, 0, drop) + residual, noise, atol=1e-9)
    assert abs(float(T.highpass(images, drop).mean()) - NEUTRAL) < 2  # the mean went with band 0


def test_amplitude_swap_keeps_the_phase_and_takes_the_donors_amplitude(images):
    donors = images[::-1]
    swapped = _spectrum(T.amplitude_swap_float(images, donors))
    own, donor = _spectrum(images), _spectrum(donors)
    np.testing.assert_allclose(np.abs(swapped), np.abs(donor), atol=1e-6 * np.abs(donor).max())
    both = (np.abs(own) > 1e-6) & (np.abs(donor) > 1e-6)  # phase is defined where both have energy
    np.testing.assert_allclose((swapped / np.abs(swapped))[both], (own / np.abs(own))[both], atol=1e-8)
    rounded = T.amplitude_swap(images, donors).astype(np.float64)
    unclipped = (rounded > 0) & (rounded < 255)
    assert np.abs(rounded - T.amplitude_swap_float(images, donors))[unclipped].max() <= 0.5 + 1e-9
    with pytest.raises(ValueError, match="must match"):
        T.amplitude_swap(images, donors[:3])


def test_swap_donors_cross_classes_or_stay_within_one():
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    other = T.swap_donors(labels, np.random.default_rng(0))
    assert (labels[other] != labels).all()
    same = T.swap_donors(labels, np.random.default_rng(0), same_class=True)
    assert (labels[same] == labels).all() and (same != np.arange(len(labels))).all()
    np.testing.assert_array_equal(other, T.swap_donors(labels, np.random.default_rng(0)))  # seeded
    with pytest.raises(ValueError, match="both classes"):
        T.swap_donors(np.zeros(4, int), np.random.default_rng(0))


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.4, 0.5])
def test_centre_and_border_fills_replace_equal_pixel_counts(images, fraction):
    count = round(fraction * 32 * 32)
    centre, border = T.centre_mask(32, 32, count), T.border_mask(32, 32, count)
    assert centre.sum() == border.sum() == count
    assert not (centre & border).any()
    assert centre[15:17, 15:17].all() and border[[0, 0, -1, -1], [0, -1, 0, -1]].all()
    for filled, mask in ((T.fill_centre(images, fraction), centre), (T.fill_border(images, fraction), border)):
        assert (filled[:, mask] == NEUTRAL).all()
        np.testing.assert_array_equal(filled[:, ~mask], images[:, ~mask])  # nothing else touched


def test_the_quarter_centre_box_is_the_middle_16_by_16_square():
    expected = np.zeros((32, 32), bool)
    expected[8:24, 8:24] = True
    np.testing.assert_array_equal(T.centre_mask(32, 32, 256), expected)
    frame = T.border_mask(32, 32, 256)
    assert frame[:2].all() and frame[-2:].all() and frame[:, :2].all() and frame[:, -2:].all()  # a 2-px frame + 16


def test_ranked_fill_takes_the_highest_or_lowest_scores_and_breaks_ties_at_random(images):
    ramp = np.broadcast_to(np.arange(32, dtype=float)[:, None], (len(images), 32, 32))  # rows score 0..31
    rng = np.random.default_rng(0)
    top = T.fill_ranked(images, ramp, 0.25, rng, highest=True)
    bottom = T.fill_ranked(images, ramp, 0.25, rng, highest=False)
    assert (top[:, 24:] == NEUTRAL).all() and np.array_equal(top[:, :24], images[:, :24])
    assert (bottom[:, :8] == NEUTRAL).all() and np.array_equal(bottom[:, 8:], images[:, 8:])
    flat = np.zeros((len(images), 32, 32))  # an empty Grad-CAM map: the right count, drawn at random
    masks = T.ranked_mask(flat, 0.25, np.random.default_rng(1), highest=True)
    assert (masks.sum(axis=(1, 2)) == 256).all() and not np.array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(masks, T.ranked_mask(flat, 0.25, np.random.default_rng(1), highest=True))
    with pytest.raises(ValueError, match="one map per image"):
        T.fill_ranked(images, flat[:2], 0.25, rng, highest=True)


def _tiles(image: np.ndarray, tile: int) -> list[bytes]:
    return sorted(image[r : r + tile, c : c + tile].tobytes() for r in range(0, 32, tile) for c in range(0, 32, tile))


@pytest.mark.parametrize("tile", [16, 8, 4])
def test_tile_shuffle_keeps_the_set_of_tiles_and_moves_them(images, tile):
    shuffled = T.shuffle_tiles(images, tile, np.random.default_rng(0))
    for before, after in zip(images, shuffled, strict=True):
        assert _tiles(before, tile) == _tiles(after, tile)
    assert not np.array_equal(shuffled, images)
    np.testing.assert_array_equal(shuffled, T.shuffle_tiles(images, tile, np.random.default_rng(0)))
    np.testing.assert_array_equal(T.shuffle_tiles(images, 32, np.random.default_rng(0)), images)  # one tile: as is
    with pytest.raises(ValueError, match="does not divide"):
        T.shuffle_tiles(images, 5, np.random.default_rng(0))


def test_grayscale_has_equal_channels_and_the_images_luminance(images):
    gray = T.grayscale(images)
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    pil = np.stack([np.asarray(Image.fromarray(image).convert("L")) for image in images])
    assert np.abs(gray[..., 0].astype(int) - pil).max() <= 1


@pytest.mark.parametrize("channel", [0, 1, 2])
def test_one_channel_alone_replaces_the_others(images, channel):
    alone = T.channel_only(images, channel)
    for c in range(3):
        np.testing.assert_array_equal(alone[..., c], images[..., channel])


@pytest.mark.parametrize("shift", range(8))
def test_jpeg_grid_shift_is_undone_and_aligned_is_a_plain_reencode(images, shift):
    np.testing.assert_array_equal(T.jpeg_grid_shift(images, shift, codec=lambda image, quality: image), images)
    if shift == 0:
        expected = np.stack([T.jpeg_recompress(image, T.JPEG_QUALITY) for image in images])
        np.testing.assert_array_equal(T.jpeg_grid_shift(images, 0), expected)


def test_the_jpeg_block_grid_moves_with_the_shift():
    smooth = T.lowpass(np.random.default_rng(3).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8), 6)
    for shift in range(8):
        out = T.jpeg_grid_shift(smooth, shift, quality=20).astype(float)
        steps = np.abs(np.diff(out, axis=2)).mean(axis=(0, 1, 3))  # steps[c - 1]: between columns c - 1 and c
        by_phase = [steps[[c - 1 for c in range(1, 32) if (c + shift) % 8 == phase]].mean() for phase in range(8)]
        assert int(np.argmax(by_phase)) == 0, (shift, by_phase)  # block edges where the shifted image had them


def test_transforms_refuse_what_is_not_a_uint8_batch(images):
    with pytest.raises(ValueError, match="uint8 images"):
        T.lowpass(images.astype(np.float32), 8)
    with pytest.raises(ValueError, match="uint8 images"):
        T.grayscale(images[0])


def test_band_fractions_of_a_pure_tone_sit_in_its_band():
    rows = np.arange(32)
    tone = np.broadcast_to(np.cos(2 * np.pi * 5 * rows / 32)[:, None], (32, 32))[None]  # 5 cycles per image
    shares = band_fractions(normalised_power(tone))
    assert shares[5] == pytest.approx(1.0) and shares.sum() == pytest.approx(1.0)
    assert band_fractions(np.zeros((32, 32))).sum() == 0


def test_flip_shift_jpeg_and_blend_do_what_they_say(images):
    flipped = T.hflip(images)
    assert np.array_equal(flipped[:, :, 0], images[:, :, -1]) and np.array_equal(T.hflip(flipped), images)
    moved = T.shift(images, 1)
    assert moved.shape == images.shape and np.array_equal(moved[:, 1:, 1:], images[:, :-1, :-1])
    assert np.array_equal(T.shift(images, 0), images)
    assert np.array_equal(T.jpeg(images, 70), T.jpeg_grid_shift(images, 0, 70))
    assert np.abs(T.jpeg(images, 70).astype(int) - images).mean() > np.abs(T.jpeg(images, 95).astype(int) - images).mean()
    target = np.zeros_like(images)
    mixed = T.blend(images, target, [0.0, 0.5, 1.0]).reshape(3, *images.shape)
    assert np.array_equal(mixed[0], images) and not mixed[2].any()
    assert np.abs(mixed[1].astype(int) - np.rint(images / 2)).max() <= 1
