"""Controlled changes to images, one plain function each: the cue study's and the per-image evidence tests'.

The cue study (`python -m training.cues`, training/lib/cue_study.py) applies them to test images, and the evidence
tests (model_zoo/evidence.py) to one uploaded image; the dashboard and the API show those tests, so the changes
live here, in the library every part may import.

Each takes uint8 images (N, H, W, 3) and returns a new uint8 batch of the same shape; the random ones
take a numpy Generator, so a seed fixes them. Frequency bands are model_zoo.cue_vocabulary's 16 radial bands (band b:
radius b to b + 1 cycles per image on a 32 x 32 image; the diagonal corners beyond Nyquist in the top
band). Every change works at any image size: bands are fractions of the Nyquist radius (on an N x N image
band b runs from b N / 32 to (b + 1) N / 32 cycles per image, so "the lowest 8 bands" is the lower half of
the frequencies at any N), fills are shares of the pixels, and the JPEG canvas is padded to a multiple of 16;
only shuffle_tiles needs tiles that divide the image (cue_study.applicable_conditions leaves the others out).
The neutral fill is mid-grey, 128. Filtering works in floating point and rounds once at the end;
the *_float variants return the unrounded result, which is what the tests check the spectra of.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from model_zoo.cue_vocabulary import BANDS, NEUTRAL, band_index

JPEG_QUALITY = 75  # PIL's default: re-encoding at it costs the models almost nothing when aligned (robustness.csv)
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as PIL's convert("L")


def jpeg_recompress(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode one (H, W, 3) uint8 image as JPEG at `quality` in memory and decode again."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.uint8)


def _batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images (N, H, W, 3), got {images.dtype} {images.shape}")
    return images


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Round and clip floating-point pixels back to uint8."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def band_mask(height: int, width: int, low: int, high: int) -> np.ndarray:
    """True for the FFT coefficients in bands low .. high - 1 (unshifted order)."""
    bands = band_index(height, width)
    return (bands >= low) & (bands < high)


def bandpass_float(images: np.ndarray, low: int, high: int) -> np.ndarray:
    """Each channel with only the frequency bands low .. high - 1 kept, as float64."""
    images = _batch(images)
    spectrum = np.fft.fft2(images.astype(np.float64), axes=(1, 2))
    mask = band_mask(images.shape[1], images.shape[2], low, high)
    # The mask depends on |frequency| only, so it keeps the spectrum Hermitian and the result real.
    return np.fft.ifft2(spectrum * mask[None, :, :, None], axes=(1, 2)).real


def lowpass(images: np.ndarray, keep: int) -> np.ndarray:
    """Keep the lowest `keep` of the 16 frequency bands: the coarse image without its fine texture."""
    return to_uint8(bandpass_float(images, 0, keep))


def highpass_float(images: np.ndarray, drop: int) -> np.ndarray:
    """The residual once the lowest `drop` bands are removed, on mid-grey (its mean is gone with band 0)."""
    return NEUTRAL + bandpass_float(images, drop, BANDS)


def highpass(images: np.ndarray, drop: int) -> np.ndarray:
    """Only the fine texture: the image minus its lowest `drop` bands, shown on mid-grey."""
    return to_uint8(highpass_float(images, drop))


def amplitude_swap_float(images: np.ndarray, donors: np.ndarray) -> np.ndarray:
    """Each image's Fourier phase with its donor's Fourier amplitude (per channel), as float64."""
    images, donors = _batch(images), _batch(donors)
    if images.shape != donors.shape:
        raise ValueError(f"donors {donors.shape} must match images {images.shape}")
    phase = np.angle(np.fft.fft2(images.astype(np.float64), axes=(1, 2)))
    amplitude = np.abs(np.fft.fft2(donors.astype(np.float64), axes=(1, 2)))
    # Amplitude is even and phase odd in frequency for real images, so the product is Hermitian: a real image.
    return np.fft.ifft2(amplitude * np.exp(1j * phase), axes=(1, 2)).real


def amplitude_swap(images: np.ndarray, donors: np.ndarray) -> np.ndarray:
    """Each image keeps its phase (where edges and shapes sit) and takes its donor's amplitude spectrum."""
    return to_uint8(amplitude_swap_float(images, donors))


def swap_donors(labels: np.ndarray, rng: np.random.Generator, *, same_class: bool = False) -> np.ndarray:
    """For each image, the index of a donor: a random image of the other class, or (same_class, the control)
    another image of its own class (never itself when the class has two or more)."""
    labels = np.asarray(labels).astype(int)
    donors = np.empty(len(labels), int)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if same_class:
            order = rng.permutation(members)
            donors[order] = np.roll(order, 1)  # each takes the next in a random cycle: nobody is their own donor
            continue
        others = np.flatnonzero(labels != label)
        if not len(others):
            raise ValueError("an amplitude swap across classes needs images of both classes")
        donors[members] = rng.choice(others, len(members))
    return donors


def _distance_order(height: int, width: int) -> np.ndarray:
    """Pixel indices (row-major) from the centre outwards: by distance along the farther axis (square rings),
    then by Euclidean distance, then by index, so the order is fixed."""
    rows, cols = np.mgrid[:height, :width]
    dy, dx = np.abs(rows - (height - 1) / 2), np.abs(cols - (width - 1) / 2)
    return np.lexsort((np.arange(height * width), np.hypot(dy, dx).ravel(), np.maximum(dy, dx).ravel()))


def centre_mask(height: int, width: int, count: int) -> np.ndarray:
    """The `count` pixels nearest the centre: a box (a 16 x 16 square for 256 pixels of 32 x 32)."""
    mask = np.zeros(height * width, bool)
    mask[_distance_order(height, width)[:count]] = True
    return mask.reshape(height, width)


def border_mask(height: int, width: int, count: int) -> np.ndarray:
    """The `count` pixels farthest from the centre: a frame, corners first when a ring is only partly taken."""
    mask = np.zeros(height * width, bool)
    if count:
        mask[_distance_order(height, width)[-count:]] = True
    return mask.reshape(height, width)


def _pixel_count(images: np.ndarray, fraction: float) -> int:
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    return int(round(fraction * images.shape[1] * images.shape[2]))


def fill(images: np.ndarray, mask: np.ndarray, value: int = NEUTRAL) -> np.ndarray:
    """Pixels where mask (H, W) or (N, H, W) is true set to `value` in every channel."""
    out = _batch(images).copy()
    out[np.broadcast_to(mask, out.shape[:3])] = value
    return out


def fill_centre(images: np.ndarray, fraction: float) -> np.ndarray:
    """The centre box holding `fraction` of the pixels (the object, on CIFAKE) replaced by the neutral fill."""
    images = _batch(images)
    return fill(images, centre_mask(images.shape[1], images.shape[2], _pixel_count(images, fraction)))


def fill_border(images: np.ndarray, fraction: float) -> np.ndarray:
    """The frame holding `fraction` of the pixels (the background) replaced: as many pixels as fill_centre."""
    images = _batch(images)
    return fill(images, border_mask(images.shape[1], images.shape[2], _pixel_count(images, fraction)))


def ranked_mask(scores: np.ndarray, fraction: float, rng: np.random.Generator, *, highest: bool) -> np.ndarray:
    """(N, H, W) mask of each map's `fraction` of pixels with the highest (or lowest) score; ties in random order
    (an all-zero Grad-CAM map ranks nothing, so its pixels are drawn at random)."""
    scores = np.asarray(scores, np.float64)
    n, height, width = scores.shape
    count = int(round(fraction * height * width))
    flat = scores.reshape(n, -1) * (-1 if highest else 1)
    tiebreak = rng.random(flat.shape)
    order = np.lexsort((tiebreak, flat), axis=-1)[:, :count]
    mask = np.zeros(flat.shape, bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return mask.reshape(n, height, width)


def fill_ranked(images: np.ndarray, scores: np.ndarray, fraction: float, rng: np.random.Generator, *,
                highest: bool) -> np.ndarray:
    """The pixels a saliency map ranks highest (or lowest), `fraction` of each image, replaced by the neutral fill."""
    images = _batch(images)
    if np.shape(scores) != images.shape[:3]:
        raise ValueError(f"scores {np.shape(scores)} must be one map per image {images.shape[:3]}")
    return fill(images, ranked_mask(scores, fraction, rng, highest=highest))


def shuffle_tiles(images: np.ndarray, tile: int, rng: np.random.Generator) -> np.ndarray:
    """Cut each image into tile x tile squares and put them back in a random order (one per image):
    local texture stays, the layout goes."""
    images = _batch(images)
    n, height, width, channels = images.shape
    if height % tile or width % tile:
        raise ValueError(f"tile {tile} does not divide the image size {height} x {width}")
    rows, cols = height // tile, width // tile
    tiles = images.reshape(n, rows, tile, cols, tile, channels).transpose(0, 1, 3, 2, 4, 5).reshape(n, rows * cols, tile,
                                                                                                    tile, channels)
    order = np.argsort(rng.random((n, rows * cols)), axis=1)
    shuffled = np.take_along_axis(tiles, order[:, :, None, None, None], axis=1)
    return shuffled.reshape(n, rows, cols, tile, tile, channels).transpose(0, 1, 3, 2, 4, 5).reshape(images.shape)


def grayscale(images: np.ndarray) -> np.ndarray:
    """Luminance (BT.601) in all three channels: no colour, the same brightness."""
    return to_uint8(np.repeat((_batch(images).astype(np.float64) @ LUMA)[..., None], 3, axis=-1))


def channel_only(images: np.ndarray, channel: int) -> np.ndarray:
    """One colour channel alone, copied into all three: the other two are replaced by it, so what is left is
    that channel's structure, shown as a grey image rather than tinted."""
    images = _batch(images)
    return np.repeat(images[..., channel : channel + 1], 3, axis=-1)


def jpeg_grid_shift(images: np.ndarray, shift: int, quality: int = JPEG_QUALITY,
                    codec: Callable[[np.ndarray, int], np.ndarray] = jpeg_recompress) -> np.ndarray:
    """JPEG re-encode with the 8 x 8 block grid moved: each image is shifted `shift` pixels down and right
    (the gap filled by reflection), encoded and decoded, and shifted back. shift 0 is the aligned re-encode;
    every shift uses the same quality and tables. The padded canvas is a multiple of 16 (a colour block)."""
    images = _batch(images)
    n, height, width, _ = images.shape
    pad_y, pad_x = -(-(height + shift) // 16) * 16 - height - shift, -(-(width + shift) // 16) * 16 - width - shift
    out = np.empty_like(images)
    for i, image in enumerate(images):
        canvas = np.pad(image, ((shift, pad_y), (shift, pad_x), (0, 0)), mode="reflect") if shift or pad_y or pad_x \
            else image
        out[i] = codec(canvas, quality)[shift : shift + height, shift : shift + width]
    return out


def jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    """One JPEG re-save at `quality`, on the image's own 8 x 8 grid (what saving a copy of a file does)."""
    return jpeg_grid_shift(images, 0, quality)


def hflip(images: np.ndarray) -> np.ndarray:
    """Each image mirrored left to right: the same content, the same texture statistics."""
    return _batch(images)[:, :, ::-1].copy()


def shift(images: np.ndarray, pixels: int = 1) -> np.ndarray:
    """Each image moved `pixels` down and right, the uncovered rows and columns filled by reflection: the same
    picture off by a pixel, which moves every pixel against the model's strides and the JPEG grid."""
    images = _batch(images)
    if pixels <= 0:
        return images.copy()
    padded = np.pad(images, ((0, 0), (pixels, 0), (pixels, 0), (0, 0)), mode="reflect")
    return padded[:, : images.shape[1], : images.shape[2]].copy()


def blend(images: np.ndarray, targets: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """(1 - a) image + a target for each amount a in [0, 1]: (len(amounts) x N, H, W, 3), amount-major."""
    images, targets = _batch(images).astype(np.float32), _batch(targets).astype(np.float32)
    amounts = np.asarray(amounts, np.float32).reshape(-1, 1, 1, 1, 1)
    mixed = images[None] + amounts * (targets - images)[None]
    return to_uint8(mixed.reshape(-1, *images.shape[1:]))
