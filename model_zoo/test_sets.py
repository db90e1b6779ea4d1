"""Other test sets: how a model did on folders of labelled images beyond CIFAKE (`training.evaluate --folder`).

The card keeps them beside "metrics", keyed by the set's name (by default the folder's name):
    "other_test_sets": {"<name>": {accuracy, precision, recall, f1, roc_auc, confusion_matrix, n,
                                   "n_real", "n_fake", "skipped", "threshold", "folder", "evaluated"}}
with the metrics of model_zoo.metrics.binary_metrics at the card's own threshold, `skipped` the files that
could not be read and `evaluated` the date. They sit outside card["metrics"], which holds the CIFAKE splits
that validate_card checks and every consumer reads as CIFAKE. Rows and tables for the Model page, the
leaderboards and the model card are built here, so all of them show the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from model_zoo.metrics import METRIC_KEYS

OTHER_TEST_SETS = "other_test_sets"
CIFAKE_SETS = (("test", "CIFAKE test"), ("test_unseen", "CIFAKE test, unseen in train"))


def other_test_sets(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> metrics of each well-formed other test set in the card, sorted by name (malformed ones are left out)."""
    sets = card.get(OTHER_TEST_SETS)
    if not isinstance(sets, dict):
        return {}
    return {name: values for name, values in sorted(sets.items())
            if isinstance(values, dict) and all(key in values for key in METRIC_KEYS)}


def with_test_set(card: dict[str, Any], name: str, result: dict[str, Any]) -> dict[str, Any]:
    """A copy of the card with `result` stored as other test set `name` (replacing an earlier one of that name)."""
    sets = dict(card.get(OTHER_TEST_SETS) or {})
    sets[name] = result
    return {**card, OTHER_TEST_SETS: dict(sorted(sets.items()))}


def rows_per_test_set(card: dict[str, Any]) -> list[dict[str, Any]]:
    """CIFAKE test (and its unseen subset) first, then every other test set: one row of figures each."""
    rows = []
    for key, label in CIFAKE_SETS:
        metrics = card["metrics"].get(key)
        if isinstance(metrics, dict):
            rows.append(_row(label, "CIFAKE", metrics))
    for name, metrics in other_test_sets(card).items():
        rows.append(_row(name, "other", metrics))
    return rows


def _row(label: str, kind: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return {"test set": label, "kind": kind, "accuracy": metrics.get("accuracy"), "roc_auc": metrics.get("roc_auc"),
            "precision": metrics.get("precision"), "recall": metrics.get("recall"), "f1": metrics.get("f1"),
            "n": metrics.get("n"), "skipped": metrics.get("skipped"), "evaluated": metrics.get("evaluated")}


def leaderboard_columns(card: dict[str, Any]) -> dict[str, float | None]:
    """'<set> accuracy' and '<set> ROC-AUC' per other test set, for a leaderboard row."""
    columns: dict[str, float | None] = {}
    for name, metrics in other_test_sets(card).items():
        columns[f"{name} accuracy"] = metrics.get("accuracy")
        columns[f"{name} ROC-AUC"] = metrics.get("roc_auc")
    return columns


def _cell(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def other_test_sets_markdown(entries: Sequence[Any]) -> str:
    """A Markdown table of every entry's other test sets beside its CIFAKE test accuracy ('' when none has any)."""
    rows = []
    for entry in entries:
        cifake = entry.card["metrics"].get("test") or {}
        for name, metrics in other_test_sets(entry.card).items():
            rows.append(f"| {entry.name} | {name} | {_cell(metrics['accuracy'], '.2%')} | "
                        f"{_cell(metrics.get('roc_auc'), '.4f')} | {metrics['n']:,} | {metrics.get('skipped', 0):,} | "
                        f"{_cell(cifake.get('accuracy'), '.2%')} | {metrics.get('evaluated', '')} |")
    if not rows:
        return ""
    header = ["| model | other test set | accuracy | ROC-AUC | n | skipped | CIFAKE test accuracy | evaluated |",
              "|---|---|---:|---:|---:|---:|---:|---|"]
    note = ("\nOther test sets: folders of labelled images (REAL/ and FAKE/) scored with "
            "`python -m training.evaluate NAME --folder DIR`, at each model's own threshold; skipped files could not "
            "be read. A gap to the CIFAKE column is how far the model's accuracy carries to those images.")
    return "\n".join(header + rows) + "\n" + note


def other_set_column_names(entries: Sequence[Any]) -> list[str]:
    """Every leaderboard_columns name across the entries, in first-seen order (for formatting a table)."""
    return list(dict.fromkeys(name for entry in entries for name in leaderboard_columns(entry.card)))
