"""The leaderboard table and side-by-side comparisons, built from zoo cards and stored predictions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from model_zoo import ZooEntry

ROBUSTNESS_FILE = "robustness.csv"
METRIC_COLUMNS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def leaderboard_frame(entries: Sequence[ZooEntry], latency_ms: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One row per model: test metrics (validation when not yet evaluated), size, speed; best accuracy first."""
    rows = []
    for entry in entries:
        card = entry.card
        metrics = card["metrics"].get("test")
        split = "test"
        if metrics is None:
            metrics, split = card["metrics"].get("validation", {}), "validation"
        robustness = read_robustness(entry)
        train = card.get("train", {})
        rows.append({
            "model": entry.name,
            "architecture": card.get("architecture", ""),
            **{key: metrics.get(key) for key in METRIC_COLUMNS},
            "metrics_on": split,
            "params": int(card.get("params", 0)),
            "size_mb": round(card.get("size_bytes", 0) / 2**20, 2),
            "latency_ms": None if latency_ms is None else latency_ms.get(entry.name),
            "robust_accuracy": _mean_corrupted_accuracy(robustness),
            "augmentation": train.get("augmentation", ""),
            "epochs": train.get("epochs_run", train.get("epochs")),
            "input": "x".join(str(v) for v in card["input_shape"][:2]),
        })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    if frame["robust_accuracy"].isna().all():
        frame = frame.drop(columns="robust_accuracy")
    if frame["latency_ms"].isna().all():
        frame = frame.drop(columns="latency_ms")
    if (frame["metrics_on"] == "test").all():
        frame = frame.drop(columns="metrics_on")
    return frame.sort_values("accuracy", ascending=False, na_position="last").reset_index(drop=True)


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


def read_robustness(entry: ZooEntry) -> pd.DataFrame | None:
    """The entry's robustness.csv (corruption, level, accuracy), or None when absent or unreadable."""
    path = entry.path / ROBUSTNESS_FILE
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    if not {"corruption", "level", "accuracy"} <= set(frame.columns) or frame.empty:
        return None
    return frame


def robustness_long(entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """Robustness rows of every entry that has them, with a `model` column."""
    frames = []
    for entry in entries:
        frame = read_robustness(entry)
        if frame is not None:
            frames.append(frame.assign(model=entry.name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["model", "corruption", "level", "accuracy"])


def disagreement_matrix(table: pd.DataFrame, models: Sequence[str], threshold: float = 0.5) -> pd.DataFrame:
    """Fraction of test images on which each pair of models gives different verdicts (symmetric, 0 diagonal)."""
    verdicts = {name: table[name].to_numpy() >= threshold for name in models}
    matrix = pd.DataFrame(0.0, index=list(models), columns=list(models))
    for a, b in combinations(models, 2):
        value = float(np.mean(verdicts[a] != verdicts[b])) if len(table) else 0.0
        matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix
