"""The leaderboard table and side-by-side comparisons, built from zoo cards and stored predictions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from dashboard.misclassified import verdicts
from model_zoo import ZooEntry, ranked_entries
from model_zoo.decision import threshold
from model_zoo.operating_point import operating_point
from model_zoo.test_sets import leaderboard_columns
from model_zoo.tradeoff import front_marks, images_per_second
from model_zoo.tradeoff import latency_ms as recorded_latency_ms
from model_zoo.zoo import trained_from

METRIC_COLUMNS = ("accuracy", "precision", "recall", "f1", "roc_auc")
UNSEEN_COLUMNS = ("unseen_accuracy", "unseen_roc_auc", "unseen_n")
UNTIMED = "not timed"  # the pareto cell of a model without a recorded latency


def leaderboard_frame(entries: Sequence[ZooEntry], latency_ms: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One row per model, in model_zoo.ranked_entries order (so the top row is `predict --model best`'s pick):
    test metrics at the model's own threshold (validation when not yet evaluated), the same on the test
    images unseen in train when measured, size, speed. `recorded_latency_ms` is the card's (training.latency),
    which places the model on the accuracy-latency Pareto front (★) and picks `--model fastest`
    (model_zoo.tradeoff); `latency_ms` is measured now by the caller.
    """
    rows = []
    marks = front_marks(entries)
    for entry in ranked_entries(entries):
        card = entry.card
        metrics = card["metrics"].get("test")
        split = "test"
        if metrics is None:
            metrics, split = card["metrics"].get("validation", {}), "validation"
        unseen = entry.test_unseen_metrics or {}
        train = card.get("train", {})
        rows.append({
            "model": entry.name,
            "architecture": card.get("architecture", ""),
            "weights": trained_from(card),
            **{key: metrics.get(key) for key in METRIC_COLUMNS},
            "unseen_accuracy": unseen.get("accuracy"),
            "unseen_roc_auc": unseen.get("roc_auc"),
            "unseen_n": unseen.get("n"),
            **leaderboard_columns(card),  # "<set> accuracy", "<set> ROC-AUC" per other test set (--folder)
            "threshold": threshold(card),
            "metrics_on": split,
            "params": int(card.get("params", 0)),
            "size_mb": round(card.get("size_bytes", 0) / 2**20, 2),
            "latency_ms": None if latency_ms is None else latency_ms.get(entry.name),
            "recorded_latency_ms": recorded_latency_ms(entry),
            "images_per_second": images_per_second(entry),
            # An untimed model is on no front; say so rather than leave it looking dominated.
            "pareto": marks.get(entry.name, "") if recorded_latency_ms(entry) is not None else UNTIMED,
            "robust_accuracy": _mean_corrupted_accuracy(entry.robustness()),
            "augmentation": train.get("augmentation", ""),
            "epochs": train.get("epochs_run", train.get("epochs")),
            "train_minutes": round(train["wall_seconds"] / 60, 1) if train.get("wall_seconds") else None,
            "input": "x".join(str(v) for v in card["input_shape"][:2]),
        })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    optional = ["robust_accuracy", "latency_ms", "recorded_latency_ms", "images_per_second", "train_minutes",
                *UNSEEN_COLUMNS]
    frame = frame.drop(columns=[c for c in optional if frame[c].isna().all()])
    if "recorded_latency_ms" not in frame:  # no latency recorded: no front to mark
        frame = frame.drop(columns="pareto")
    if (frame["metrics_on"] == "test").all():
        frame = frame.drop(columns="metrics_on")
    return frame


def operating_point_frame(entries: Sequence[ZooEntry], max_fpr: float) -> pd.DataFrame:
    """One row per model with stored validation predictions (ranked_entries order): its threshold for at most
    `max_fpr` false positives on REAL validation images (model_zoo.operating_point), and what it gave on test."""
    rows = []
    for entry in ranked_entries(entries):
        if entry.validation_predictions() is None:
            continue
        point = operating_point(entry, max_fpr)
        test = point.test or {}
        rows.append({"model": entry.name, "threshold": point.threshold, "validation FPR": point.validation["fpr"],
                     "REAL validation images": point.validation["n_real"], "test FPR": test.get("fpr"),
                     "test precision": test.get("precision"), "test recall": test.get("recall")})
    return pd.DataFrame(rows)


def _mean_corrupted_accuracy(robustness: pd.DataFrame | None) -> float | None:
    """Mean accuracy over the corrupted conditions (the clean "none" row is the baseline, not a condition)."""
    if robustness is None:
        return None
    corrupted = robustness[robustness["corruption"] != "none"]
    return float(corrupted["accuracy"].mean()) if len(corrupted) else None


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
