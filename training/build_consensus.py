"""Build the zoo's consensus entry from the detectors' stored predictions (model_zoo.consensus).

    python -m training.build_consensus [--zoo DIR] [--name zoo_consensus] [--members A B ...]
                                       [--combiner mean|stacking] [--seed 0]

The members (default: every detector) need validation_predictions.csv (`python -m training.evaluate NAME
--validation-only` writes it for older entries) and test_predictions.csv. Everything is fitted on validation:
the combiner (the mean of the calibrated logits, or logistic stacking when its cross-validated validation
accuracy is clearly better), the temperature, threshold and uncertain band, and the disagreement cut-off.
The full-test metrics come from the stored test predictions; no model is loaded. With the dataset (--data,
else $CIFAKE_PATH) the card also gets the metrics on the test images unseen in train, as every evaluated entry.
"""

from __future__ import annotations

import argparse
import os
import sys

from model_zoo.consensus import COMBINERS, DEFAULT_NAME, write_consensus
from training.lib.cli import exit_on_user_error
from training.lib.data import load_cifake


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.build_consensus", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--name", default=DEFAULT_NAME, help="the consensus entry's name (default %(default)s)")
    parser.add_argument("--members", nargs="+", metavar="NAME", help="entries to combine (default: every detector)")
    parser.add_argument("--combiner", choices=COMBINERS, help="force a combiner (default: chosen on validation)")
    parser.add_argument("--seed", type=int, default=0, help="cross-validation folds' seed (default %(default)s)")
    parser.add_argument("--data", help="CIFAKE zip or folder, for the unseen-test metrics (default: $CIFAKE_PATH)")
    args = parser.parse_args(argv)
    in_train = None
    if args.data or os.environ.get("CIFAKE_PATH"):
        dataset = load_cifake(args.data)
        seen = ~dataset.test.unseen_in(dataset.train)
        in_train = [path for path, copied in zip(dataset.test.paths, seen, strict=True) if copied]
    entry = write_consensus(args.zoo, args.name, args.members, combiner=args.combiner, seed=args.seed,
                            test_in_train=in_train)
    card = entry.card
    block, test, val = card.consensus, card.split_metrics("test"), card.split_metrics("validation")
    choice = block.choice or {}
    scores = choice["scores"]
    print(f"{entry.name}: {block.combiner} of {', '.join(block.members)}\n"
          f"  validation (5-fold cross-validated): mean accuracy {scores['mean']['accuracy']:.4f} (log-loss "
          f"{scores['mean']['log_loss']:.4f}), stacking {scores['stacking']['accuracy']:.4f} (log-loss "
          f"{scores['stacking']['log_loss']:.4f}); {choice['why']}\n"
          f"  threshold {card.threshold:.3f}, temperature {card.temperature}, "
          f"uncertain band {list(card.uncertain_band)}, disagreement cut-off "
          f"{block.disagreement.cutoff:.3f} (test images above it: {block.disagreement.test_above:.2%})\n"
          f"  validation accuracy {val['accuracy']:.4f}; full test ({test['n']:,} images) accuracy "
          f"{test['accuracy']:.4f}, ROC-AUC {test['roc_auc']:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
