"""Side-by-side comparisons of models (metrics, robustness, disagreement, operating points), for the leaderboard page.

The leaderboard table itself is model_zoo.leaderboard_table's, shared with the Markdown one.

Models can be evaluated on different test images: CIFAKE's, or the test split of the labelled folder a model was
trained on (dashboard.misclassified.test_sets groups them). Anything joined image by image (ROC/PR overlays,
disagreements) is computed within one test set only (`compare_by_test_set`), and `comparison_note` says which
models were compared on which set; per-model figures from the cards keep every model, each named with its set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from dashboard.misclassified import (
    TestSet,
    disagreements,
    model_columns,
    model_thresholds,
    predictions_table,
    test_set_labels,
    test_sets,
    verdicts,
)
from model_zoo import ZooEntry, ZooError, all_best_first
from model_zoo.leaderboard_table import METRIC_COLUMNS
from model_zoo.operating_point import operating_point

TEST_SET = "test set"  # the column naming the images a row's test figures are on


def _labels_when_mixed(entries: Sequence[ZooEntry]) -> dict[str, str]:
    """test_set_labels when the entries' test figures are on more than one test set, else {} (nothing to tell)."""
    labels = test_set_labels(entries)
    return labels if len(set(labels.values())) > 1 else {}


def with_test_set_column(board: pd.DataFrame, entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """The leaderboard frame with a TEST_SET column after `weights` (which images each row's test figures are on)
    when the zoo's models were evaluated on more than one test set; unchanged otherwise."""
    labels = _labels_when_mixed(entries)
    if not labels or board.empty:
        return board
    board = board.copy()
    board.insert(list(board.columns).index("weights") + 1 if "weights" in board else 1, TEST_SET,
                 board["model"].map(labels))
    return board


def panel_titles(entries: Sequence[ZooEntry], chosen: Sequence[str]) -> dict[str, str]:
    """Chosen model name -> its title in the side-by-side panels built from its card (confusion matrices):
    "NAME (on SET)" when the chosen models' test figures are on different sets, else the name."""
    labels = test_set_labels(entries)
    mixed = len({labels[name] for name in chosen if name in labels}) > 1
    return {name: f"{name} (on {labels[name]})" if mixed and name in labels else name for name in chosen}


def operating_point_frame(entries: Sequence[ZooEntry], max_fpr: float) -> pd.DataFrame:
    """One row per model with stored validation predictions (all_best_first order): its threshold for at most
    `max_fpr` false positives on REAL validation images (model_zoo.operating_point), and what it gave on test
    (with a TEST_SET column naming those images when the models' test sets differ)."""
    labels = _labels_when_mixed(entries)
    rows = []
    for entry in all_best_first(entries):
        try:
            point = operating_point(entry, max_fpr)
        except ZooError:  # no validation predictions stored: nothing to choose a threshold on
            continue
        test = point.test or {}
        rows.append({"model": entry.name, **({TEST_SET: labels.get(entry.name)} if labels else {}),
                     "threshold": point.threshold, "validation FPR": point.validation["fpr"],
                     "REAL validation images": point.validation["n_real"], "test FPR": test.get("fpr"),
                     "test precision": test.get("precision"), "test recall": test.get("recall")})
    return pd.DataFrame(rows)


def metrics_long(entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """(model, metric, value, test set) rows of the test metrics from the cards, for grouped bar charts; `test set`
    names the images each model was measured on (dashboard.misclassified.test_set_labels)."""
    labels = test_set_labels(entries)
    rows = []
    for entry in entries:
        metrics = entry.test_metrics or {}
        for key in METRIC_COLUMNS:
            if metrics.get(key) is not None:
                rows.append({"model": entry.name, "metric": key, "value": float(metrics[key]),
                             TEST_SET: labels.get(entry.name)})
    return pd.DataFrame(rows, columns=["model", "metric", "value", TEST_SET])


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


@dataclass(frozen=True)
class SetComparison:
    """The chosen models evaluated on one test set, their stored predictions joined image by image."""

    test_set: TestSet  # the set, with every zoo entry evaluated on it (its label is the errors page's)
    table: pd.DataFrame  # path, label and one P(FAKE) column per chosen model (dashboard.misclassified.predictions_table)
    thresholds: dict[str, float]

    @property
    def models(self) -> list[str]:
        return model_columns(self.table)

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name -> (labels, P(FAKE)) over the images every compared model was evaluated on, for ROC/PR overlays."""
        labels = self.table["label"].to_numpy()
        return {name: (labels, self.table[name].to_numpy()) for name in self.models}

    def disagreement(self) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """(pairwise disagreement_matrix, the images where they do not all agree); None with fewer than two models or
        no image in common."""
        if len(self.models) < 2 or self.table.empty:
            return None
        return (disagreement_matrix(self.table, self.models, self.thresholds),
                disagreements(self.table, self.models, self.thresholds))


def compare_by_test_set(entries: Sequence[ZooEntry], chosen: Sequence[str]) -> list[SetComparison]:
    """The chosen models grouped by the test images their stored predictions are on (test_sets over all of `entries`,
    so a set is labelled as on the errors page; CIFAKE's first), each group joined on its own: a table never holds
    models whose predictions name different images. Chosen models without stored predictions are in no group."""
    wanted = set(chosen)
    comparisons = []
    for test_set in test_sets(entries):
        members = [entry for entry in test_set.entries if entry.name in wanted]
        if members:
            comparisons.append(SetComparison(test_set, predictions_table(members), model_thresholds(members)))
    return comparisons


def comparison_note(chosen: Sequence[str], comparisons: Sequence[SetComparison]) -> str | None:
    """What the page says about where the chosen models were compared: which models on which test set when they span
    several (or share no image), and which have no stored test predictions; None when all were compared together."""
    compared = {name for comparison in comparisons for name in comparison.models}
    missing = [name for name in chosen if name not in compared]
    parts = []
    if len(comparisons) > 1:
        sets = "; ".join(f"{', '.join(c.models)} on **{c.test_set.label}**" + (" (alone there)" if len(c.models) == 1
                                                                               else "") for c in comparisons)
        parts.append(f"These models were evaluated on {len(comparisons)} different test sets, whose images never "
                     f"match, so the curves and disagreements below compare models within one set at a time: {sets}. "
                     "The metric bars and confusion matrices above are each on its model's own test set.")
    parts += [f"{', '.join(c.models)} share no test image on **{c.test_set.label}**, so they cannot be compared "
              "image by image." for c in comparisons if len(c.models) > 1 and c.table.empty]
    if missing:
        parts.append(f"No stored test predictions, so not in the curves: {', '.join(missing)} "
                     "(`python -m training.evaluate NAME` writes them).")
    return " ".join(parts) or None
