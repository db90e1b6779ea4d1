"""Is a heatmap faithful to the model? The measurements, as plain functions of a model, images and maps.

Deletion and insertion (Petsiuk et al. 2018, RISE): pixels are removed from the image
(or revealed on a blank one) in order of saliency, most salient first, and the model's
probability for the class it predicted is tracked. "Removed" means replaced by the same
pixel of a Gaussian-blurred copy of the image (sigma BLUR_SIGMA px): blur erases the fine
detail generators leave behind without pasting in the sharp edges a grey or mean fill would.
Deletion starts at the image and ends at its blurred copy; insertion runs the other way,
so the two curves share their end points. A faithful map makes the deletion curve fall
fast (small area) and the insertion curve rise fast (large area), compared with the same
curves for pixels taken in random order.

Model randomisation (Adebayo et al. 2018, "Sanity checks for saliency maps"): maps of the
trained model are compared with maps of the same architecture with freshly initialised
weights, by Spearman rank correlation per image. A method whose maps barely change
(mean correlation >= SANITY_MAX_RHO) shows the image, not what the model learned: it fails.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from model_zoo.card import Card
from model_zoo.inference import predict_prob_fake

REMOVAL = "blur"
BLUR_SIGMA = 4.0  # pixels at 32x32: leaves only colour blobs, no texture or edges
STEPS = 10  # curve points at 0%, 10%, ..., 100% of the pixels
SANITY_MAX_RHO = 0.5  # maps this rank-correlated with a random model's fail the check


def removed(images: np.ndarray, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """Each uint8 image (N, H, W, 3) with its detail removed: a Gaussian blur of `sigma` pixels."""
    images = np.asarray(images, np.uint8)
    return np.stack([cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
                     for image in images]) if len(images) else images.copy()


def saliency_order(heatmaps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pixel indices (N, H*W), most salient first; equal values (a flat map) in random order."""
    flat = np.asarray(heatmaps, np.float32).reshape(len(heatmaps), -1)
    tiebreak = rng.random(flat.shape)
    return np.lexsort((tiebreak, -flat), axis=-1)


def random_order(n: int, pixels: int, rng: np.random.Generator) -> np.ndarray:
    """A random pixel order per image (N, pixels): the baseline every map must beat."""
    return np.argsort(rng.random((n, pixels)), axis=-1)


def _counts(pixels: int, steps: int) -> np.ndarray:
    return np.round(np.linspace(0, pixels, steps + 1)).astype(int)


def _probability_of(prob_fake: np.ndarray, fake: np.ndarray) -> np.ndarray:
    return np.where(fake, prob_fake, 1.0 - prob_fake)


def deletion_insertion(
    model, card: Card, images: np.ndarray, explained_fake: np.ndarray, orders: Mapping[str, np.ndarray],
    steps: int = STEPS, sigma: float = BLUR_SIGMA,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (deletion curves, insertion curves), each (N, steps + 1): the calibrated probability of the
    explained class (P(FAKE) where `explained_fake`, else 1 - P(FAKE)) after removing / revealing the first
    0, 1/steps, ..., all of each image's pixels in that name's order.
    """
    images = np.asarray(images, np.uint8)
    explained_fake = np.asarray(explained_fake, bool)
    n, height, width, _ = images.shape
    blurred = removed(images, sigma)
    counts = _counts(height * width, steps)
    # The end points are the same for every order: the image itself, and its blurred copy.
    ends = predict_prob_fake(model, np.concatenate([images, blurred]), card)
    start, end = _probability_of(ends[:n], explained_fake), _probability_of(ends[n:], explained_fake)
    inner = counts[1:-1]
    flat_images, flat_blurred = images.reshape(n, -1, 3), blurred.reshape(n, -1, 3)
    rows = np.arange(n)[:, None]
    out = {}
    for name, order in orders.items():
        order = np.asarray(order)
        batch = np.empty((2, len(inner), n, height * width, 3), np.uint8)
        for k, count in enumerate(inner):
            first = np.zeros((n, height * width), bool)
            first[rows, order[:, :count]] = True
            batch[0, k] = np.where(first[..., None], flat_blurred, flat_images)  # deletion: the first `count` blurred
            batch[1, k] = np.where(first[..., None], flat_images, flat_blurred)  # insertion: only they are sharp
        prob = predict_prob_fake(model, batch.reshape(-1, height, width, 3), card).reshape(2, len(inner), n)
        prob = _probability_of(prob, explained_fake[None, None])
        deletion = np.column_stack([start, prob[0].T, end])
        insertion = np.column_stack([end, prob[1].T, start])
        out[name] = (deletion.astype(np.float32), insertion.astype(np.float32))
    return out


def curve_auc(curves: np.ndarray) -> np.ndarray:
    """Area under each curve (N, points) over the fraction of pixels, 0 to 1 (trapezoids)."""
    curves = np.asarray(curves, np.float64)
    return np.trapezoid(curves, np.linspace(0.0, 1.0, curves.shape[-1]), axis=-1)


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values, axis=-1).astype(np.float64)  # ties share their average rank, as Spearman's rho


def rank_correlation(maps_a: np.ndarray, maps_b: np.ndarray) -> np.ndarray:
    """Spearman's rho between paired maps (N, H, W) -> (N,); 0 where either map is flat (no ordering to share)."""
    a = _ranks(np.asarray(maps_a).reshape(len(maps_a), -1))
    b = _ranks(np.asarray(maps_b).reshape(len(maps_b), -1))
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (a * b).sum(axis=1) / norm
    return np.where(norm > 0, rho, 0.0)


def reinitialised(model, seed: int = 0):
    """The same architecture (layer names included) with freshly initialised weights, seeded. A consensus
    (model_zoo.consensus) gets every member re-initialised, its combiner kept: the randomisation check then asks
    whether its maps (its members' mean, or its own occlusion) depend on what the members learned."""
    import keras

    if getattr(model, "combines_members", False):
        from dataclasses import replace

        from model_zoo.zoo import LoadedModel

        return replace(model, members=tuple(LoadedModel(m.entry, reinitialised(m.model, seed + i))
                                            for i, m in enumerate(model.members)))
    keras.utils.set_random_seed(seed)
    return keras.models.clone_model(model)


def paired_gain(better: np.ndarray, worse: np.ndarray) -> tuple[float, float]:
    """Mean of the per-image differences better - worse, and its standard error."""
    diff = np.asarray(better, np.float64) - np.asarray(worse, np.float64)
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    return float(diff.mean()), se
