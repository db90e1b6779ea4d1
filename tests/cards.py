"""Typed cards for tests from the few fields a test cares about (model_zoo.card.Card): the rest get plain defaults."""

from __future__ import annotations

from typing import Any

from model_zoo.card import METRIC_KEYS, Card


def _figures(values: Any) -> Any:
    """A partial metrics block completed with plausible figures (precision, recall, f1 = accuracy; n = 100)."""
    if not isinstance(values, dict):
        return values
    accuracy = values.get("accuracy", 0.9)
    defaults = {"accuracy": accuracy, "precision": accuracy, "recall": accuracy, "f1": accuracy, "roc_auc": None,
                "confusion_matrix": [[0, 0], [0, 0]], "n": 100}
    return {**{key: defaults[key] for key in METRIC_KEYS if key not in values}, **values}


def typed(raw: dict[str, Any] | None = None, **fields: Any) -> Card:
    """A Card from `raw` and `fields`; name, architecture, input_shape, preprocessing, params, size_bytes, train and
    metrics default to a 32x32 [0, 1]-scaled model with no figures, and partial metrics blocks are completed."""
    given = {**(raw or {}), **fields}
    card: dict[str, Any] = {
        "name": "m", "architecture": "a", "input_shape": [32, 32, 3],
        "preprocessing": {"color": "RGB", "resize": "area", "mean": [0.0, 0.0, 0.0], "std": [255.0, 255.0, 255.0]},
        "params": 1, "size_bytes": 0, "train": {}, "metrics": {}, **given}
    card["metrics"] = {split: _figures(values) for split, values in card["metrics"].items()}
    if isinstance(card.get("other_test_sets"), dict):
        card["other_test_sets"] = {name: _figures(values) for name, values in card["other_test_sets"].items()}
    return Card.from_dict(card)


def stub_card(policy: dict[str, Any] | None = None, size: int = 32) -> Card:
    """A calibrated-as-is card (T = 1, t = 0.5) for stub models that read pixels on the 0-255 scale, resized or,
    with `policy` (model_zoo.crops.crop_policy), judged by crops."""
    preprocessing: dict[str, Any] = {"color": "RGB", "resize": "area", "mean": [0.0] * 3, "std": [1.0] * 3}
    if policy:
        preprocessing["input_policy"] = policy
    return typed(name="stub", input_shape=[size, size, 3], preprocessing=preprocessing,
                 decision={"temperature": 1.0, "threshold": 0.5, "fitted_on": "validation"})
