"""A map of the test set: each model's penultimate features (model_zoo.novelty's) of every test image, in 2-D.

The features are the ones the model's novelty check reads (model_zoo.novelty.predict_with_features: the input of
the output layer), of the model's own test split as the judge scores it (CIFAKE's 20,000 arrays, or a folder
model's split rebuilt from its card). They are reduced to 2-D by one of two methods:

  pca-tsne   PCA to PCA_DIMENSIONS, then scikit-learn's Barnes-Hut t-SNE (perplexity 30, PCA initialisation) of
             at most LANDMARKS images (a seeded sample); every other image is placed at the distance-weighted mean
             of its PLACE_NEIGHBOURS nearest landmarks in PCA space (t-SNE has no out-of-sample mapping; this
             keeps its cost bounded whatever the test set's size)
  umap       umap-learn (15 neighbours, min_dist 0.1), when it is installed

Which one the command uses (DEFAULT_METHOD) was chosen by `python -m bench.feature_map --compare` on real CIFAKE: the
share of each image's 10 nearest neighbours in feature space that are still among its 10 nearest on the map
(kNN recall at k=10), scikit-learn's trustworthiness at k=10, and the time taken; docs/error_map.md has the figures.
Coordinates are scaled to [-1, 1] and stored as float16 in test_predictions.csv's row order (model_zoo.zoo's
TEST_MAP_FILE, with the clusters of training/lib/error_clustering.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from model_zoo.card import Card
from model_zoo.novelty import predict_with_features

METHODS = ("pca-tsne", "umap")
DEFAULT_METHOD = "pca-tsne"
PCA_DIMENSIONS = 50
NEIGHBOURS = 10  # k of the neighbourhood-preservation measures
LANDMARKS = 5_000
PLACE_NEIGHBOURS = 10
MEASURE_SAMPLE = 2_000  # images whose neighbourhoods are compared (against all images)
FEATURE_CHUNK = 512  # images per forward pass batch handed to the model (a folder's are decoded per chunk)


@dataclass(frozen=True)
class Features:
    """A model's calibrated P(FAKE) (N,) and penultimate features (N, D) of a split's images, in the split's order."""

    prob_fake: np.ndarray
    features: np.ndarray
    seconds: float


def split_features(model, card: Card, images: Sequence[np.ndarray] | np.ndarray,
                   progress: Callable[[str], None] | None = None) -> Features:
    """Features of every image, FEATURE_CHUNK at a time (a folder's images are decoded only per chunk)."""
    start = time.perf_counter()
    probs, feats = [], []
    for first in range(0, len(images), FEATURE_CHUNK):
        chunk = images[first : first + FEATURE_CHUNK]
        prob, features = predict_with_features(model, chunk if isinstance(chunk, np.ndarray) else list(chunk), card)
        probs.append(prob)
        feats.append(features)
        if progress and (first // FEATURE_CHUNK) % 10 == 9:
            progress(f"  features of {first + len(chunk):,} of {len(images):,} images")
    if not feats:
        raise ValueError("no images to map")
    return Features(np.concatenate(probs), np.concatenate(feats).astype(np.float32), time.perf_counter() - start)


def _pca(features: np.ndarray, dimensions: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    dimensions = min(dimensions, features.shape[1], len(features))
    return PCA(n_components=dimensions, random_state=seed).fit_transform(features)


def _placed(reduced: np.ndarray, landmarks: np.ndarray, landmark_coords: np.ndarray) -> np.ndarray:
    """Coordinates of every row of `reduced`: the landmarks' own, others the distance-weighted mean of their
    PLACE_NEIGHBOURS nearest landmarks'."""
    from sklearn.neighbors import NearestNeighbors

    coords = np.zeros((len(reduced), 2), np.float64)
    coords[landmarks] = landmark_coords
    rest = np.setdiff1d(np.arange(len(reduced)), landmarks)
    if len(rest):
        k = min(PLACE_NEIGHBOURS, len(landmarks))
        distance, nearest = NearestNeighbors(n_neighbors=k).fit(reduced[landmarks]).kneighbors(reduced[rest])
        weights = 1.0 / np.maximum(distance, 1e-9)
        coords[rest] = (landmark_coords[nearest] * weights[..., None]).sum(axis=1) / weights.sum(axis=1, keepdims=True)
    return coords


def reduce_to_2d(features: np.ndarray, method: str = DEFAULT_METHOD, seed: int = 0,
                 landmarks: int = LANDMARKS) -> np.ndarray:
    """(N, 2) float32 coordinates scaled to [-1, 1], by `method` (METHODS; the module docstring); ValueError names a
    bad method."""
    features = np.asarray(features, np.float32)
    if len(features) < 3:
        raise ValueError(f"a map needs at least 3 images, got {len(features)}")
    if method == "pca-tsne":
        from sklearn.manifold import TSNE

        reduced = _pca(features, PCA_DIMENSIONS, seed)
        chosen = np.sort(np.random.default_rng(seed).choice(len(reduced), min(landmarks, len(reduced)), replace=False))
        perplexity = float(min(30.0, (len(chosen) - 1) / 3))
        init = "pca" if reduced.shape[1] >= 2 else "random"  # a PCA start needs 2 feature dimensions
        placed = TSNE(n_components=2, perplexity=perplexity, init=init, random_state=seed).fit_transform(
            reduced[chosen])
        coords = _placed(reduced, chosen, placed)
    elif method == "umap":
        try:
            import umap
        except ImportError:
            raise ValueError("method 'umap' needs umap-learn (pip install umap-learn)") from None
        neighbours = int(min(15, len(features) - 1))
        coords = umap.UMAP(n_neighbors=neighbours, min_dist=0.1, random_state=seed).fit_transform(features)
    else:
        raise ValueError(f"unknown map method {method!r}; use one of {', '.join(METHODS)}")
    return scaled(coords)


def scaled(coords: np.ndarray) -> np.ndarray:
    """Centre and scale coordinates so the larger extent spans [-1, 1] (the aspect ratio kept)."""
    coords = np.asarray(coords, np.float64)
    centre = (coords.max(axis=0) + coords.min(axis=0)) / 2
    extent = float(np.abs(coords - centre).max()) or 1.0
    return ((coords - centre) / extent).astype(np.float32)


def neighbourhood_preservation(features: np.ndarray, coords: np.ndarray, k: int = NEIGHBOURS,
                               sample: int = MEASURE_SAMPLE, seed: int = 0) -> dict[str, float]:
    """How well the map keeps each image's neighbours, on a seeded sample of `sample` images:
    knn_recall, the mean share of an image's k nearest neighbours among all images in feature space that are among
    its k nearest on the map; trustworthiness (scikit-learn, k), computed among the sampled images only."""
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import NearestNeighbors

    features, coords = np.asarray(features, np.float32), np.asarray(coords, np.float32)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(features), min(sample, len(features)), replace=False))
    k = int(min(k, len(features) - 2))
    high = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features[chosen], return_distance=False)
    low = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords[chosen], return_distance=False)
    recall = np.mean([len(set(h[1:]) & set(lo[1:])) / k for h, lo in zip(high, low, strict=True)])
    trust = trustworthiness(features[chosen], coords[chosen], n_neighbors=min(k, len(chosen) // 2 - 1))
    return {"knn_recall": round(float(recall), 4), "trustworthiness": round(float(trust), 4), "k": k,
            "sample": int(len(chosen))}
