"""Map each model's test set in 2-D and cluster its errors: the Errors page's map and clusters.

    python -m training.error_map NAME [NAME ...] | all [--data PATH] [--zoo DIR] [--method pca-tsne|umap] [--seed 0]
                                 [--features-cache DIR]

--data is CIFAKE or the labelled folder the models were trained on (its test split rebuilt from the card, as
training.robustness); a model is never mapped on data it was not trained on (named: an error; 'all': left out with
a note). 'all' is every detector and the consensus. For each model: its penultimate features (those its novelty
check reads) of every test image, as the judge scores it; a 2-D map of them (default pca-tsne, chosen by
neighbourhood preservation and time: docs/error_map.md); its errors (at its card's threshold, from its stored
test_predictions.csv) clustered by k-means with k chosen by silhouette; each cluster's prototypes explained with
Grad-CAM. A consensus uses its best member's map (the file says which). Written into the entry as map.npz,
atomically (model_zoo/zoo.py describes it). Needs `python -m training.evaluate` first.
"""

from __future__ import annotations

import argparse
import sys
import time

from model_zoo.roles import CONSENSUS, DETECTOR, role_of
from training.lib.cli import exit_on_user_error, load_study_data
from training.lib.data import stderr_progress
from training.lib.error_map_run import map_entries, with_consensus
from training.lib.feature_map import DEFAULT_METHOD, METHODS


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.error_map", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", metavar="NAME", help="zoo entries, or 'all' (the detectors and consensus)")
    parser.add_argument("--data", help="CIFAKE zip or folder, or the labelled folder or zip the models were trained on "
                                       "(default: $CIFAKE_PATH)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD, help=f"2-D method (default {DEFAULT_METHOD})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the map, the clusters and the measures")
    parser.add_argument("--features-cache", metavar="DIR",
                        help="keep each model's features here (.npz per model file and test split): a second run "
                             "with another --method or --seed skips the forward passes")
    args = parser.parse_args(argv)
    total = time.time()
    dataset, models = load_study_data(args.names, args.data, args.zoo,
                                      keep=lambda entry: role_of(entry.card) in (DETECTOR, CONSENSUS))
    if args.names == ["all"]:
        models = with_consensus(models, args.zoo)
    for summary in map_entries(models, dataset, args.zoo, args.method, args.seed, stderr_progress,
                               args.features_cache):
        print(f"{summary['name']}: map of {summary['source']}'s features (kNN recall@10 {summary['knn_recall']:.3f}, "
              f"trustworthiness {summary['trustworthiness']:.3f}; features {summary['feature_seconds']:.0f} s, map "
              f"{summary['map_seconds']:.0f} s); {summary['errors']:,} errors in {summary['clusters']} clusters; "
              f"{summary['bytes'] / 1024:.0f} KiB", flush=True)
    stderr_progress(f"{len(models)} model(s) in {time.time() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
