"""Evaluate zoo models on the full CIFAKE test split and store metrics + per-image predictions.

    python -m training.evaluate NAME [NAME ...]|all [--data PATH] [--zoo DIR]
    python -m training.evaluate NAME [NAME ...]|all --folder DIR [--set-name NAME] [--zoo DIR]

With --folder, the models are scored on your own labelled images instead: DIR/REAL/ and DIR/FAKE/,
any sizes and formats; unreadable files are named and skipped. The metrics are stored in each card
under "other_test_sets"/<DIR's name> (training/folder_eval.py) and shown beside CIFAKE's.

Besides the full test set (metrics.test) it reports the test images whose file
bytes occur nowhere in the training split (metrics.test_unseen): a copy of CIFAKE
can hold test images that are byte-identical to training images, and a model may
simply remember those. Duplicates are found by hashing the files, on whatever copy
of the data is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from model_zoo import (
    ZooEntry,
    binary_metrics,
    load_model,
    predict_prob_fake,
    read_entry,
    staged_entry,
    write_card,
    write_predictions,
)
from model_zoo.decision import expected_calibration_error, threshold
from training.cli import exit_on_user_error, read_named_entries
from training.data import Dataset, load_cifake
from training.folder_eval import evaluate_folder


def evaluate(name: str, dataset: Dataset, zoo: str | os.PathLike | None = None) -> ZooEntry:
    """Run `name` on every test image; write metrics.test and test_predictions.csv atomically."""
    entry = read_entry(name, zoo)
    model = load_model(entry)
    test = dataset.test
    start = time.time()
    prob_fake = predict_prob_fake(model, test.images, entry.card)
    seconds = time.time() - start
    decide_at = threshold(entry.card)
    metrics = binary_metrics(test.labels, prob_fake, decide_at)
    unseen = test.unseen_in(dataset.train)
    unseen_metrics = binary_metrics(test.labels[unseen], prob_fake[unseen], decide_at)
    card = dict(entry.card)
    card["metrics"] = {**card["metrics"], "test": metrics, "test_unseen": unseen_metrics}
    card["evaluation"] = {
        "dataset": str(dataset.source),
        "threshold": decide_at,
        "test_ece": round(expected_calibration_error(test.labels, prob_fake), 5),
        "test_in_train": int((~unseen).sum()),
        "seconds": round(seconds, 2),
        "images_per_second": round(len(test) / max(seconds, 1e-9), 1),
    }
    with staged_entry(name, zoo, from_existing=True) as folder:
        write_predictions(folder, test.paths, test.labels.astype(int), prob_fake)
        write_card(folder, card)
    print(f"{name}: test accuracy {metrics['accuracy']:.4f}, ROC-AUC {metrics['roc_auc']:.4f} "
          f"on {metrics['n']:,} images ({seconds:.1f} s); without the {metrics['n'] - unseen_metrics['n']:,} "
          f"test images that also occur in train: accuracy {unseen_metrics['accuracy']:.4f}, "
          f"ROC-AUC {unseen_metrics['roc_auc']:.4f} on {unseen_metrics['n']:,}", flush=True)
    return read_entry(name, zoo)


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", metavar="NAME", help="zoo entries to evaluate, or 'all'")
    parser.add_argument("--data", help="CIFAKE zip or folder (default: $CIFAKE_PATH)")
    parser.add_argument("--folder", help="instead of CIFAKE: a folder of your own images in REAL/ and FAKE/")
    parser.add_argument("--set-name", help="name of the --folder test set in the cards (default: the folder's name)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/)")
    args = parser.parse_args(argv)
    entries = read_named_entries(args.names, args.zoo)  # fail fast on a bad name before decoding data
    if args.folder:
        evaluate_folder(entries, args.folder, args.zoo, args.set_name, report=lambda line: print(line, flush=True))
        return 0
    dataset = load_cifake(args.data)
    for entry in entries:
        evaluate(entry.name, dataset, args.zoo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
