"""Evaluate zoo models on the full CIFAKE test split and store metrics + per-image predictions.

    python -m training.evaluate NAME [NAME ...]|all [--data PATH] [--zoo DIR] [--validation-only]
    python -m training.evaluate NAME [NAME ...]|all --folder DIR [--set NAME] [--zoo DIR]

With --folder, the models are scored on your own labelled images instead: DIR/REAL/ and DIR/FAKE/,
any sizes and formats; unreadable files are named and skipped. The metrics (with the shares UNCERTAIN
and out of distribution, and the images' fingerprint) are stored in each card under
"other_test_sets"/<--set, else DIR's name>, replacing an earlier result of that name
(training/folder_eval.py), and shown beside CIFAKE's and on the dashboard's Generalisation page.

Besides the full test set (metrics.test) it reports the test images whose file
bytes occur nowhere in the training split (metrics.test_unseen): a copy of CIFAKE
can hold test images that are byte-identical to training images, and a model may
simply remember those. Duplicates are found by hashing the files, on whatever copy
of the data is given.

It also stores the calibrated P(FAKE) of every validation image (validation_predictions.csv, the columns of
test_predictions.csv): the validation split the card's "train" block names (seed, validation_fraction), so
what is fitted on top of the models (the zoo's consensus, max-FPR thresholds) is fitted on validation only.
--validation-only (re)writes just those, for entries evaluated before they existed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from model_zoo import (
    ZooEntry,
    ZooError,
    binary_metrics,
    load_model,
    predict_prob_fake,
    read_entry,
    staged_entry,
    write_card,
    write_predictions,
)
from model_zoo.decision import expected_calibration_error, threshold
from model_zoo.zoo import VALIDATION_PREDICTIONS_FILE
from training.cli import exit_on_user_error, read_named_entries
from training.data import Dataset, Split
from training.folder_eval import evaluate_folder
from training.image_folders import bind_card, load_labelled_data, train_validation_indices


def validation_split(card: dict, dataset: Dataset) -> Split:
    """The validation images this card's model was trained without (its "train" block's seed and fraction), in
    index order; every entry trained with the same seed and fraction on the same data gets the same images."""
    trained = card.get("train", {})
    fraction, seed = float(trained.get("validation_fraction", 0.1)), int(trained.get("seed", 0))
    _, val_index = train_validation_indices(dataset, fraction, seed)
    expected = trained.get("n_validation")
    if expected is not None and expected != len(val_index):
        raise ZooError(f"{card.get('name')}: trained with {expected:,} validation images, but this data gives "
                       f"{len(val_index):,}; pass the dataset it was trained on (card train.dataset: "
                       f"{trained.get('dataset')})")
    return dataset.train.subset(np.sort(val_index))


def write_validation_predictions(name: str, dataset: Dataset, zoo: str | os.PathLike | None = None,
                                 model=None) -> ZooEntry:
    """(Re)compute `name`'s calibrated P(FAKE) on its validation split through the card's one preprocessing
    path (model_zoo.predict_prob_fake) and store validation_predictions.csv atomically."""
    entry = read_entry(name, zoo)
    model = load_model(entry) if model is None else model
    bind_card(dataset, entry.card)  # a folder's images decode as this model sees them
    validation = validation_split(entry.card, dataset)
    start = time.time()
    prob_fake = predict_prob_fake(model, validation.images, entry.card)
    seconds = time.time() - start
    accuracy = float(np.mean((prob_fake >= threshold(entry.card)) == validation.labels))
    recorded = (entry.card["metrics"].get("validation") or {}).get("accuracy")
    if recorded is not None and abs(recorded - accuracy) > 0.005:
        print(f"warning: {name}: validation accuracy here {accuracy:.4f} differs from the card's {recorded:.4f}; "
              "is this the data it was trained on?", file=sys.stderr, flush=True)
    with staged_entry(name, zoo, from_existing=True) as folder:
        write_predictions(folder, validation.paths, validation.labels.astype(int), prob_fake,
                          VALIDATION_PREDICTIONS_FILE)
    print(f"{name}: validation predictions for {len(validation):,} images (accuracy {accuracy:.4f} at the card's "
          f"threshold; {seconds:.1f} s, {len(validation) / max(seconds, 1e-9):,.0f} images/s)", flush=True)
    return read_entry(name, zoo)


def evaluate(name: str, dataset: Dataset, zoo: str | os.PathLike | None = None) -> ZooEntry:
    """Run `name` on every test image; write metrics.test and test_predictions.csv atomically, then the
    validation predictions (write_validation_predictions)."""
    entry = read_entry(name, zoo)
    model = load_model(entry)
    bind_card(dataset, entry.card)  # a folder's images decode as this model sees them
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
    return write_validation_predictions(name, dataset, zoo, model)


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", metavar="NAME", help="zoo entries to evaluate, or 'all'")
    parser.add_argument("--data", help="CIFAKE zip or folder, or the labelled folder or zip the models were trained on "
                                       "(its test split, rebuilt from the card; default: $CIFAKE_PATH)")
    parser.add_argument("--folder", help="instead of CIFAKE: a folder of your own images in REAL/ and FAKE/")
    parser.add_argument("--set", "--set-name", dest="set_name", metavar="NAME",
                        help="name of the --folder test set in the cards (default: the folder's name); "
                             "evaluating again under the same name replaces that result")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/)")
    parser.add_argument("--validation-only", action="store_true",
                        help="only (re)write validation_predictions.csv (for entries evaluated before it existed)")
    args = parser.parse_args(argv)
    entries = read_named_entries(args.names, args.zoo)  # fail fast on a bad name before decoding data
    if args.folder:
        evaluate_folder(entries, args.folder, args.zoo, args.set_name, report=lambda line: print(line, flush=True))
        return 0
    # CIFAKE, or the labelled folder a model was trained on: its split rebuilt from the card (train.split).
    dataset = load_labelled_data(args.data, split=(entries[0].card.get("train") or {}).get("split"))
    for entry in entries:  # one at a time: a model's memory is freed before the next loads
        if args.validation_only:
            write_validation_predictions(entry.name, dataset, args.zoo)
        else:
            evaluate(entry.name, dataset, args.zoo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
