"""How well do zoo models survive the damage images pick up in the wild?

    python -m training.robustness NAME [NAME ...] | all [--data PATH] [--zoo DIR]

Evaluates each model on the test split after every corruption below and writes
`<zoo>/<name>/robustness.csv` (columns corruption, level, accuracy, roc_auc) atomically:
    none        level 0: the clean test set, the baseline
    jpeg        re-compression at quality 95, 75, 50, 40, 30
    blur        Gaussian blur, sigma 0.5, 1, 2 pixels
    downscale   shrink by 0.75 / 0.5 and enlarge back (detail lost to resampling)
    noise       additive Gaussian noise, sigma 2, 5, 10 on the 0-255 scale (fixed seed)
Corruptions act on the uint8 images; the card's preprocessing follows, as at serving time,
and accuracy is at the card's decision threshold (model_zoo.decision), as in metrics.test.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
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
from training.cli import exit_on_user_error, load_named_models
from training.data import Dataset, load_cifake, stratified_sample

# (corruption, level) in the order they are evaluated and stored; milder levels first.
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


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.robustness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", metavar="NAME", help="zoo entries, or 'all' for every usable entry")
    parser.add_argument("--data", help="CIFAKE zip or folder (default: $CIFAKE_PATH)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise corruption (and of --sample)")
    parser.add_argument("--sample", type=int,
                        help="a stratified sample of this many test images instead of all 20,000 (for slow models; "
                             "the card's robustness.n records it)")
    args = parser.parse_args(argv)
    models = load_named_models(args.names, args.zoo)
    dataset = load_cifake(args.data)
    for name, loaded in models.items():
        n = min(args.sample, len(dataset.test)) if args.sample else len(dataset.test)
        print(f"{name}: evaluating {len(CORRUPTIONS)} conditions on {n:,} test images", file=sys.stderr)
        table = evaluate_robustness(name, dataset, args.zoo, args.seed, progress=_stderr, model=loaded.model,
                                    sample=args.sample)
        print(format_table(name, table), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
