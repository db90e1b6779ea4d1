"""Dataset-level visual cues: class counts, sample grids, mean images and Fourier spectra per class.

Generated images often carry periodic upsampling artefacts that are invisible in
a single image but stand out in the mean log-amplitude spectrum of many; the
FAKE - REAL difference of those spectra is what the Data page shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from model_zoo.cue_vocabulary import log_amplitude_spectrum  # shared with the cue study, which stores the same spectra
from model_zoo.decision import CLASS_NAMES

MAX_IMAGES_PER_CLASS = 20_000  # spectra of a random sample: plenty for a stable mean, bounded time
__all__ = ["CLASS_NAMES", "ClassCues", "class_counts", "class_cues", "log_amplitude_spectrum", "mean_image", "sample_indices"]


def class_counts(splits: dict[str, np.ndarray]) -> pd.DataFrame:
    """(split, class, count) rows from each split's label array (1 = FAKE)."""
    rows = []
    for split, labels in splits.items():
        labels = np.asarray(labels).astype(int)
        for label, name in enumerate(CLASS_NAMES):
            rows.append({"split": split, "class": name, "count": int((labels == label).sum())})
    return pd.DataFrame(rows, columns=["split", "class", "count"])


def sample_indices(labels: np.ndarray, label: int, count: int, seed: int = 0) -> np.ndarray:
    """A fixed random choice of `count` indices of one class (fewer when the class is smaller)."""
    index = np.flatnonzero(np.asarray(labels).astype(int) == label)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(index, size=min(count, len(index)), replace=False)) if len(index) else index


def mean_image(images: np.ndarray) -> np.ndarray:
    """Per-pixel mean of uint8 images (N, H, W, 3) as uint8 (zeros for an empty set)."""
    if len(images) == 0:
        return np.zeros(images.shape[1:], np.uint8)
    return np.clip(images.astype(np.float64).mean(axis=0) + 0.5, 0, 255).astype(np.uint8)


@dataclass
class ClassCues:
    """Per-class mean image and spectrum, and the FAKE - REAL spectrum difference."""

    mean_images: dict[str, np.ndarray]
    spectra: dict[str, np.ndarray]
    difference: np.ndarray
    n_used: dict[str, int]


def class_cues(images: np.ndarray, labels: np.ndarray, max_per_class: int = MAX_IMAGES_PER_CLASS, seed: int = 0) -> ClassCues:
    """Mean image and mean log-amplitude spectrum of each class (on at most max_per_class images each)."""
    means, spectra, used = {}, {}, {}
    for label, name in enumerate(CLASS_NAMES):
        index = sample_indices(labels, label, max_per_class, seed)
        subset = images[index]
        means[name] = mean_image(subset)
        spectra[name] = log_amplitude_spectrum(subset)
        used[name] = int(len(index))
    return ClassCues(means, spectra, spectra["FAKE"] - spectra["REAL"], used)
