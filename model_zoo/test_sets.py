"""Other test sets: how a model did on folders of labelled images beyond CIFAKE (`training.evaluate --folder`).

The card keeps them beside "metrics", keyed by the set's name (by default the folder's name):
    "other_test_sets": {"<name>": {accuracy, precision, recall, f1, roc_auc, confusion_matrix, n,
                                   "n_real", "n_fake", "skipped", "threshold", "folder", "evaluated",
                                   "share_uncertain", "share_out_of_distribution", "fingerprint"}}
with the metrics of model_zoo.metrics.binary_metrics at the card's own threshold, `skipped` the files that
could not be read, `evaluated` the date, `share_uncertain` the share the card's band calls UNCERTAIN,
`share_out_of_distribution` the share above the novelty cut-off (None: no believed novelty check) and
`fingerprint` what identifies the images measured (training.lib.folder_eval.folder_fingerprint). They sit outside
the card's metrics, which hold the model's own splits. The card (model_zoo.card.OtherTestSet) checks each set's
figures when the entry is read.
Rows and tables for the Model page, the leaderboards and the model card are built here, so all of them show
the same figures.

The generalisation view (every set a model was measured on, its own test set among them) is built here too:
measured_sets, rank_by_set and scope_sentence (what a model was trained on: model_zoo.zoo.training_set_name).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from model_zoo.card import Card

OTHER_TEST_SETS = "other_test_sets"
CIFAKE_SETS = (("test", "CIFAKE test"), ("test_unseen", "CIFAKE test, unseen in train"))


def other_test_sets(card: Card) -> dict[str, dict[str, Any]]:
    """card.other_set_metrics: name -> figures of each other test set, sorted by name (kept for callers)."""
    return card.other_set_metrics


def with_test_set(card: Card, name: str, result: dict[str, Any]) -> Card:
    """A copy of the card with `result` stored as other test set `name` (replacing an earlier one of that name)."""
    sets = {**card.other_set_metrics, name: result}
    return card.updated(**{OTHER_TEST_SETS: dict(sorted(sets.items()))})


def own_test_sets(card: Card) -> tuple[tuple[str, str], ...]:
    """(metrics key, label) of the model's own test split and its unseen subset: CIFAKE's, or a folder model's own
    (its metrics.test is then that folder's test split, training.evaluate on its --data)."""
    if not card.trained_on_folder:
        return CIFAKE_SETS
    own = card.own_test_set_name
    return (("test", own), ("test_unseen", f"{own}, unseen in train"))


def rows_per_test_set(card: Card) -> list[dict[str, Any]]:
    """The model's own test split (and its unseen subset) first, then every other test set: one row of figures each."""
    rows = []
    kind = "own" if card.trained_on_folder else "CIFAKE"
    for key, label in own_test_sets(card):
        metrics = card.split_metrics(key)
        if metrics is not None:
            rows.append(_row(label, kind, metrics))
    for name, metrics in other_test_sets(card).items():
        rows.append(_row(name, "other", metrics))
    return rows


def _row(label: str, kind: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return {"test set": label, "kind": kind, "accuracy": metrics.get("accuracy"), "roc_auc": metrics.get("roc_auc"),
            "precision": metrics.get("precision"), "recall": metrics.get("recall"), "f1": metrics.get("f1"),
            "n": metrics.get("n"), "skipped": metrics.get("skipped"), "evaluated": metrics.get("evaluated")}


def leaderboard_columns(card: Card) -> dict[str, float | None]:
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
        cifake = entry.test_metrics or {}
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


# --- generalisation: what a model was trained on, and every set it was measured on --------------------------

def own_test_set_name(card: Card) -> str:
    """card.own_test_set_name: the column name of the model's own test set (kept for callers)."""
    return card.own_test_set_name


def _own_test_scores(card: Card) -> dict[str, Any] | None:
    """metrics.test with the shares the card records for it elsewhere: UNCERTAIN (decision.band_test) and out of
    distribution (novelty.checks.test_flagged, on a sample of the test split; None when the check is not believed)."""
    test = card.split_metrics("test")
    if test is None:
        return None
    band_test = card.decision_rule.band_test
    coverage = band_test.coverage if band_test else None
    uncertain = None if coverage is None else round(1 - float(coverage), 5)
    if uncertain is None and not card.has_band:
        uncertain = 0.0  # no band: this card never says UNCERTAIN
    checks = card.novelty.checks if card.novelty else None
    flagged = checks.test_flagged if checks else None
    return {**test, "share_uncertain": uncertain,
            "share_out_of_distribution": float(flagged) if card.novelty_believed and flagged is not None else None}


def measured_sets(card: Card) -> dict[str, dict[str, Any]]:
    """name -> figures of every set the model was measured on: its own test set first (own_test_set_name), then
    each other test set by name. A set named like the own test set does not replace it."""
    own = card.own_test_set_name
    scores = {own: _own_test_scores(card)}
    scores = {name: values for name, values in scores.items() if values is not None}
    scores.update({name: values for name, values in other_test_sets(card).items() if name != own})
    return scores


def set_names(entries: Sequence[Any]) -> list[str]:
    """Every set any entry was measured on: own test sets first (in first-seen order), then the others by name."""
    own = list(dict.fromkeys(entry.card.own_test_set_name for entry in entries
                             if entry.card.own_test_set_name in measured_sets(entry.card)))
    others = sorted({name for entry in entries for name in measured_sets(entry.card)} - set(own))
    return own + others


def rank_by_set(entries: Sequence[Any], set_name: str) -> list[Any]:
    """The entries best first on one set: highest ROC-AUC (threshold-free, so models with different thresholds
    compare fairly), then accuracy, then name; a set with one class only (no ROC-AUC) ranks by accuracy.
    Entries not measured on the set come last, by name."""
    def key(entry: Any) -> tuple:
        scores = measured_sets(entry.card).get(set_name)
        if scores is None:
            return (1, 1, 0.0, 0.0, entry.name)
        auc, accuracy = scores.get("roc_auc"), scores.get("accuracy")
        return (0, auc is None, -(auc or 0.0), -(accuracy or 0.0), entry.name)

    return sorted(entries, key=key)


def _score_on(name: str, scores: dict[str, Any], say_roc_auc: bool = False) -> str:
    if scores.get("roc_auc") is not None:
        return f"{'ROC-AUC ' if say_roc_auc else ''}{scores['roc_auc']:.3f} on {name}"
    return f"accuracy {scores['accuracy']:.3f} on {name} (one class only, so no ROC-AUC)"


def scope_sentence(card: Card) -> str:
    """One sentence from the card's numbers: what the model was trained on, its ROC-AUC there and on every other
    set, e.g. "Trained on CIFAKE: ROC-AUC 0.996 there (CIFAKE test), 0.430 on DDPM."."""
    trained = card.training_set_name
    sets = measured_sets(card)
    own_name = card.own_test_set_name
    own = sets.pop(own_name, None)
    if own is None or own.get("roc_auc") is None:
        others = ", ".join(_score_on(name, scores, say_roc_auc=True) for name, scores in sets.items())
        return f"Trained on {trained}; not evaluated on its {own_name} set yet" + (f"; {others}." if others else ".")
    others = ", ".join(_score_on(name, scores) for name, scores in sets.items())
    start = f"Trained on {trained}: ROC-AUC {own['roc_auc']:.3f} there ({own_name})"
    if not others:
        return start + f"; not measured on any other set, so how well it does beyond {trained} is unknown."
    return f"{start}, {others}."
