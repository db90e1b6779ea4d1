"""Time to compute one entry's features and 2-D map of the test set, and the two map methods compared.

    CIFAKE_PATH=... .venv/bin/python -m bench.feature_map [NAME ...] [--compare] [--zoo DIR] [--seed 0]

For each NAME (default cnn_maxpool and lite0_finetune): seconds for the penultimate features of every test image
(training/lib/feature_map.py, as `python -m training.error_map` computes them) and for the default 2-D map, and
the map's neighbourhood preservation (kNN recall at k=10 and trustworthiness, on a seeded sample of 2,000 images).
--sample N maps a seeded sample of N test images instead of all (the features column stays the whole set's).
Target: features + map <= 180 s for a from-scratch CNN on this CPU. With --compare, every method of
training.lib.feature_map.METHODS is run on the same features and measured the same way (what chose DEFAULT_METHOD).
Nothing is written into the zoo.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import model_zoo  # noqa: F401  (quiets TensorFlow's start-up log)
from model_zoo import load_model, read_entry
from training.lib.feature_map import (
    DEFAULT_METHOD,
    METHODS,
    Features,
    neighbourhood_preservation,
    reduce_to_2d,
    split_features,
)
from training.lib.image_folders import load_labelled_data
from training.lib.study_images import judged_images

TARGET_SECONDS = 180.0


def measure(features, method: str, seed: int) -> tuple[float, dict]:
    start = time.perf_counter()
    coords = reduce_to_2d(features, method, seed)
    seconds = time.perf_counter() - start
    return seconds, neighbourhood_preservation(features, coords, seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.feature_map", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=["cnn_maxpool", "lite0_finetune"])
    parser.add_argument("--compare", action="store_true", help="run every map method on the same features")
    parser.add_argument("--zoo")
    parser.add_argument("--data", help="default $CIFAKE_PATH")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, help="map a seeded sample of this many test images (default: all)")
    args = parser.parse_args()
    dataset = load_labelled_data(args.data, progress=lambda _: None)
    print("| model | images | features s | method | map s | total s | kNN recall@10 | trustworthiness@10 |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.names:
        entry = read_entry(name, args.zoo)
        model = load_model(entry)
        split = judged_images(dataset.test, entry.card)
        features = split_features(model, entry.card, split.images)
        if args.sample and args.sample < len(split):
            chosen = np.sort(np.random.default_rng(args.seed).choice(len(split), args.sample, replace=False))
            split = split.subset(chosen)
            features = Features(features.prob_fake[chosen], features.features[chosen], features.seconds)
        for method in METHODS if args.compare else (DEFAULT_METHOD,):
            try:
                seconds, kept = measure(features.features, method, args.seed)
            except ValueError as exc:
                print(f"| {name} | {len(split):,} | {features.seconds:.1f} | {method} | - | - | {exc} | |")
                continue
            total = features.seconds + seconds
            print(f"| {name} | {len(split):,} | {features.seconds:.1f} | {method} | {seconds:.1f} | {total:.1f}"
                  f"{' (over target)' if total > TARGET_SECONDS else ''} | {kept['knn_recall']:.3f} | "
                  f"{kept['trustworthiness']:.3f} |", flush=True)
    print(f"target: features + map <= {TARGET_SECONDS:.0f} s for a from-scratch CNN")


if __name__ == "__main__":
    main()
