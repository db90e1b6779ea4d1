"""Where a model fails: its error rate per slice of the test set, per true class, with Wilson 95% intervals.

A slice is the test images sharing one value of an attribute (model_zoo.image_attributes): a content class, a
quantile bin of a measured property (QUANTILE_BINS per property, over the whole test split), or a duplicate kind.
For each slice and true class, `slice_table` counts the model's errors at its own threshold
(model_zoo.decision.labels_for): among REAL images the share called FAKE (false-positive rate), among FAKE images
the share missed. Its rows (the entry's slices.csv, written by `python -m training.slices`) are
    by, value, true_class, n, errors, rate, ci_low, ci_high
with by = "all" / value = "all" for the whole test split. `weakest_sentence` names the worst slices, only those
whose interval lies wholly above the model's overall rate for that class (weak_slices). `slices_by` narrows a
table to some attributes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from model_zoo.decision import CLASS_NAMES, labels_for
from model_zoo.image_attributes import CIFAR10_CLASSES, PROPERTIES, PROPERTY_LABELS

ALL = "all"
CONTENT = "content"
DUPLICATES = "duplicates"
ATTRIBUTES = (CONTENT, *PROPERTIES, DUPLICATES)  # the slice dimensions, in the order tables show them
COLUMNS = ("by", "value", "true_class", "n", "errors", "rate", "ci_low", "ci_high")
QUANTILE_BINS = 4
Z95 = 1.959963984540054
MAX_NAMED = 2  # slices a sentence names per class
QUARTER_NAMES = ("lowest", "second", "third", "highest")
_PLURALS = {name: name + "s" for name in CIFAR10_CLASSES} | {"deer": "deer"}
EXACT_COPY, NEAR_COPY, NO_COPY = "exact copy in train", "near copy in train", "no copy in train"


def wilson_interval(errors: np.ndarray | int, n: np.ndarray | int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of errors / n (vectorised); (0, 1) where n is 0."""
    errors, n = np.asarray(errors, dtype=np.float64), np.asarray(n, dtype=np.float64)
    safe = np.maximum(n, 1)
    p = errors / safe
    centre = (p + z * z / (2 * safe)) / (1 + z * z / safe)
    half = z * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe)) / (1 + z * z / safe)
    low = np.where((n > 0) & (errors > 0), centre - half, 0.0)  # exactly 0 without errors (no rounding residue)
    high = np.where(n > 0, np.where(errors < n, centre + half, 1.0), 1.0)
    return np.clip(low, 0, 1), np.clip(high, 0, 1)


def quantile_values(values: pd.Series, bins: int = QUANTILE_BINS) -> pd.Series | None:
    """Each value's quantile bin as "Q1 0.106-0.381" (bins over all given values), or None when the values do not
    make two bins (a constant property, or none measured)."""
    known = values.dropna()
    if known.nunique() < 2:
        return None
    codes, edges = pd.qcut(known, bins, labels=False, retbins=True, duplicates="drop")
    if len(edges) < 3:
        return None
    names = [f"Q{i + 1} {edges[i]:.3g}-{edges[i + 1]:.3g}" for i in range(len(edges) - 1)]
    return codes.map(lambda code: names[int(code)]).reindex(values.index)


def _duplicate_values(test: pd.DataFrame) -> pd.Series:
    kinds = np.where(test["exact_other_split"], EXACT_COPY, np.where(test["near_other_split"], NEAR_COPY, NO_COPY))
    return pd.Series(kinds, index=test.index)


def slice_values(test: pd.DataFrame, by: str) -> pd.Series | None:
    """Each test row's value of slice dimension `by`, or None when the data has no such slices."""
    if by == CONTENT:
        return test[CONTENT] if (test[CONTENT] != "").any() else None
    if by == DUPLICATES:
        return _duplicate_values(test)
    if by in PROPERTIES:
        return quantile_values(test[by])
    raise ValueError(f"unknown slice attribute {by!r} (choose from {', '.join(ATTRIBUTES)})")


def joined(predictions: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """The predictions (path, label, prob_fake) with each image's attributes (test: attribute rows indexed by path);
    ValueError naming an example when a prediction's path is not among them."""
    missing = ~predictions["path"].isin(test.index)
    if missing.any():
        raise ValueError(f"{int(missing.sum()):,} of {len(predictions):,} predicted test images (e.g. "
                         f"{predictions.loc[missing, 'path'].iloc[0]!r}) are not in the dataset's test split: "
                         "pass the data the model was evaluated on")
    attributes = test.drop(columns=["label"], errors="ignore").loc[predictions["path"]].reset_index(drop=True)
    return pd.concat([predictions.reset_index(drop=True), attributes], axis=1)


def slice_table(predictions: pd.DataFrame, test: pd.DataFrame, card: dict,
                by: Sequence[str] = ATTRIBUTES) -> pd.DataFrame:
    """The COLUMNS table of the module docstring for a model's stored test predictions at its card's threshold."""
    rows = joined(predictions, test)
    labels = rows["label"].to_numpy().astype(int)
    wrong = labels_for(rows["prob_fake"].to_numpy(), card) != labels
    groups = [(ALL, pd.Series(ALL, index=rows.index))]
    groups += [(name, values) for name in by if (values := slice_values(rows, name)) is not None]
    records = []
    for name, values in groups:
        for label, class_name in enumerate(CLASS_NAMES):
            of_class = labels == label
            for value in sorted(values[of_class].dropna().unique()):
                member = of_class & (values == value).to_numpy()
                records.append((name, str(value), class_name, int(member.sum()), int(wrong[member].sum())))
    table = pd.DataFrame(records, columns=list(COLUMNS[:5]))
    table["rate"] = table["errors"] / table["n"].clip(lower=1)
    table["ci_low"], table["ci_high"] = wilson_interval(table["errors"].to_numpy(), table["n"].to_numpy())
    return table


def slices_by(table: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """The overall rows and those of the attributes `by`."""
    return table[table["by"].isin([ALL, *by])].reset_index(drop=True)


def rates_by_value(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """One row per value of `by` (in the table's order): n, rate, ci_low, ci_high of each true class, as columns
    "<CLASS> n", "<CLASS> rate", ... (REAL's rate is its false-positive rate, FAKE's its miss rate)."""
    rows = table[table["by"] == by]
    wide = rows.pivot_table(index="value", columns="true_class", values=["n", "rate", "ci_low", "ci_high"], sort=False)
    wide.columns = [f"{true_class} {measure}" for measure, true_class in wide.columns]
    order = [f"{c} {m}" for c in CLASS_NAMES for m in ("n", "rate", "ci_low", "ci_high") if f"{c} {m}" in wide.columns]
    return wide[order].reindex(list(dict.fromkeys(rows["value"])))


def sliced_by(table: pd.DataFrame) -> list[str]:
    """The attributes a table has slices of, in ATTRIBUTES order (content first when there is one)."""
    present = set(table["by"])
    return [name for name in ATTRIBUTES if name in present]


def overall_rate(table: pd.DataFrame, true_class: str) -> float:
    row = table[(table["by"] == ALL) & (table["true_class"] == true_class)]
    return float(row["rate"].iloc[0]) if len(row) else float("nan")


def weak_slices(table: pd.DataFrame, true_class: str) -> pd.DataFrame:
    """The slices of `true_class` whose Wilson interval lies wholly above the model's overall rate, worst first."""
    overall = overall_rate(table, true_class)
    above = (table["ci_low"] > overall) & (table["rate"] > overall)
    rows = table[(table["by"] != ALL) & (table["true_class"] == true_class) & above]
    return rows.sort_values("rate", ascending=False, kind="stable")


def _subject(by: str, value: str, true_class: str) -> str:
    if by == CONTENT:
        return _PLURALS.get(value, f"{value} images")
    if by == DUPLICATES:
        return f"images with an {value}" if value == EXACT_COPY else f"images with a {value}"
    label = PROPERTY_LABELS.get(by, by)
    quarter = int(value.split()[0][1:]) - 1 if value.startswith("Q") else -1
    if 0 <= quarter < len(QUARTER_NAMES):
        return f"images in the {QUARTER_NAMES[quarter]} quarter of {label} ({value.split(' ', 1)[1]})"
    return f"images of {label} {value}"


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _class_clause(table: pd.DataFrame, true_class: str, max_named: int) -> str | None:
    weak = weak_slices(table, true_class)
    if weak.empty:
        return None
    attribute = CONTENT if (weak["by"] == CONTENT).any() else weak["by"].iloc[0]  # content classes read best
    named = weak[weak["by"] == attribute].head(max_named)
    subjects = _listed([_subject(row.by, row.value, true_class) for row in named.itertuples()])
    rates = _listed([f"{row.rate:.1%}" for row in named.itertuples()])
    against = f"against {overall_rate(table, true_class):.1%} of all {true_class} images"
    if true_class == CLASS_NAMES[0]:
        return f"calls {true_class} {subjects} {CLASS_NAMES[1]} most often: {rates}, {against}"
    return f"misses {true_class} {subjects} most often: {rates}, {against}"


def weakest_sentence(name: str, table: pd.DataFrame, max_named: int = MAX_NAMED) -> str:
    """One sentence naming the model's weakest slices (weak_slices) for each true class, from the table's numbers:
    the worst content classes when any qualifies, else the worst values of the attribute of the worst slice; when no
    slice qualifies it says only that."""
    clauses = [clause for true_class in CLASS_NAMES if (clause := _class_clause(table, true_class, max_named))]
    if not clauses:
        return (f"No slice of {name}'s test images is reliably harder than the rest: no slice's 95% interval lies "
                "above the model's overall error rate.")
    return f"{name} " + "; it ".join(clauses) + "."
