"""Decode + cache time for a CIFAKE-sized dataset, and training throughput per architecture.

    python -m bench.data_and_training [--archs cnn_maxpool cnn_avgpool cnn_strided] [--steps 40]

Figures on generated data of CIFAKE's size; speed does not depend on what the images show.
"""

from __future__ import annotations

import argparse
import shutil
import time

import numpy as np

from bench.common import BENCH_DIR, cifake_sized_zip

CUSTOM = ["cnn_maxpool", "cnn_avgpool", "cnn_strided"]
TRAIN_IMAGES = 90_000  # CIFAKE train minus the 10% validation split


def bench_decode() -> object:
    from training.lib.data import load_cifake

    source = cifake_sized_zip()
    cache = BENCH_DIR / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    start = time.perf_counter()
    load_cifake(source, cache_dir=cache, progress=lambda m: None)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    dataset = load_cifake(source, cache_dir=cache, progress=lambda m: None)
    warm = time.perf_counter() - start
    n = len(dataset.train) + len(dataset.test)
    print(f"decode {n:,} JPEGs + write cache (cold): {cold:6.1f} s  ({n / cold:,.0f} images/s)")
    print(f"load from cache (warm):                  {warm:6.1f} s")
    return dataset


def bench_training(dataset, archs: list[str], steps: int, batch_size: int) -> None:
    import keras
    import tensorflow as tf

    from training.lib.architectures import get_architecture
    from training.lib.training_run import TrainConfig, _pipeline

    print(f"\ntraining throughput (batch {batch_size}, augment flip, {steps} steps after warm-up):")
    print(f"{'architecture':16} {'params':>10} {'images/s':>10} {'epoch (90k)':>12}")
    for name in archs:
        arch = get_architecture(name)
        card = {"input_shape": list(arch.input_shape), "preprocessing": arch.preprocessing}
        n = batch_size * (steps + 5)
        images = np.asarray(dataset.train.images[:n])  # uint8: the pipeline gathers and converts batches
        labels = tf.constant(dataset.train.labels[:n].astype(np.float32))
        warm_up, timed = np.arange(5 * batch_size), np.arange(5 * batch_size, n)
        model = arch.build(weights=None)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
        config = TrainConfig(arch=name, batch_size=batch_size, weights=None)
        model.fit(_pipeline(images, labels, warm_up, config, card, True), verbose=0, shuffle=False)
        data = _pipeline(images, labels, timed, config, card, True)
        start = time.perf_counter()
        model.fit(data, verbose=0, shuffle=False)
        rate = steps * batch_size / (time.perf_counter() - start)
        print(f"{name:16} {model.count_params():>10,} {rate:>10,.0f} {TRAIN_IMAGES / rate:>10,.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.data_and_training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", nargs="+", default=CUSTOM)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    dataset = bench_decode()
    np.random.seed(0)
    bench_training(dataset, args.archs, args.steps, args.batch_size)


if __name__ == "__main__":
    main()
