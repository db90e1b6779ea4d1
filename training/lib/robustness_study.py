"""Accuracy under corruptions (JPEG, blur, downscale, noise): the library behind `python -m training.robustness`.

CIFAKE's test arrays are corrupted whole, as one batch. A labelled folder's test images are corrupted at their own
resolution, a few at a time (FOLDER_CHUNK, each decoded once for every condition), so a folder of big photos is
never held in memory at once; each is then scored as the judge scores it (model_zoo.predict_prob_fake: a crop
card's grid of crops and their mean logit).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np
import pandas as pd

from model_zoo import (
    binary_metrics,
    load_model,
    predict_prob_fake,
    read_entry,
    staged_entry,
    write_card,
)
from model_zoo.card import Card
from model_zoo.image_changes import jpeg_recompress
from model_zoo.zoo import ROBUSTNESS_COLUMNS as COLUMNS
from model_zoo.zoo import ROBUSTNESS_FILE
from training.lib.data import Dataset, Split, stratified_sample
from training.lib.image_folders import FolderDataset, check_trained_on, stored_images

CORRUPTIONS: tuple[tuple[str, float], ...] = (
    ("none", 0),
    ("jpeg", 95), ("jpeg", 75), ("jpeg", 50), ("jpeg", 40), ("jpeg", 30),
    ("blur", 0.5), ("blur", 1.0), ("blur", 2.0),
    ("downscale", 0.75), ("downscale", 0.5),
    ("noise", 2.0), ("noise", 5.0), ("noise", 10.0),
)
TEST_SET = "test_set"  # robustness.csv's column naming the test split measured (model_zoo.zoo.training_set_name)
FOLDER_CHUNK = 8  # folder images decoded at a time: 8 photos of 24 MP are ~0.6 GB, twice that with a corrupted copy
FOLDER_SAMPLE = 1000  # default --sample for a folder: 14 conditions x up to 16 crops an image add up on big photos


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with the kernel size derived from sigma (OpenCV's rule)."""
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma))


def downscale_upscale(image: np.ndarray, factor: float) -> np.ndarray:
    """Shrink by `factor` (area averaging) and enlarge back to the original size (bilinear)."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def gaussian_noise(images: np.ndarray, sigma: float, seed: int | Sequence[int] = 0) -> np.ndarray:
    """Add N(0, sigma) noise on the 0-255 scale, rounded and clipped back to uint8; same seed, same noise."""
    rng = np.random.default_rng(seed)
    noisy = images.astype(np.float32) + rng.normal(0.0, float(sigma), size=images.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


_PER_IMAGE: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "jpeg": jpeg_recompress,
    "blur": gaussian_blur,
    "downscale": downscale_upscale,
}


def corrupt(images: np.ndarray, corruption: str, level: float, seed: int | Sequence[int] = 0) -> np.ndarray:
    """Apply one corruption to uint8 images (N, H, W, 3) or one image (H, W, 3); shape and dtype are kept."""
    images = np.asarray(images, dtype=np.uint8)
    if corruption == "none":
        return images.copy()
    if corruption == "noise":
        return gaussian_noise(images, level, seed)
    if corruption not in _PER_IMAGE:
        raise ValueError(f"unknown corruption {corruption!r}; choose one of none, noise, {', '.join(_PER_IMAGE)}")
    function = _PER_IMAGE[corruption]
    if images.ndim == 3:
        return function(images, level)
    out = np.empty_like(images)
    for i, image in enumerate(images):
        out[i] = function(image, level)
    return out


def psnr(reference: np.ndarray, degraded: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical images)."""
    mse = float(np.mean((reference.astype(np.float64) - degraded.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def corrupt_each(images: Sequence[np.ndarray], corruption: str, level: float, seed: int = 0,
                 first: int = 0) -> list[np.ndarray]:
    """Corrupt images of any sizes one by one; image i's noise comes from the seed (seed, first + i), so a test set
    corrupted a chunk at a time gets the same noise whatever the chunk size."""
    return [corrupt(image, corruption, level, (seed, first + i)) for i, image in enumerate(images)]


def robustness_table(
    model, card: Card, images: np.ndarray | Sequence[np.ndarray], labels: np.ndarray,
    corruptions: tuple[tuple[str, float], ...] = CORRUPTIONS, seed: int = 0,
    progress: Callable[[str], None] | None = None, chunk: int | None = None,
) -> pd.DataFrame:
    """Accuracy and ROC-AUC of `model` on `images` after each corruption; `progress` hears one line per corruption.

    An array (CIFAKE's) is corrupted as one batch. Any other sequence (a folder's FolderImages, decoded on access,
    of any sizes) is read `chunk` (default FOLDER_CHUNK) images at a time, every condition applied to a chunk
    before the next is decoded.
    """
    whole = isinstance(images, np.ndarray)
    step = max(1, len(images) if whole else chunk or FOLDER_CHUNK)
    scores: list[list[np.ndarray]] = [[] for _ in corruptions]
    seconds = [0.0] * len(corruptions)
    rows, reported = [], time.time()
    for start in range(0, len(images), step):
        batch = images[start : start + step]
        last = start + step >= len(images)
        for index, (corruption, level) in enumerate(corruptions):
            began = time.time()
            damaged = corrupt(batch, corruption, level, seed) if whole else corrupt_each(batch, corruption, level, seed, start)
            scores[index].append(predict_prob_fake(model, damaged, card))
            seconds[index] += time.time() - began
            if last:  # every image seen: this condition's row is final
                metrics = binary_metrics(labels, np.concatenate(scores[index]), card.threshold)
                accuracy = metrics["accuracy"]
                rows.append({"corruption": corruption, "level": level, "accuracy": accuracy,
                             "roc_auc": metrics["roc_auc"]})
                if progress:
                    progress(f"  [{index + 1}/{len(corruptions)}] {corruption} {level:g}: accuracy {accuracy:.4f} "
                             f"({seconds[index]:.1f} s)")
        if progress and not last and time.time() - reported > 10:  # a folder of big photos takes a while
            reported = time.time()
            progress(f"  {start + step:,}/{len(images):,} images under every condition")
    return pd.DataFrame(rows, columns=[*COLUMNS, "roc_auc"])


def robustness_sample(test: Split, sample: int | None, seed: int = 0) -> Split:
    """The test images measured: `sample` of them, half of each class, drawn with `seed`; all when None."""
    return test if sample is None else test.subset(stratified_sample(test.labels, sample // 2, seed))


def evaluate_robustness(
    name: str, dataset: Dataset, zoo: str | os.PathLike | None = None, seed: int = 0,
    progress: Callable[[str], None] | None = None, model=None, sample: int | None = None,
) -> pd.DataFrame:
    """Compute the table for one entry and publish robustness.csv into it atomically (`model`: already loaded).

    `dataset`: CIFAKE, or the labelled folder the entry was trained on (its split rebuilt from the card,
    image_folders.load_labelled_data); anything else raises ZooError. `sample`: that many test images, half of each
    class, drawn with `seed` (the card records n); else all.
    """
    entry = read_entry(name, zoo)
    check_trained_on(entry.card, dataset)
    # A folder's images whole, as stored: a corruption acts at the image's own resolution, before the card's view.
    test = robustness_sample(stored_images(dataset.test), sample, seed)
    test_set = entry.card.training_set_name  # the data is the entry's own (checked above), so its name
    if progress:
        where = f"the {test_set} test split" if isinstance(dataset, FolderDataset) else "CIFAKE's test split"
        progress(f"{name}: evaluating {len(CORRUPTIONS)} conditions on {len(test):,} images of {where}")
    model = model if model is not None else load_model(entry)
    start = time.time()
    table = robustness_table(model, entry.card, test.images, test.labels, seed=seed, progress=progress)
    table[TEST_SET] = test_set
    card = entry.card.updated(robustness={"dataset": str(dataset.source), TEST_SET: test_set, "n": len(test),
                                          "seed": seed, "seconds": round(time.time() - start, 1),
                                          "file": ROBUSTNESS_FILE})
    with staged_entry(name, zoo, from_existing=True) as folder:
        table.to_csv(folder / ROBUSTNESS_FILE, index=False, float_format="%.6g")
        write_card(folder, card)
    return table


def format_table(name: str, table: pd.DataFrame) -> str:
    baseline = float(table.loc[table["corruption"] == "none", "accuracy"].iloc[0])
    lines = [f"{name}: accuracy under corruption (clean {baseline:.4f})"]
    for row in table.itertuples():
        lines.append(f"  {row.corruption:<10} {row.level:>6g}  {row.accuracy:.4f}  ({row.accuracy - baseline:+.4f})")
    return "\n".join(lines)

