"""Which model is best: the one order the leaderboards, `--model best` and the Pareto front share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from model_zoo.zoo import ZooEntry


def rank_key(entry: ZooEntry) -> tuple:
    """Sort key, best model first: highest test accuracy, then ROC-AUC, then fewer parameters, then name."""
    metrics = entry.test_metrics or {}
    return (-(metrics.get("accuracy") or 0.0), -(metrics.get("roc_auc") or 0.0), entry.card.get("params", 0), entry.name)


def evaluated_best_first(entries: Sequence[ZooEntry]) -> list[ZooEntry]:
    """Evaluated entries, best first (the leaderboard's order and `--model best`)."""
    return sorted((e for e in entries if e.test_metrics), key=rank_key)


def best_entry(entries: Sequence[ZooEntry]) -> ZooEntry | None:
    ranked = evaluated_best_first(entries)
    return ranked[0] if ranked else None


def all_best_first(entries: Sequence[ZooEntry]) -> list[ZooEntry]:
    """Every entry, best first: the leaderboard's order and the pick of `--model best`.

    Evaluated entries come first, ordered by evaluated_best_first; entries
    not yet evaluated follow, by validation accuracy, then name.
    """
    def validation_key(entry: ZooEntry) -> tuple:
        validation = entry.card["metrics"].get("validation") or {}
        return -(validation.get("accuracy") or 0.0), entry.name

    return evaluated_best_first(entries) + sorted((e for e in entries if not e.test_metrics), key=validation_key)
