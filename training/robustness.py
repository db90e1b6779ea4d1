"""How well do zoo models survive the damage images pick up in the wild?

    python -m training.robustness NAME [NAME ...] | all [--data PATH] [--zoo DIR] [--sample N]

--data is CIFAKE or the labelled folder the models were trained on (its test split rebuilt from the
card, as training.evaluate does); a model is never measured on data it was not trained on (named: an
error; with 'all', the entries trained on other data are left out). Evaluates each model on the test
split after every corruption below and writes `<zoo>/<name>/robustness.csv` (columns corruption, level,
accuracy, roc_auc, test_set) atomically:
    none        level 0: the clean test set, the baseline
    jpeg        re-compression at quality 95, 75, 50, 40, 30
    blur        Gaussian blur, sigma 0.5, 1, 2 pixels
    downscale   shrink by 0.75 / 0.5 and enlarge back (detail lost to resampling)
    noise       additive Gaussian noise, sigma 2, 5, 10 on the 0-255 scale (fixed seed)
Corruptions act on the uint8 images, a folder's at their own resolution (downscale is relative to
each image's size); the card's preprocessing follows, as at serving time (a crop model: its grid of
crops, mean logit), and accuracy is at the card's decision threshold (model_zoo.decision), as in
metrics.test. A folder is measured on a stratified sample of 1,000 test images unless --sample says
otherwise, read a few images at a time.
"""

from __future__ import annotations

import argparse
import sys

from training.lib.cli import at_least, exit_on_user_error, load_study_data
from training.lib.data import stderr_progress
from training.lib.image_folders import FolderDataset
from training.lib.robustness_study import FOLDER_SAMPLE, evaluate_robustness, format_table


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.robustness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", metavar="NAME", help="zoo entries, or 'all' for every usable entry")
    parser.add_argument("--data", help="CIFAKE zip or folder, or the labelled folder or zip the models were trained on "
                                       "(its test split, rebuilt from the card; default: $CIFAKE_PATH)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise corruption (and of --sample)")
    parser.add_argument("--sample", type=at_least(2),
                        help="a stratified sample of this many test images (for slow models; the card's robustness.n "
                             f"records it); default: all of CIFAKE's 20,000, at most {FOLDER_SAMPLE:,} of a folder's")
    args = parser.parse_args(argv)
    # CIFAKE, or the labelled folder the models were trained on (its split rebuilt from the card); a named model
    # trained on other data is an error, 'all' leaves such entries out (their figures here would say nothing).
    dataset, models = load_study_data(args.names, args.data, args.zoo)
    sample = args.sample or (FOLDER_SAMPLE if isinstance(dataset, FolderDataset) else None)
    for name, loaded in models.items():
        table = evaluate_robustness(name, dataset, args.zoo, args.seed, progress=stderr_progress, model=loaded.model,
                                    sample=sample)
        print(format_table(name, table), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

