"""The same recipe under other seeds, and its spread: the library behind `python -m training.seed_variance`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from model_zoo import ZooEntry, ZooError, list_entries, zoo_dir
from model_zoo.card import Card
from model_zoo.roles import STUDY
from model_zoo.seed_runs import describe_spread, seed_row, seed_summary, write_seed_runs

SEED_RUNS_DIR = ".seed_runs"  # hidden: list_entries skips it, so the extra runs never show up as zoo models


Report = Callable[[str], None]


def runs_dir(zoo: str | os.PathLike | None, runs: str | os.PathLike | None) -> Path:
    return Path(runs) if runs is not None else zoo_dir(zoo) / SEED_RUNS_DIR


def run_name(model: str, seed: int) -> str:
    return f"{model}-seed{seed}"


def recipe(card: Card) -> dict[str, object]:
    """The card's training recipe, seed excluded, as {"train.epochs": 12, ...} (training.train.TrainConfig.recipe)."""
    from training.lib.training_run import TrainConfig

    return TrainConfig.from_card(card).recipe()


def recipe_differences(model: ZooEntry, run: ZooEntry) -> list[str]:
    """What `run`'s recipe does differently from `model`'s, e.g. ["train.augmentation: flip, not flip_shift"]."""
    ours, theirs = recipe(model.card), recipe(run.card)
    return [f"{key}: {theirs[key]!r}, not {ours[key]!r}" for key in ours if theirs[key] != ours[key]]


def _seed(entry: ZooEntry) -> int:
    return int(entry.card.train.seed or 0)


def seed_runs(model: ZooEntry, runs: Path, report: Report = print) -> list[ZooEntry]:
    """The evaluated runs in `runs` that replicate `model` with another seed, by seed.

    Runs of other architectures are left alone (a runs folder may serve several models); a run
    of the same architecture with another recipe, or a second run of a seed already counted, is
    refused with ZooError, since averaging it in would mix recipes or count one seed twice.
    Runs not yet evaluated are reported and skipped.
    """
    entries, problems = list_entries(runs)
    for problem in problems:
        report(f"warning: skipping run '{problem.name}': {problem.message}")
    by_seed: dict[int, ZooEntry] = {_seed(model): model}
    for entry in entries:
        if entry.path.resolve() == model.path.resolve():  # --runs pointed at the zoo itself
            continue
        if entry.card.architecture != model.card.architecture:
            continue
        differences = recipe_differences(model, entry)
        if differences:
            raise ZooError(f"{entry.path}: not {model.name}'s recipe with another seed ({'; '.join(differences)}); "
                           f"move it out of {runs} or retrain it with {model.name}'s settings")
        if not entry.test_metrics:
            report(f"skipping run '{entry.name}': not evaluated yet "
                   f"(python -m training.evaluate {entry.name} --zoo {runs})")
            continue
        seed = _seed(entry)
        if seed in by_seed:
            raise ZooError(f"{entry.path}: seed {seed} is already counted by '{by_seed[seed].name}' "
                           f"({by_seed[seed].path}); keep one run per seed")
        by_seed[seed] = entry
    return [by_seed[seed] for seed in sorted(by_seed) if by_seed[seed] is not model]


def train_config(model: ZooEntry, seed: int, name: str, max_minutes: float | None = None):  # -> training.train.TrainConfig
    """A TrainConfig that repeats `model`'s recipe with another seed, as a study run (model_zoo.roles)."""
    from training.lib.training_run import TrainConfig

    return TrainConfig.from_card(model.card, name=name, seed=seed, max_minutes=max_minutes, role=STUDY)


def train_missing_seeds(model: ZooEntry, seeds: Iterable[int], runs: Path, data: str | None,
                        max_minutes: float | None = None, report: Report = print) -> list[str]:
    """Train and evaluate, into `runs`, each seed that has no evaluated run yet; returns the runs trained.

    The dataset is decoded only when some seed needs training. Training resumes from the
    checkpoints in <runs>/.runs/ when an earlier call was interrupted.
    """
    done = {_seed(model)} | {_seed(entry) for entry in seed_runs(model, runs, report)}
    todo = [seed for seed in dict.fromkeys(seeds) if seed not in done]
    for seed in dict.fromkeys(seeds):
        if seed in done:
            report(f"seed {seed}: already trained and evaluated, skipped")
    if not todo:
        return []
    from training.lib import evaluation_run as evaluating
    from training.lib import training_run as training
    from training.lib.data import load_cifake

    dataset = load_cifake(data)
    report(dataset.summary())
    trained = []
    for number, seed in enumerate(todo, start=1):
        name = run_name(model.name, seed)
        if (runs / name).is_dir():  # published by an earlier call that stopped before evaluating: don't train on
            report(f"[{number}/{len(todo)}] seed {seed}: '{name}' is already trained")
        else:
            report(f"[{number}/{len(todo)}] seed {seed}: training '{name}' into {runs} with {model.name}'s recipe")
            training.train(train_config(model, seed, name, max_minutes), dataset, runs)
        report(f"[{number}/{len(todo)}] seed {seed}: evaluating '{name}' on the test split")
        evaluating.evaluate(name, dataset, runs)
        trained.append(name)
    return trained


def collect(model: ZooEntry, runs: Path, report: Report = print) -> pd.DataFrame:
    """One results row per seed: `model` itself, then its runs."""
    return pd.DataFrame([seed_row(entry, model.name) for entry in [model, *seed_runs(model, runs, report)]])


def summary_line(summary: pd.Series) -> str:
    """"cnn_maxpool over 3 seeds: 97.04% ± 0.10 points test accuracy (sample sd; ...), ROC-AUC ..."."""
    return f"{summary['model']} over {summary['seeds']} seed(s): {describe_spread(summary)}"


def record(model: ZooEntry, runs: Path, zoo: str | os.PathLike | None, report: Report = print) -> pd.DataFrame:
    """Collect the runs, merge them into <zoo>/seed_runs.csv, print the table and the mean +- sd; returns the rows."""
    rows = collect(model, runs, report)
    path = write_seed_runs(zoo, rows)
    report(rows.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    report(summary_line(seed_summary(rows).iloc[0]))
    report(f"wrote {path}")
    return rows

