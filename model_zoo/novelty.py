"""How unlike its training images an input looks to a model: a novelty score from the model's own features.

Features are the model's penultimate activations: the input of the output layer (the Dense
"prob_fake", found generically as the layer that produces the model's output). The score is the
Mahalanobis distance (Lee et al. 2018) to the nearer class mean, with one covariance shared by
both classes, shrunk towards a scaled identity (Ledoit-Wolf) so it inverts even when dead ReLU
channels make the raw covariance singular.

Fitting (fit_novelty): class means and covariance from a sample of the training split - what
the model learnt from - and the cut-off at the 99th percentile of the held-out validation split's
scores, so about 1 CIFAKE image in 100 is flagged as novel. The card's "novelty" block holds the
cut-off and how it was fitted; the means and the inverse covariance live in the entry's
novelty.npz (too big for the card: 192 features make a 192x192 matrix). Entries without them
(fitted before this existed) simply have no novelty score.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model_zoo.card import Card
from model_zoo.crops import mean_logit, mean_rows
from model_zoo.decision import apply_temperature
from model_zoo.forward import feature_layer_name, output_layer, scores_and_features
from model_zoo.inference import CHUNK, crop_chunks
from model_zoo.preprocessing import batch_to_model_input

if TYPE_CHECKING:
    from model_zoo.zoo import ZooEntry

log = logging.getLogger(__name__)

NOVELTY_FILE = "novelty.npz"
CUTOFF_QUANTILE = 0.99  # 1 in 100 in-distribution (CIFAKE validation) images is flagged
TRAIN_SAMPLE = 10_000  # training images the means and covariance are fitted on (more changes little)
CIFAKE_IMAGE_SIZE = (32, 32)  # (height, width) of every image the zoo's models were trained on

@dataclass(frozen=True)
class NoveltyStats:
    """What scoring needs: class means (2, D), the shared inverse covariance (D, D), the cut-off."""

    means: np.ndarray
    precision: np.ndarray
    cutoff: float

    @functools.cached_property
    def _whitening(self) -> tuple[np.ndarray, np.ndarray]:
        # precision = L L^T, so d^2 = |(f - mu) L|^2: one matrix product per batch.
        factor = np.linalg.cholesky(self.precision)
        return factor, self.means @ factor


def predict_with_features(model, images: np.ndarray | list[np.ndarray], card: Card) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated P(FAKE) (N,) float32, as model_zoo.predict_prob_fake gives, and features (N, D) float32.

    A crop card's image gets the mean logit of its crops and the mean of their features (model_zoo.crops).
    """
    probs, feats = [], []
    if card.crop_spec:
        for n, owners, x in crop_chunks(images, card):
            parts = [scores_and_features(model, x[i : i + CHUNK]) for i in range(0, len(x), CHUNK)]
            feats.append(mean_rows(np.concatenate([f for _, f in parts]), owners, n))
            probs.append(mean_logit(np.concatenate([p for p, _ in parts]), owners, n))
    for start in range(0, len(images), CHUNK) if not card.crop_spec else ():
        prob, features = scores_and_features(model, batch_to_model_input(images[start : start + CHUNK], card))
        feats.append(features)
        probs.append(prob)
    if not probs:
        width = int(np.prod(output_layer(model).input.shape[1:]))
        return np.zeros(0, np.float32), np.zeros((0, width), np.float32)
    return apply_temperature(np.concatenate(probs), card.temperature), np.concatenate(feats)


def novelty_scores(features: np.ndarray, stats: NoveltyStats) -> np.ndarray:
    """Mahalanobis distance of each feature vector to the nearer class mean, (N,) float64."""
    factor, whitened_means = stats._whitening
    whitened = np.asarray(features, np.float64) @ factor
    squared = ((whitened[:, None, :] - whitened_means[None]) ** 2).sum(axis=2)
    return np.sqrt(squared.min(axis=1))


def predict_with_novelty(
    model, images: np.ndarray | list[np.ndarray], card: Card, stats: NoveltyStats | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Calibrated P(FAKE) and each image's novelty score (None when the entry has no novelty stats)."""
    if stats is None:
        from model_zoo.inference import predict_prob_fake

        return predict_prob_fake(model, images, card), None
    prob, features = predict_with_features(model, images, card)
    if features.shape[1] != stats.means.shape[1]:  # novelty.npz belongs to other weights (model.keras replaced)
        log.warning("%s: %d features, but its novelty stats have %d; no novelty score (refit with "
                    "`python -m training.calibrate`)", card.name, features.shape[1], stats.means.shape[1])
        return prob, None
    return prob, novelty_scores(features, stats)


def fit_novelty(
    train_features: np.ndarray, train_labels: np.ndarray, val_features: np.ndarray,
    quantile: float = CUTOFF_QUANTILE,
) -> tuple[NoveltyStats, np.ndarray]:
    """Stats from training features (labels 0/1) and the cut-off from validation features.

    Returns the stats and the validation scores (for reporting).
    """
    from sklearn.covariance import ledoit_wolf

    train_features = np.asarray(train_features, np.float64)
    train_labels = np.asarray(train_labels).astype(int)
    if not all((train_labels == c).sum() >= 2 for c in (0, 1)):
        raise ValueError("novelty needs at least 2 training images of each class")
    means = np.stack([train_features[train_labels == c].mean(axis=0) for c in (0, 1)])
    covariance, _ = ledoit_wolf(train_features - means[train_labels], assume_centered=True)
    precision = np.linalg.inv(covariance)
    precision = (precision + precision.T) / 2  # exactly symmetric for the Cholesky factor
    stats = NoveltyStats(means, precision, cutoff=float("inf"))
    val_scores = novelty_scores(val_features, stats)
    return NoveltyStats(means, precision, cutoff=float(np.quantile(val_scores, quantile))), val_scores


def image_size_facts(sizes: np.ndarray) -> dict:
    """The card's size facts for training images of `sizes` ((N, 2) of (height, width)): the most common size
    (`train_image_size`) and the smallest and biggest height and width (`train_image_range`: [[H, W], [H, W]]).

    Only folder datasets record a range: a card without one (CIFAKE) had images of one size, never resized."""
    sizes = np.asarray(sizes, np.int64).reshape(-1, 2)
    if not len(sizes):
        raise ValueError("no training image sizes")
    unique, counts = np.unique(sizes, axis=0, return_counts=True)
    return {"train_image_size": [int(v) for v in unique[np.argmax(counts)]],
            "train_image_range": [[int(v) for v in sizes.min(axis=0)], [int(v) for v in sizes.max(axis=0)]]}


def novelty_block(stats: NoveltyStats, model, *, n_fit: int, val_scores: np.ndarray, quantile: float = CUTOFF_QUANTILE,
                  train_sizes: np.ndarray | None = None) -> dict:
    """The card's "novelty" block for fitted stats; `train_sizes` ((N, 2) of (height, width)) are a folder
    dataset's training image sizes, None for CIFAKE (32x32, never resized)."""
    sizes = {"train_image_size": list(CIFAKE_IMAGE_SIZE)} if train_sizes is None else image_size_facts(train_sizes)
    return {
        "method": "mahalanobis",
        "layer": feature_layer_name(model),
        "features": int(stats.means.shape[1]),
        "fitted_on": "train",
        "n_fit": int(n_fit),
        "cutoff": round(stats.cutoff, 4),
        "cutoff_quantile": quantile,
        "cutoff_on": "validation",
        "n_validation": int(len(val_scores)),
        "validation_median": round(float(np.median(val_scores)), 4),
        **sizes,
        "file": NOVELTY_FILE,
    }


def write_stats(folder: Path, stats: NoveltyStats | None) -> None:
    """Write novelty.npz into an entry folder being staged (model_zoo.staged_entry); nothing for None."""
    if stats is None:
        return
    with open(folder / NOVELTY_FILE, "wb") as handle:  # np.savez on a path would append ".npz" to odd names
        np.savez(handle, means=stats.means, precision=stats.precision, cutoff=np.float64(stats.cutoff))


def train_image_size(card: Card) -> tuple[int, int]:
    """card.train_image_size (kept for callers)."""
    return card.train_image_size


def train_image_range(card: Card) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """card.train_image_range (kept for callers)."""
    return card.train_image_range


def load_stats(entry: ZooEntry) -> NoveltyStats | None:
    """The entry's novelty stats, or None when it has none (older entries) or they are unreadable."""
    block = entry.card.novelty
    if not block:
        return None
    path = entry.path / block.file
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        log.warning("%s: card has a novelty block but %s is missing; no novelty score", entry.name, path.name)
        return None
    return _read_stats(str(path), mtime, float(block.cutoff))


@functools.lru_cache(maxsize=64)
def _read_stats(path: str, mtime_ns: int, cutoff: float) -> NoveltyStats | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            means, precision = np.asarray(data["means"], np.float64), np.asarray(data["precision"], np.float64)
    except (OSError, KeyError, ValueError) as exc:
        log.warning("%s: unreadable novelty stats (%s); no novelty score", path, exc)
        return None
    if means.ndim != 2 or means.shape[0] != 2 or precision.shape != (means.shape[1], means.shape[1]):
        log.warning("%s: novelty stats have shapes %s and %s; no novelty score", path, means.shape, precision.shape)
        return None
    return NoveltyStats(means, precision, cutoff)
