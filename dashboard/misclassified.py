"""Test-set errors: one table of every model's stored P(FAKE) per test image, and its filters.

The table has columns `path`, `label` (1 = FAKE) and one column of P(FAKE) per
model; only images that every included model was evaluated on are kept, so
"other models got it right" always compares like with like. Verdicts are taken at
each model's own threshold (`model_thresholds`, from the cards; model_zoo.decision).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from model_zoo import ZooEntry
from model_zoo.decision import CLASS_NAMES, labels_for, threshold

OTHERS_CHOICES = ("any", "all others right", "all others wrong", "some other right")


def predictions_table(entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """path, label and one P(FAKE) column per evaluated model (unevaluated models are left out)."""
    table: pd.DataFrame | None = None
    for entry in entries:
        predictions = entry.test_predictions()
        if predictions is None:
            continue
        column = predictions[["path", "label", "prob_fake"]].rename(columns={"prob_fake": entry.name})
        column = column.drop_duplicates("path")
        if table is None:
            table = column
        else:
            table = table.merge(column.drop(columns="label"), on="path", how="inner")
    if table is None:
        return pd.DataFrame(columns=["path", "label"])
    return table.reset_index(drop=True)


def model_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c not in ("path", "label")]


def model_thresholds(entries: Sequence[ZooEntry]) -> dict[str, float]:
    """Each model's decision threshold, from its card."""
    return {entry.name: threshold(entry.card) for entry in entries}


def verdicts(table: pd.DataFrame, models: Sequence[str], thresholds: Mapping[str, float]) -> pd.DataFrame:
    """1 (FAKE) / 0 (REAL) per image and model, each model at its own threshold."""
    return pd.DataFrame({m: labels_for(table[m].to_numpy(), thresholds[m]) for m in models}, index=table.index)


def correct(table: pd.DataFrame, model: str, thresholds: Mapping[str, float]) -> pd.Series:
    return verdicts(table, [model], thresholds)[model] == table["label"].astype(int)


def filter_errors(
    table: pd.DataFrame,
    model: str,
    thresholds: Mapping[str, float],
    *,
    true_class: str | None = None,
    confidence: tuple[float, float] = (0.0, 1.0),
    others: str = "any",
) -> pd.DataFrame:
    """The images `model` gets wrong, narrowed by true class, its confidence in the wrong verdict,
    and what the other models in the table did. Adds `confidence` and `others_right` columns.

    Confidence is the calibrated probability of the class the model chose; with a threshold
    other than 0.5 it can be below 0.5 (P(FAKE) 0.7 under threshold 0.8 is a REAL verdict at 0.3).
    """
    if others not in OTHERS_CHOICES:
        raise ValueError(f"others must be one of {OTHERS_CHOICES}")
    probs = table[model]
    wrong = ~correct(table, model, thresholds)
    verdict_fake = verdicts(table, [model], thresholds)[model] == 1
    conf = np.where(verdict_fake, probs, 1 - probs)
    other_models = [m for m in model_columns(table) if m != model]
    others_right = (
        pd.concat([correct(table, m, thresholds) for m in other_models], axis=1).sum(axis=1)
        if other_models else pd.Series(0, index=table.index)
    )
    mask = wrong & (conf >= confidence[0]) & (conf <= confidence[1])
    if true_class is not None:
        mask &= table["label"].astype(int) == CLASS_NAMES.index(true_class)
    if other_models and others == "all others right":
        mask &= others_right == len(other_models)
    elif other_models and others == "all others wrong":
        mask &= others_right == 0
    elif other_models and others == "some other right":
        mask &= others_right > 0
    result = table[mask].copy()
    result["confidence"] = conf[mask.to_numpy()]
    result["others_right"] = others_right[mask].astype(int)
    return result.sort_values("confidence", ascending=False)


def disagreements(table: pd.DataFrame, models: Sequence[str], thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Images on which the given models, each at its own threshold, do not all give the same verdict."""
    if len(models) < 2 or table.empty:
        return table.iloc[0:0]
    fake = verdicts(table, models, thresholds).to_numpy().astype(bool)
    mixed = fake.any(axis=1) & ~fake.all(axis=1)
    return table[mixed]


def paginate(frame: pd.DataFrame, page: int, per_page: int) -> tuple[pd.DataFrame, int]:
    """Rows of one 1-based page (clamped to the valid range) and the number of pages (at least 1)."""
    pages = max(1, math.ceil(len(frame) / per_page))
    page = min(max(1, page), pages)
    return frame.iloc[(page - 1) * per_page : page * per_page], pages
