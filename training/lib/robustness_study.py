"""Accuracy under corruptions (JPEG, blur, downscale, noise): the library behind `python -m training.robustness`."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from model_zoo import (
    binary_metrics,
    load_model,
    predict_prob_fake,
    read_entry,
    staged_entry,
    write_card,
)
from model_zoo.decision import threshold
from model_zoo.zoo import ROBUSTNESS_COLUMNS as COLUMNS
from model_zoo.zoo import ROBUSTNESS_FILE
from training.lib.data import Dataset, stratified_sample

CORRUPTIONS: tuple[tuple[str, float], ...] = (
    ("none", 0),
    ("jpeg", 95), ("jpeg", 75), ("jpeg", 50), ("jpeg", 40), ("jpeg", 30),
    ("blur", 0.5), ("blur", 1.0), ("blur", 2.0),
    ("downscale", 0.75), ("downscale", 0.5),
    ("noise", 2.0), ("noise", 5.0), ("noise", 10.0),
)


def jpeg_recompress(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at `quality` in memory and decode again."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.uint8)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with the kernel size derived from sigma (OpenCV's rule)."""
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma))


def downscale_upscale(image: np.ndarray, factor: float) -> np.ndarray:
    """Shrink by `factor` (area averaging) and enlarge back to the original size (bilinear)."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def gaussian_noise(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Add N(0, sigma) noise on the 0-255 scale, rounded and clipped back to uint8; same seed, same noise."""
    rng = np.random.default_rng(seed)
    noisy = images.astype(np.float32) + rng.normal(0.0, float(sigma), size=images.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


_PER_IMAGE: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "jpeg": jpeg_recompress,
    "blur": gaussian_blur,
    "downscale": downscale_upscale,
}


def corrupt(images: np.ndarray, corruption: str, level: float, seed: int = 0) -> np.ndarray:
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


def robustness_table(
    model, card: dict, images: np.ndarray, labels: np.ndarray,
    corruptions: tuple[tuple[str, float], ...] = CORRUPTIONS, seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Accuracy and ROC-AUC of `model` on `images` after each corruption; `progress` hears one line per corruption."""

    rows = []
    for step, (corruption, level) in enumerate(corruptions, 1):
        start = time.time()
        prob_fake = predict_prob_fake(model, corrupt(images, corruption, level, seed), card)
        metrics = binary_metrics(labels, prob_fake, threshold(card))
        accuracy = metrics["accuracy"]
        rows.append({"corruption": corruption, "level": level, "accuracy": accuracy, "roc_auc": metrics["roc_auc"]})
        if progress:
            seconds = time.time() - start
            progress(f"  [{step}/{len(corruptions)}] {corruption} {level:g}: accuracy {accuracy:.4f} ({seconds:.1f} s)")
    return pd.DataFrame(rows, columns=[*COLUMNS, "roc_auc"])


def evaluate_robustness(
    name: str, dataset: Dataset, zoo: str | os.PathLike | None = None, seed: int = 0,
    progress: Callable[[str], None] | None = None, model=None, sample: int | None = None,
) -> pd.DataFrame:
    """Compute the table for one entry and publish robustness.csv into it atomically (`model`: already loaded).

    `sample`: that many test images, half of each class, drawn with `seed` (the card records n); else all.
    """
    entry = read_entry(name, zoo)
    model = model if model is not None else load_model(entry)
    test = dataset.test if sample is None else dataset.test.subset(stratified_sample(dataset.test.labels, sample // 2, seed))
    start = time.time()
    table = robustness_table(model, entry.card, test.images, test.labels, seed=seed, progress=progress)
    card = dict(entry.card)
    card["robustness"] = {"dataset": str(dataset.source), "n": len(test), "seed": seed,
                          "seconds": round(time.time() - start, 1), "file": ROBUSTNESS_FILE}
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

