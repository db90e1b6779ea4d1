"""Evaluate zoo models on the full CIFAKE test split and store metrics + per-image predictions.

    python -m training.evaluate NAME [NAME ...]|all [--data PATH] [--zoo DIR] [--validation-only]
    python -m training.evaluate NAME [NAME ...]|all --folder DIR [--set NAME] [--zoo DIR]

With --folder, the models are scored on your own labelled images instead: DIR/REAL/ and DIR/FAKE/,
any sizes and formats; unreadable files are named and skipped. The metrics (with the shares UNCERTAIN
and out of distribution, and the images' fingerprint) are stored in each card under
"other_test_sets"/<--set, else DIR's name>, replacing an earlier result of that name
(training/lib/folder_eval.py), and shown beside CIFAKE's and on the dashboard's Generalisation page.

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
import sys

from training.lib.cli import exit_on_user_error, read_named_entries
from training.lib.evaluation_run import evaluate, write_validation_predictions
from training.lib.folder_eval import evaluate_folder
from training.lib.image_folders import load_labelled_data


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
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--validation-only", action="store_true",
                        help="only (re)write validation_predictions.csv (for entries evaluated before it existed)")
    args = parser.parse_args(argv)
    entries = read_named_entries(args.names, args.zoo)  # fail fast on a bad name before decoding data
    if args.folder:
        evaluate_folder(entries, args.folder, args.zoo, args.set_name, report=lambda line: print(line, flush=True))
        return 0
    # CIFAKE, or the labelled folder a model was trained on: its split rebuilt from the card (train.split).
    dataset = load_labelled_data(args.data, split=entries[0].card.train.split)
    for entry in entries:  # one at a time: a model's memory is freed before the next loads
        if args.validation_only:
            write_validation_predictions(entry.name, dataset, args.zoo)
        else:
            evaluate(entry.name, dataset, args.zoo)
    return 0


if __name__ == "__main__":
    sys.exit(main())

