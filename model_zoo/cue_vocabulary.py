"""The cue study's shared vocabulary: the 16 frequency bands, spectra, and the names of the stored conditions.

`python -m training.cues` writes, into each entry, cues.csv (one row per condition) and cue_spectra.npz;
the Studies page reads both. Both sides import the definitions here, so a condition or a band means the
same thing where it is measured and where it is described.

Frequency bands. The 2-D FFT of an H x W image has frequencies fy, fx in cycles per image; on a 32 x 32
image they run from -16 to 15, and 16 is the Nyquist frequency. A coefficient's radius, in units of the
Nyquist frequency, is r = sqrt((fy / (H/2))^2 + (fx / (W/2))^2), 0 at the mean (DC) and 1 on the axes at
Nyquist. Band b (0 <= b < 16) holds the coefficients with b <= 16 r < b + 1, so on a 32 x 32 image band b
is the ring of radius b to b + 1 cycles per image. The corners beyond the Nyquist radius (r > 1, the
diagonal frequencies) go into the top band, 15. "The lowest k bands" are the coefficients with r < k / 16.
"""

from __future__ import annotations

import numpy as np

BANDS = 16
NEUTRAL = 128  # the neutral fill: mid-grey on the 0-255 scale

# Conditions (cues.csv's `condition` column), grouped by `family` (one panel each on the Studies page).
NONE = "none"
LOWPASS = "lowpass"  # level: bands kept (the lowest k of 16)
HIGHPASS = "highpass"  # level: bands removed (the lowest k of 16); the residual on mid-grey
AMPLITUDE_SWAP = "amplitude_swap"  # level 1: amplitude of an image of the other class, 0: of the same class
CENTRE_FILL = "centre_fill"  # level: fraction of the pixels, the box nearest the centre, set to NEUTRAL
BORDER_FILL = "border_fill"  # level: the same number of pixels, the frame farthest from the centre
GRADCAM_TOP = "gradcam_top"  # level: fraction of the pixels the model's Grad-CAM ranks highest, set to NEUTRAL
GRADCAM_BOTTOM = "gradcam_bottom"  # level: the same fraction, ranked lowest
TILES = "tiles"  # level: tile side in pixels; tiles shuffled within each image
GRAYSCALE = "grayscale"  # level 0
CHANNEL = "channel"  # level: 0 red, 1 green, 2 blue, copied into all three channels
JPEG_GRID = "jpeg_grid"  # level: diagonal shift in pixels before the JPEG re-encode (0 = aligned grid)
CHANNEL_NAMES = ("red", "green", "blue")

CUES_COLUMNS = ("family", "condition", "level", "label", "accuracy", "roc_auc", "mean_p_fake_real",
                "mean_p_fake_fake", "n")


def band_index(height: int, width: int, bands: int = BANDS) -> np.ndarray:
    """Band (0 .. bands-1) of each coefficient of an (height, width) FFT, in numpy's unshifted FFT order."""
    fy = np.fft.fftfreq(height) * 2.0  # cycles per sample / 0.5: Nyquist is 1
    fx = np.fft.fftfreq(width) * 2.0
    radius = np.hypot(fy[:, None], fx[None, :])
    return np.minimum(np.floor(radius * bands + 1e-9).astype(int), bands - 1)


def log_amplitude_spectrum(images: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Mean over images of log(1 + |FFT|) of the luminance, zero frequency at the centre: (H, W) float."""
    images = np.asarray(images)
    if len(images) == 0:
        return np.zeros(images.shape[1:3], np.float64)
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    total = np.zeros(images.shape[1:3], np.float64)
    for start in range(0, len(images), chunk):
        gray = images[start : start + chunk].astype(np.float32) @ weights
        gray -= gray.mean(axis=(1, 2), keepdims=True)  # drop each image's DC term: brightness is not a cue here
        amplitude = np.abs(np.fft.fft2(gray, axes=(1, 2)))
        total += np.log1p(amplitude).sum(axis=0)
    return np.fft.fftshift(total / len(images))


def normalised_power(fields: np.ndarray) -> np.ndarray:
    """Mean power spectrum (H, W), unshifted, of fields (N, H, W) or (N, H, W, C), each scaled to unit energy.

    Channels' power is summed. Scaling each field first lets every image count alike (an input gradient
    can be a thousand times smaller on a confidently scored image); all-zero fields are left out.
    """
    fields = np.asarray(fields, np.float64)
    if fields.ndim == 3:
        fields = fields[..., None]
    power = (np.abs(np.fft.fft2(fields, axes=(1, 2))) ** 2).sum(axis=-1)
    energy = power.sum(axis=(1, 2))
    keep = energy > 0
    if not keep.any():
        return np.zeros(fields.shape[1:3], np.float64)
    return (power[keep] / energy[keep, None, None]).mean(axis=0)


def band_fractions(power: np.ndarray, bands: int = BANDS) -> np.ndarray:
    """Fraction of an unshifted power spectrum's total in each band (sums to 1; zeros for an empty spectrum)."""
    power = np.asarray(power, np.float64)
    totals = np.bincount(band_index(*power.shape, bands).ravel(), weights=power.ravel(), minlength=bands)
    total = totals.sum()
    return totals / total if total > 0 else totals


def image_power(images: np.ndarray) -> np.ndarray:
    """normalised_power of uint8 images' luminance with each image's mean removed (brightness is not a cue)."""
    gray = np.asarray(images, np.float64) @ np.array([0.299, 0.587, 0.114])
    return normalised_power(gray - gray.mean(axis=(1, 2), keepdims=True))
