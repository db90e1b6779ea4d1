"""Test-set errors: one table of every model's stored P(FAKE) per test image, and its filters.

The table has columns `path`, `label` (1 = FAKE) and one column of P(FAKE) per
model; only images that every included model was evaluated on are kept, so
"other models got it right" always compares like with like.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from model_zoo import ZooEntry

CLASS_NAMES = ("REAL", "FAKE")
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


def correct(table: pd.DataFrame, model: str, threshold: float = 0.5) -> pd.Series:
    return (table[model] >= threshold).astype(int) == table["label"].astype(int)


def filter_errors(
    table: pd.DataFrame,
    model: str,
    *,
    true_class: str | None = None,
    confidence: tuple[float, float] = (0.5, 1.0),
    others: str = "any",
    threshold: float = 0.5,
) -> pd.DataFrame:
    """The images `model` gets wrong, narrowed by true class, its confidence in the wrong verdict,
    and what the other models in the table did. Adds `confidence` and `others_right` columns.
    """
    if others not in OTHERS_CHOICES:
        raise ValueError(f"others must be one of {OTHERS_CHOICES}")
    probs = table[model]
    wrong = ~correct(table, model, threshold)
    verdict_fake = probs >= threshold
    conf = np.where(verdict_fake, probs, 1 - probs)
    other_models = [m for m in model_columns(table) if m != model]
    others_right = (
        pd.concat([correct(table, m, threshold) for m in other_models], axis=1).sum(axis=1)
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


def disagreements(table: pd.DataFrame, models: Sequence[str], threshold: float = 0.5) -> pd.DataFrame:
    """Images on which the given models do not all give the same verdict."""
    if len(models) < 2 or table.empty:
        return table.iloc[0:0]
    verdicts = np.stack([table[m].to_numpy() >= threshold for m in models], axis=1)
    mixed = verdicts.any(axis=1) & ~verdicts.all(axis=1)
    return table[mixed]


def paginate(frame: pd.DataFrame, page: int, per_page: int) -> tuple[pd.DataFrame, int]:
    """Rows of one 1-based page (clamped to the valid range) and the number of pages (at least 1)."""
    pages = max(1, math.ceil(len(frame) / per_page))
    page = min(max(1, page), pages)
    return frame.iloc[(page - 1) * per_page : page * per_page], pages
