"""Are the heatmaps faithful to the models? Measure every explanation method, and where the models look.

    python -m training.faithfulness NAME [NAME ...]|all [--data PATH] [--zoo DIR] [--per-class 50] [--seed 0]

--data is CIFAKE or the labelled folder (or zip) the models were trained on, its test split rebuilt from the
card (as training.robustness and training.evaluate); a model is never measured on data it was not trained on
(named: a one-line error saying which --data to pass; with 'all', the entries trained on other data are left
out with a note). Each image is taken as the model sees it (training/lib/study_images.py): CIFAKE's 32x32
arrays; a folder's images decoded a few at a time, resized for a resize card, and for a crop card the crop of
the judge's grid nearest the image centre, one tile of the heatmap the dashboard stitches over the image, which
is what a crop model's explanations are made of (each crop scored and explained on its own).

For each model, on a fixed stratified sample of the test split (--per-class REAL and as many FAKE
images, drawn with --seed), each method of model_zoo.saliency explains the class the model predicts:
  * deletion / insertion: pixels are blurred away (or revealed on the blurred image) in order of
    saliency, tracking the calibrated probability of the predicted class (P(FAKE) for images called
    FAKE); the curves' areas are compared, image by image, with the same curves in random pixel order;
  * model randomisation (Adebayo et al. 2018): the maps of the first --sanity-images images of the
    sample are recomputed on the same architecture with re-initialised weights; a method whose maps
    keep a mean Spearman rank correlation >= 0.5 with the trained model's fails the sanity check.
See model_zoo/faithfulness_measures.py for the definitions. Results go into the entry as faithfulness.json,
with the methods ranked (methods that pass the sanity check first, then by AUC gained over random).
The same run writes class_heatmaps.npz: mean Grad-CAM maps over test images grouped by true class
and right/wrong verdict (training/lib/class_heatmaps.py), on the same view of the test images, grouped by the
judge's verdicts. Both files are published atomically; a folder model's also name its test set ("test_set").
"""

from __future__ import annotations

import argparse
import sys
import time

from model_zoo.faithfulness_measures import (
    STEPS,
)
from model_zoo.saliency import METHODS
from training.lib.class_heatmaps import PER_GROUP
from training.lib.cli import at_least, exit_on_user_error, load_study_data
from training.lib.data import stderr_progress
from training.lib.faithfulness_study import PER_CLASS, SANITY_IMAGES, evaluate_faithfulness, format_report
from training.lib.study_images import own_test_set


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.faithfulness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", metavar="NAME", help="zoo entries, or 'all' for every usable entry")
    parser.add_argument("--data", help="CIFAKE zip or folder, or the labelled folder or zip the models were trained on "
                                       "(its test split, rebuilt from the card; default: $CIFAKE_PATH)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--per-class", type=at_least(1), default=PER_CLASS,
                        help=f"test images per class in the sample (default {PER_CLASS})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample, random orders and re-initialisation")
    parser.add_argument("--steps", type=at_least(1), default=STEPS, help=f"curve steps (default {STEPS}: 10%% each)")
    parser.add_argument("--sanity-images", type=at_least(1), default=SANITY_IMAGES,
                        help=f"images of the sample in the randomisation check (default {SANITY_IMAGES})")
    parser.add_argument("--heatmap-per-group", type=at_least(1), default=PER_GROUP,
                        help=f"test images averaged per class-mean heatmap group (default {PER_GROUP})")
    args = parser.parse_args(argv)
    dataset, models = load_study_data(args.names, args.data, args.zoo)
    total = time.time()
    for name, loaded in models.items():
        own = own_test_set(loaded.card, dataset)
        where = f" of the {own['test_set']} test split ({own['view']})" if own else ""
        stderr_progress(f"{name}: explaining {2 * args.per_class} test images{where} with {len(METHODS)} methods")
        report, _ = evaluate_faithfulness(name, dataset, args.zoo, model=loaded.model, per_class=args.per_class,
                                          seed=args.seed, steps=args.steps, sanity_images=args.sanity_images,
                                          per_group=args.heatmap_per_group, progress=stderr_progress)
        print(format_report(name, report), flush=True)
        stderr_progress(f"{name}: done in {report['seconds']:.0f} s")
    stderr_progress(f"{len(models)} model(s) in {time.time() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

