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
import sys

from model_zoo import ZooError, read_entry
from training.lib.cli import exit_on_user_error
from training.lib.seed_study import SEED_RUNS_DIR, record, runs_dir, train_missing_seeds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.seed_variance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL", help="the shipped, evaluated zoo entry whose recipe is repeated")
    parser.add_argument("--runs", help=f"folder of the other seeds' runs (default: <zoo>/{SEED_RUNS_DIR})")
    parser.add_argument("--zoo", help="zoo folder holding MODEL and seed_runs.csv "
                        "(default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
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

