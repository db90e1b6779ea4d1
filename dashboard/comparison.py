"""Side-by-side comparisons of models (metrics, robustness, disagreement, operating points), for the leaderboard page.

The leaderboard table itself is model_zoo.leaderboard_table's, shared with the Markdown one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from dashboard.misclassified import verdicts
from model_zoo import ZooEntry, ZooError, all_best_first
from model_zoo.leaderboard_table import METRIC_COLUMNS
from model_zoo.operating_point import operating_point


def operating_point_frame(entries: Sequence[ZooEntry], max_fpr: float) -> pd.DataFrame:
    """One row per model with stored validation predictions (all_best_first order): its threshold for at most
    `max_fpr` false positives on REAL validation images (model_zoo.operating_point), and what it gave on test."""
    rows = []
    for entry in all_best_first(entries):
        try:
            point = operating_point(entry, max_fpr)
        except ZooError:  # no validation predictions stored: nothing to choose a threshold on
            continue
        test = point.test or {}
        rows.append({"model": entry.name, "threshold": point.threshold, "validation FPR": point.validation["fpr"],
                     "REAL validation images": point.validation["n_real"], "test FPR": test.get("fpr"),
                     "test precision": test.get("precision"), "test recall": test.get("recall")})
    return pd.DataFrame(rows)


def metrics_long(entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """(model, metric, value) rows of the test metrics, for grouped bar charts."""
    rows = []
    for entry in entries:
        metrics = entry.test_metrics or {}
        for key in METRIC_COLUMNS:
            if metrics.get(key) is not None:
                rows.append({"model": entry.name, "metric": key, "value": float(metrics[key])})
    return pd.DataFrame(rows, columns=["model", "metric", "value"])


def robustness_long(entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """Robustness rows of every entry that has them, with a `model` column."""
    frames = []
    for entry in entries:
        frame = entry.robustness()
        if frame is not None:
            frames.append(frame.assign(model=entry.name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["model", "corruption", "level", "accuracy"])


def disagreement_matrix(table: pd.DataFrame, models: Sequence[str], thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Fraction of test images on which each pair of models gives different verdicts, each model at its own
    threshold (symmetric, 0 diagonal).
    """
    fake = verdicts(table, models, thresholds)
    matrix = pd.DataFrame(0.0, index=list(models), columns=list(models))
    for a, b in combinations(models, 2):
        value = float(np.mean(fake[a] != fake[b])) if len(table) else 0.0
        matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix
