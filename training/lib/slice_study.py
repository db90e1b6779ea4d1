"""Where each model fails, per slice of its own test split: the library behind `python -m training.slices`.

A model's stored test predictions (test_predictions.csv) are joined by path with its test images' attributes
(training.lib.image_folders.dataset_attributes, cached per dataset) and cut into slices (model_zoo.slice_errors); the
table goes into the entry as slices.csv, atomically. No model is run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pandas as pd

from model_zoo import ZooEntry, ZooError, list_entries, read_entry, staged_entry
from model_zoo.image_attributes import test_rows
from model_zoo.selection import ZOO, choose
from model_zoo.slice_errors import ATTRIBUTES, CONTENT, slice_table, slices_by, weakest_sentence
from model_zoo.zoo import SLICES_FILE
from training.lib.cli import _split_to_rebuild, warn_skipped
from training.lib.data import Dataset
from training.lib.image_folders import check_trained_on, load_labelled_data

DEFAULT_BY = (CONTENT,)


def entries_to_slice(names: Sequence[str], zoo: str | None) -> list[ZooEntry]:
    """["all"]: every entry with stored test predictions, the consensus included; else the named entries (an
    unknown or unevaluated one is a ZooError naming it); [] means the zoo's answer (model_zoo.selection's `zoo`)."""
    if not names:
        entries, problems = list_entries(zoo)
        warn_skipped(problems)
        return choose(ZOO, [e for e in entries if e.has_test_predictions], zoo).candidates[:1]
    if list(names) == ["all"]:
        entries, problems = list_entries(zoo)
        warn_skipped(problems)
        return [entry for entry in entries if entry.has_test_predictions]
    picked = [read_entry(name, zoo) for name in dict.fromkeys(names)]
    for entry in picked:
        if not entry.has_test_predictions:
            raise ZooError(f"{entry.name} has no test predictions: run `python -m training.evaluate {entry.name}` first")
    return picked


def trained_on(entry: ZooEntry, dataset: Dataset) -> bool:
    """Whether the entry's test split is this dataset's (training.lib.image_folders.check_trained_on)."""
    try:
        check_trained_on(entry.card, dataset)
    except ZooError:
        return False
    return True


def slice_data(entries: list[ZooEntry], data: str | None, every: bool = False) -> tuple[Dataset, list[ZooEntry]]:
    """The dataset (CIFAKE, or the folder the entries were trained on, its split rebuilt from a card) and the entries
    whose test split it holds. A named entry trained on other data is a ZooError; with `every` ("all") such entries
    are left out with a note."""
    dataset = load_labelled_data(data, split=_split_to_rebuild(entries, data))
    if not every:
        for entry in entries:
            check_trained_on(entry.card, dataset)
        return dataset, entries
    left_out = [entry.name for entry in entries if not trained_on(entry, dataset)]
    if left_out:
        print(f"note: 'all' leaves out {', '.join(left_out)} (trained on other data than {dataset.source})",
              file=sys.stderr)
    return dataset, [entry for entry in entries if entry.name not in left_out]


def entry_slices(entry: ZooEntry, attributes: pd.DataFrame) -> pd.DataFrame:
    """The entry's slice table over every attribute (model_zoo.slice_errors.slice_table); ZooError when its predictions'
    paths are not this data's test images."""
    try:
        return slice_table(entry.test_predictions(), test_rows(attributes), entry.card, ATTRIBUTES)
    except ValueError as exc:
        raise ZooError(f"{entry.name}: {exc}") from None


def write_slices(entry: ZooEntry, table: pd.DataFrame, zoo: str | None = None) -> None:
    """slices.csv into the entry, atomically (model_zoo.staged_entry)."""
    with staged_entry(entry.name, zoo, from_existing=True) as folder:
        table.to_csv(folder / SLICES_FILE, index=False, float_format="%.6g")


def format_table(name: str, table: pd.DataFrame, by: Sequence[str] = DEFAULT_BY) -> str:
    """The printed table: one line per slice of `by`, REAL's false-positive rate beside FAKE's miss rate, then the
    model's sentence."""
    shown = slices_by(table, by)
    wide = shown.pivot_table(index=["by", "value"], columns="true_class", values=["n", "rate", "ci_low", "ci_high"],
                             sort=False)
    lines = [f"{name}", f"  {'slice':<34} {'REAL called FAKE':>26} {'FAKE missed':>26}"]
    for (by_name, value), row in wide.iterrows():
        cells = []
        for true_class in ("REAL", "FAKE"):
            if ("n", true_class) in row and pd.notna(row[("n", true_class)]):
                cells.append(f"{row[('rate', true_class)]:6.1%} [{row[('ci_low', true_class)]:5.1%}, "
                             f"{row[('ci_high', true_class)]:5.1%}] n={int(row[('n', true_class)]):<5,}")
            else:
                cells.append("")
        label = "all" if by_name == "all" else f"{by_name}: {value}"
        lines.append(f"  {label:<34} {cells[0]:>26} {cells[1]:>26}")
    lines.append(f"  {weakest_sentence(name, table)}")
    return "\n".join(lines)
