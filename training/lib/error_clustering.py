"""Error clusters: a model's misclassified test images grouped in its own feature space (k-means).

The features are the model's penultimate ones (training/lib/feature_map.py), each scaled to unit length so that
clusters follow the direction of the features rather than their size, and reduced by PCA to at most
PCA_DIMENSIONS. k-means (scikit-learn, seeded, 10 starts) runs for every k in K_CANDIDATES that leaves at least
MIN_CLUSTER_SIZE errors a cluster on average; the k kept is the one with the highest mean silhouette (how much
nearer each error is to its own cluster than to the next one). A model with fewer than 2 * MIN_CLUSTER_SIZE errors
gets one cluster. Each cluster's prototypes are its PROTOTYPES errors nearest its centroid; their mean Grad-CAM
(model_zoo.saliency, for the class the model chose) is the cluster's heatmap. Only what is costly is stored
(model_zoo.zoo.TEST_MAP_FILE): the cluster of each error, the prototypes, the heatmaps and the silhouettes; sizes,
shares and sentences are worked out by the dashboard (dashboard/error_clusters.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_zoo.card import Card

K_CANDIDATES = tuple(range(2, 9))
MIN_CLUSTER_SIZE = 10
PROTOTYPES = 8
PCA_DIMENSIONS = 32
NOT_AN_ERROR = -1  # the cluster of an image the model gets right


@dataclass(frozen=True)
class ErrorClusters:
    """cluster (N,) int8: each image's cluster, NOT_AN_ERROR when the model is right; prototypes (k, PROTOTYPES)
    row indices, -1 padded; silhouettes (len(candidates), 2): k and its mean silhouette."""

    cluster: np.ndarray
    prototypes: np.ndarray
    silhouettes: np.ndarray

    @property
    def k(self) -> int:
        return int(self.cluster.max()) + 1 if (self.cluster >= 0).any() else 0


def _unit_pca(features: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    features = np.asarray(features, np.float64)
    features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    dimensions = min(PCA_DIMENSIONS, features.shape[1], len(features))
    return PCA(n_components=dimensions, random_state=seed).fit_transform(features) if dimensions > 1 else features


def cluster_errors(features: np.ndarray, wrong: np.ndarray, seed: int = 0) -> ErrorClusters:
    """Cluster the rows of `features` (N, D) where `wrong` (N,) is True; see the module docstring."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    wrong = np.asarray(wrong, bool)
    cluster = np.full(len(wrong), NOT_AN_ERROR, np.int8)
    errors = np.flatnonzero(wrong)
    if not len(errors):
        return ErrorClusters(cluster, np.zeros((0, PROTOTYPES), np.int32), np.zeros((0, 2), np.float32))
    points = _unit_pca(features[errors], seed)
    distinct = len(np.unique(np.round(points, 6), axis=0))  # k-means cannot make more clusters than this
    candidates = [k for k in K_CANDIDATES if len(errors) >= k * MIN_CLUSTER_SIZE and k <= distinct]
    scored, fits = [], {}
    for k in candidates:
        fit = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(points)
        if len(np.unique(fit.labels_)) < 2:
            continue
        fits[k] = fit
        scored.append((k, float(silhouette_score(points, fit.labels_, random_state=seed))))
    if scored:
        best = max(scored, key=lambda pair: pair[1])[0]
        labels, centres = fits[best].labels_, fits[best].cluster_centers_
    else:
        labels, centres = np.zeros(len(errors), int), points.mean(axis=0, keepdims=True)
    order = np.argsort(-np.bincount(labels, minlength=len(centres)), kind="stable")  # cluster 0 is the biggest
    relabel = np.empty(len(order), int)
    relabel[order] = np.arange(len(order))
    labels, centres = relabel[labels], centres[order]
    cluster[errors] = labels
    prototypes = np.full((len(centres), PROTOTYPES), -1, np.int32)
    for c, centre in enumerate(centres):
        members = np.flatnonzero(labels == c)
        nearest = members[np.argsort(np.linalg.norm(points[members] - centre, axis=1), kind="stable")][:PROTOTYPES]
        prototypes[c, : len(nearest)] = errors[nearest]
    return ErrorClusters(cluster, prototypes, np.array(scored, np.float32).reshape(-1, 2))


def prototype_heatmaps(model, card: Card, images, prototypes: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(k, H, W) float16: each cluster's mean Grad-CAM over its prototypes (`images` indexed by row), each explained
    for the class the model chose (`targets` (N,) of "FAKE"/"REAL")."""
    from model_zoo.saliency import explanation_maps

    maps = []
    for rows in prototypes:
        rows = rows[rows >= 0]
        seen = np.stack([np.asarray(images[int(r)]) for r in rows])
        maps.append(explanation_maps(model, card, seen, "Grad-CAM", [str(targets[int(r)]) for r in rows]).mean(axis=0))
    return np.stack(maps).astype(np.float16) if maps else np.zeros((0, 1, 1), np.float16)
