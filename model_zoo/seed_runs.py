"""The seed-variance results file: one row per (model, seed), kept in `<zoo>/seed_runs.csv`.

A zoo entry is one training run, so its test accuracy mixes the recipe with the luck of
one seed. `python -m training.seed_variance MODEL` retrains the recipe with other seeds
and records each run's figures here; the extra runs need not stay in the zoo, because the
The docs (docs/zoo.md) and the dashboard's studies page read their figures from this file.

The file is a plain file beside the entries' folders: `list_entries` lists folders only,
so it is never mistaken for an entry.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pandas as pd

from model_zoo.zoo import ZooEntry, ZooError, zoo_dir

SEED_RUNS_FILE = "seed_runs.csv"
# model: the shipped entry the run replicates; run: the entry name the run was trained under.
SEED_RUN_COLUMNS = ("model", "seed", "run", "accuracy", "roc_auc", "unseen_accuracy", "epochs_run", "best_epoch",
                    "train_minutes", "n")
REQUIRED_COLUMNS = ("model", "seed", "run", "accuracy", "roc_auc")
KEY = ["model", "seed"]
REWRITE_HINT = "fix or delete it, then run `python -m training.seed_variance MODEL` to write it again"


def seed_runs_path(zoo: str | os.PathLike | None = None) -> Path:
    return zoo_dir(zoo) / SEED_RUNS_FILE


def read_seed_runs(zoo: str | os.PathLike | None = None) -> pd.DataFrame | None:
    """The recorded runs (sorted by model, seed), or None when the zoo has no results file.

    Raises ZooError naming the file when it cannot be read, lacks columns, holds non-numbers
    where figures belong, or records one (model, seed) twice.
    """
    path = seed_runs_path(zoo)
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:  # EmptyDataError is a ValueError
        raise ZooError(f"{path}: not a readable CSV ({type(exc).__name__}: {exc}); {REWRITE_HINT}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ZooError(f"{path}: missing column(s) {', '.join(missing)} (expected {', '.join(SEED_RUN_COLUMNS)}); "
                       f"{REWRITE_HINT}")
    for column in SEED_RUN_COLUMNS[3:]:
        if column not in frame.columns:
            frame[column] = float("nan")  # optional figures: an older or hand-written file may lack them
    for column in ("model", "run"):
        if frame[column].isna().any():
            raise ZooError(f"{path}: column '{column}' is empty on line {int(frame[column].isna().idxmax()) + 2}; "
                           f"{REWRITE_HINT}")
    for column in ("seed", *SEED_RUN_COLUMNS[3:]):
        numbers = pd.to_numeric(frame[column], errors="coerce")
        if column in REQUIRED_COLUMNS:  # seed, accuracy and roc_auc must be given in every row
            bad = numbers.isna() | ((numbers % 1 != 0) if column == "seed" else False)
        else:  # the others may be blank (not measured), but not text
            bad = numbers.isna() & frame[column].notna()
        if bad.any():
            row = int(bad.idxmax())
            raise ZooError(f"{path}: column '{column}' must hold {'whole ' if column == 'seed' else ''}numbers, "
                           f"line {row + 2} has {frame.loc[row, column]!r}; {REWRITE_HINT}")
        frame[column] = numbers
    frame["seed"] = frame["seed"].astype(int)
    frame["model"], frame["run"] = frame["model"].astype(str), frame["run"].astype(str)
    duplicated = frame[frame.duplicated(KEY, keep=False)]
    if len(duplicated):
        first = duplicated.iloc[0]
        raise ZooError(f"{path}: model '{first['model']}' seed {first['seed']} is recorded {len(duplicated)} times; "
                       f"{REWRITE_HINT}")
    return frame[list(SEED_RUN_COLUMNS)].sort_values(KEY).reset_index(drop=True)


def write_seed_runs(zoo: str | os.PathLike | None, frame: pd.DataFrame) -> Path:
    """Merge `frame`'s rows into the results file and write it atomically; returns its path.

    A (model, seed) already recorded is replaced, so collecting again updates rather than duplicates,
    and rows of other models or seeds are kept (their runs need not be around any more).
    """
    path = seed_runs_path(zoo)
    new = frame.reindex(columns=list(SEED_RUN_COLUMNS))
    if new.duplicated(KEY).any():
        raise ValueError(f"rows to record repeat a (model, seed): {new[new.duplicated(KEY)][KEY].to_dict('records')}")
    old = read_seed_runs(zoo)  # a malformed file raises here rather than being silently overwritten
    if old is not None:
        kept = old.merge(new[KEY], on=KEY, how="left", indicator=True)["_merge"] == "left_only"
        new = pd.concat([old[kept.to_numpy()], new], ignore_index=True)
    new = new.sort_values(KEY).reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")  # same folder: os.replace stays atomic
    try:
        new.to_csv(partial, index=False, float_format="%.9g")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def seed_row(entry: ZooEntry, model: str | None = None) -> dict:
    """The results-file row of one evaluated entry; `model` is the shipped entry it replicates (default: itself)."""
    test = entry.test_metrics
    if not test:
        raise ZooError(f"{entry.path}: not evaluated on the test split yet "
                       f"(run `python -m training.evaluate {entry.name} --zoo {entry.path.parent}`)")
    train = entry.card.train
    unseen = entry.test_unseen_metrics or {}
    wall = train.wall_seconds
    return {
        "model": model or entry.name,
        "seed": int(train.seed or 0),  # training.train's default seed when an old card does not say
        "run": entry.name,
        "accuracy": float(test["accuracy"]),
        "roc_auc": float(test["roc_auc"]),
        "unseen_accuracy": unseen.get("accuracy"),
        "epochs_run": train.epochs_run,
        "best_epoch": train.best_epoch,
        "train_minutes": round(wall / 60, 2) if wall is not None else None,
        "n": test.get("n"),
    }


def seed_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model: seeds, mean, sample standard deviation (ddof=1; NaN with one seed), min and max of accuracy and ROC-AUC."""
    # The sample sd, not the population one: three seeds are a sample of the seeds one could have drawn.
    grouped = frame.groupby("model", sort=True)
    summary = pd.DataFrame({"seeds": grouped["seed"].nunique()})
    for metric in ("accuracy", "roc_auc"):
        summary[f"{metric}_mean"] = grouped[metric].mean()
        summary[f"{metric}_sd"] = grouped[metric].std(ddof=1)
        summary[f"{metric}_min"] = grouped[metric].min()
        summary[f"{metric}_max"] = grouped[metric].max()
    return summary.reset_index()


def describe_spread(row: pd.Series) -> str:
    """One row of seed_summary in words, shared by the CLI and the studies page.

    "97.04% ± 0.10 points test accuracy (sample sd; 96.93% to 97.12%), ROC-AUC 0.9960 ± 0.0005",
    or, with one seed, "95.00% test accuracy, ROC-AUC 0.9900 (one seed: no spread yet)".
    """
    if int(row["seeds"]) < 2 or pd.isna(row["accuracy_sd"]):
        return f"{row['accuracy_mean']:.2%} test accuracy, ROC-AUC {row['roc_auc_mean']:.4f} (one seed: no spread yet)"
    return (f"{row['accuracy_mean']:.2%} ± {row['accuracy_sd'] * 100:.2f} points test accuracy (sample sd; "
            f"{row['accuracy_min']:.2%} to {row['accuracy_max']:.2%}), ROC-AUC {row['roc_auc_mean']:.4f} "
            f"± {row['roc_auc_sd']:.4f}")
