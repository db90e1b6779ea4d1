"""Which model is best: the one order the leaderboards, `--model best` and the Pareto front share.

Models are ranked within their test set, CIFAKE's first (comparable_group): `--model best` is the best on CIFAKE
when the zoo holds CIFAKE models; a model trained on a user's folder answers when named, or in a zoo of its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from model_zoo.card import Card
from model_zoo.zoo import CIFAKE_NAME

if TYPE_CHECKING:
    from model_zoo.zoo import ZooEntry


def comparable_group(card: Card) -> tuple[int, str]:
    """Which test set a card's test figures are on, as a sort key: CIFAKE's (0, "") first, the zoo's shared benchmark;
    then each labelled folder's (1, its name), a model trained on a folder being evaluated on that folder's split.
    Accuracies are only ever compared within one group: 100% on 120 images of a user's folder is not better than
    98% on CIFAKE's 20,000. A 32x32 set laid out like CIFAKE is read as CIFAKE's arrays, but its name (not CIFAKE's)
    still keeps it apart."""
    name = card.training_set_name
    return (0, "") if name == CIFAKE_NAME and not card.trained_on_folder else (1, name)


def rank_key(entry: ZooEntry) -> tuple:
    """Sort key, best model first: the test set (comparable_group: CIFAKE's first), then within it the highest test
    accuracy, then ROC-AUC, then fewer parameters, then name."""
    metrics = entry.test_metrics or {}
    return (*comparable_group(entry.card), -(metrics.get("accuracy") or 0.0), -(metrics.get("roc_auc") or 0.0),
            entry.card.params, entry.name)


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
        validation = entry.card.split_metrics("validation") or {}
        return -(validation.get("accuracy") or 0.0), entry.name

    return evaluated_best_first(entries) + sorted((e for e in entries if not e.test_metrics), key=validation_key)
