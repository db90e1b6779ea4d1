"""Curves and calibration from stored test predictions (labels + P(FAKE)); no model is run here.

Every number the Model and Leaderboard pages show at a threshold comes from
`model_zoo.binary_metrics`, so the dashboard and the card always agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from model_zoo import binary_metrics


def threshold_metrics(predictions: pd.DataFrame, threshold: float = 0.5) -> dict:
    """Card-shaped metrics of one model's stored test predictions at a decision threshold."""
    return binary_metrics(predictions["label"].to_numpy(), predictions["prob_fake"].to_numpy(), threshold)


def normalized_confusion(confusion: list[list[int]] | np.ndarray) -> np.ndarray:
    """Rows divided by their totals (recall per true class); rows without samples stay 0."""
    counts = np.asarray(confusion, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def roc_points(labels: np.ndarray, prob_fake: np.ndarray) -> pd.DataFrame:
    """False/true positive rates over all thresholds (empty when only one class is present)."""
    labels = np.asarray(labels).astype(int)
    if len(np.unique(labels)) < 2:
        return pd.DataFrame({"fpr": [], "tpr": [], "threshold": []})
    fpr, tpr, thresholds = skm.roc_curve(labels, prob_fake)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.clip(thresholds, 0, 1)})


def pr_points(labels: np.ndarray, prob_fake: np.ndarray) -> pd.DataFrame:
    """Precision and recall over all thresholds, with average precision in `.attrs['ap']`."""
    labels = np.asarray(labels).astype(int)
    if labels.sum() == 0:
        frame = pd.DataFrame({"recall": [], "precision": []})
        frame.attrs["ap"] = None
        return frame
    precision, recall, _ = skm.precision_recall_curve(labels, prob_fake)
    frame = pd.DataFrame({"recall": recall, "precision": precision})
    frame.attrs["ap"] = float(skm.average_precision_score(labels, prob_fake))
    return frame


def reliability_bins(labels: np.ndarray, prob_fake: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Equal-width bins of P(FAKE): mean predicted probability vs observed fraction FAKE, and counts."""
    labels = np.asarray(labels, dtype=float)
    prob_fake = np.clip(np.asarray(prob_fake, dtype=float), 0, 1)
    edges = np.linspace(0, 1, n_bins + 1)
    index = np.clip(np.digitize(prob_fake, edges[1:-1], right=False), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        rows.append({
            "bin_low": edges[b],
            "bin_high": edges[b + 1],
            "mean_prob": float(prob_fake[mask].mean()) if count else np.nan,
            "fraction_fake": float(labels[mask].mean()) if count else np.nan,
            "count": count,
        })
    return pd.DataFrame(rows)


def expected_calibration_error(labels: np.ndarray, prob_fake: np.ndarray, n_bins: int = 10) -> float:
    """Sample-weighted mean |observed - predicted| over the reliability bins (0 = perfectly calibrated)."""
    bins = reliability_bins(labels, prob_fake, n_bins)
    used = bins[bins["count"] > 0]
    if used.empty:
        return 0.0
    gaps = (used["fraction_fake"] - used["mean_prob"]).abs()
    return float((gaps * used["count"]).sum() / used["count"].sum())
