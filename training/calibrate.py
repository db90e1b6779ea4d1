"""Fit the abstain band and the novelty cut-off of zoo entries (training does this for new entries).

    python -m training.calibrate NAME [NAME ...] | all [--data PATH] [--zoo DIR]
                                 [--target-precision 0.99] [--quantile 0.99] [--train-sample 10000]

--data is CIFAKE or the labelled folder the entries were trained on. For each entry, on the same
train/validation split its training used (the card's seed and validation fraction, or the folder's
split rebuilt from the card), each image scored as the judge scores it (a crop model by its grid of
crops and their mean logit):
- the uncertain band around the card's threshold (model_zoo.decision.fit_band): validation
  verdicts REAL and FAKE each right at least --target-precision of the time, UNCERTAIN between;
- the novelty score (model_zoo.novelty): class means and covariance of the model's penultimate
  features on --train-sample training images, cut-off at the --quantile of validation scores.
The band and cut-off go into the card (decision.uncertain_band, novelty), the statistics into
novelty.npz. Also reported, never used for fitting: the band on the stored test predictions,
and the share of test images, of downscaled test images and of pure noise flagged as novel.
"""

from __future__ import annotations

import argparse
import sys

from model_zoo import read_entry
from model_zoo.decision import BAND_TARGET_PRECISION
from model_zoo.novelty import (
    CUTOFF_QUANTILE,
    TRAIN_SAMPLE,
)
from training.lib.abstention import calibrate_entry
from training.lib.cli import at_least, exit_on_user_error, read_named_entries
from training.lib.image_folders import NOVELTY_SAMPLE, load_labelled_data


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.5 < value < 1:
        raise argparse.ArgumentTypeError("must be between 0.5 and 1 (e.g. 0.99)")
    return value



@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", metavar="NAME", help="zoo entries, or 'all'")
    parser.add_argument("--data", help="CIFAKE, or the labelled folder or zip the entries were trained on "
                                       "(default: $CIFAKE_PATH)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--target-precision", type=_fraction, default=BAND_TARGET_PRECISION,
                        help="how often a REAL or FAKE verdict must be right on validation (default %(default)s)")
    parser.add_argument("--quantile", type=_fraction, default=CUTOFF_QUANTILE,
                        help="validation quantile of the novelty cut-off (default %(default)s)")
    parser.add_argument("--train-sample", type=at_least(2),
                        help=f"training images the feature statistics are fitted on (default {TRAIN_SAMPLE}; "
                             f"{NOVELTY_SAMPLE} for a folder of your own images, decoded again as training does)")
    args = parser.parse_args(argv)
    entries = read_named_entries(args.names, args.zoo)  # fail fast before decoding the dataset
    # CIFAKE, or the labelled folder the entries were trained on: its split rebuilt from the card (as training.evaluate).
    dataset = load_labelled_data(args.data, split=entries[0].card.train.split)
    for entry in entries:
        calibrate_entry(read_entry(entry.name, args.zoo), dataset, args.zoo, train_sample=args.train_sample,
                        target=args.target_precision, quantile=args.quantile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

