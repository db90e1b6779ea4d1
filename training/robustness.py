"""How well do zoo models survive the damage images pick up in the wild?

    python -m training.robustness NAME [NAME ...] | all [--data PATH] [--zoo DIR]

Evaluates each model on the test split after every corruption below and writes
`<zoo>/<name>/robustness.csv` (columns corruption, level, accuracy, roc_auc) atomically:
    none        level 0: the clean test set, the baseline
    jpeg        re-compression at quality 95, 75, 50, 40, 30
    blur        Gaussian blur, sigma 0.5, 1, 2 pixels
    downscale   shrink by 0.75 / 0.5 and enlarge back (detail lost to resampling)
    noise       additive Gaussian noise, sigma 2, 5, 10 on the 0-255 scale (fixed seed)
Corruptions act on the uint8 images; the card's preprocessing follows, as at serving time,
and accuracy is at the card's decision threshold (model_zoo.decision), as in metrics.test.
"""

from __future__ import annotations

import argparse
import sys

from training.lib.cli import exit_on_user_error, load_named_models
from training.lib.data import load_cifake, stderr_progress
from training.lib.robustness_study import CORRUPTIONS, evaluate_robustness, format_table


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.robustness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", metavar="NAME", help="zoo entries, or 'all' for every usable entry")
    parser.add_argument("--data", help="CIFAKE zip or folder (default: $CIFAKE_PATH)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise corruption (and of --sample)")
    parser.add_argument("--sample", type=int,
                        help="a stratified sample of this many test images instead of all 20,000 (for slow models; "
                             "the card's robustness.n records it)")
    args = parser.parse_args(argv)
    models = load_named_models(args.names, args.zoo)
    dataset = load_cifake(args.data)
    for name, loaded in models.items():
        n = min(args.sample, len(dataset.test)) if args.sample else len(dataset.test)
        print(f"{name}: evaluating {len(CORRUPTIONS)} conditions on {n:,} test images", file=sys.stderr)
        table = evaluate_robustness(name, dataset, args.zoo, args.seed, progress=stderr_progress, model=loaded.model,
                                    sample=args.sample)
        print(format_table(name, table), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

