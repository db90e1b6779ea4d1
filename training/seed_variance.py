"""Seed variance: the same recipe trained with other seeds, recorded in <zoo>/seed_runs.csv.

    python -m training.seed_variance MODEL [--runs DIR] [--zoo DIR]
    python -m training.seed_variance MODEL --seeds 1 2 --data PATH [--max-minutes M] [--runs DIR] [--zoo DIR]

MODEL is a shipped, evaluated zoo entry (e.g. cnn_maxpool). The runs folder (default
<zoo>/.seed_runs, which the zoo's listing ignores) holds the other seeds' runs as zoo
entries. Every evaluated run there of MODEL's architecture is collected, together with
MODEL itself (its seed is read from its card); a run whose recipe differs from MODEL's in
anything but the seed is refused, naming what differs. The figures of each (model, seed)
go into <zoo>/seed_runs.csv, which the docs (docs/zoo.md) and the dashboard's studies page read; the
table and the mean +- standard deviation are printed.

With --seeds, the seeds that have no evaluated run yet are first trained with MODEL's
recipe (architecture, epochs, batch size, learning rate, augmentation, validation
fraction, precision, weights) as runs named MODEL-seedS, then evaluated on CIFAKE's test
split. An interrupted training resumes from its last finished epoch on the next call.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from model_zoo import ZooEntry, ZooError, list_entries, read_entry, zoo_dir
from model_zoo.roles import STUDY
from model_zoo.seed_runs import describe_spread, seed_row, seed_summary, write_seed_runs
from training.cli import exit_on_user_error

SEED_RUNS_DIR = ".seed_runs"  # hidden: list_entries skips it, so the extra runs never show up as zoo models
Report = Callable[[str], None]


def runs_dir(zoo: str | os.PathLike | None, runs: str | os.PathLike | None) -> Path:
    return Path(runs) if runs is not None else zoo_dir(zoo) / SEED_RUNS_DIR


def run_name(model: str, seed: int) -> str:
    return f"{model}-seed{seed}"


def recipe(card: dict) -> dict[str, object]:
    """The card's training recipe, seed excluded, as {"train.epochs": 12, ...} (training.train.TrainConfig.recipe)."""
    from training.train import TrainConfig

    return TrainConfig.from_card(card).recipe()


def recipe_differences(model: ZooEntry, run: ZooEntry) -> list[str]:
    """What `run`'s recipe does differently from `model`'s, e.g. ["train.augmentation: flip, not flip_shift"]."""
    ours, theirs = recipe(model.card), recipe(run.card)
    return [f"{key}: {theirs[key]!r}, not {ours[key]!r}" for key in ours if theirs[key] != ours[key]]


def _seed(entry: ZooEntry) -> int:
    return int(entry.card.get("train", {}).get("seed", 0))


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
        if entry.card.get("architecture") != model.card.get("architecture"):
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
    from training.train import TrainConfig

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
    from training import evaluate as evaluating
    from training import train as training
    from training.data import load_cifake

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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.seed_variance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL", help="the shipped, evaluated zoo entry whose recipe is repeated")
    parser.add_argument("--runs", help=f"folder of the other seeds' runs (default: <zoo>/{SEED_RUNS_DIR})")
    parser.add_argument("--zoo", help="zoo folder holding MODEL and seed_runs.csv (default: $MODEL_ZOO_DIR, else model_zoo/)")
    parser.add_argument("--seeds", type=int, nargs="+", metavar="S", help="train and evaluate these seeds first, "
                        "where the runs folder has no evaluated run of them")
    parser.add_argument("--data", help="CIFAKE zip or folder, for --seeds (default: $CIFAKE_PATH)")
    parser.add_argument("--max-minutes", type=float, help="time budget of each training run (as training.train's)")
    return parser.parse_args(argv)


@exit_on_user_error(resumable=True)
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    model = read_entry(args.model, args.zoo)
    if not model.test_metrics:
        raise ZooError(f"{model.path}: not evaluated yet (python -m training.evaluate {model.name})")
    runs = runs_dir(args.zoo, args.runs)
    report = lambda line: print(line, flush=True)  # noqa: E731 - progress must show while training runs
    if args.seeds:
        train_missing_seeds(model, args.seeds, runs, args.data, args.max_minutes, report)
    record(model, runs, args.zoo, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
