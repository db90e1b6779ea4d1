"""Batch inference throughput per architecture on CPU, the way evaluation runs it.

    python -m bench.inference [--archs ...] [--images 20000]

Models are built with random weights: speed does not depend on what they learned.
Also times save + load of each model (safe_mode) and its file size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import bench.common  # noqa: F401  (quiet TensorFlow)

CUSTOM = ["cnn_maxpool", "cnn_avgpool", "cnn_strided"]


def main() -> None:
    import keras

    from model_zoo import predict_prob_fake
    from training.architectures import get_architecture

    parser = argparse.ArgumentParser(prog="python -m bench.inference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", nargs="+", default=CUSTOM)
    parser.add_argument("--images", type=int, default=20_000)
    args = parser.parse_args()
    images = np.random.default_rng(0).integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
    print(f"{'architecture':16} {'images/s':>10} {'20k test set':>13} {'load':>8} {'size':>9}")
    for name in args.archs:
        arch = get_architecture(name)
        card = {"input_shape": list(arch.input_shape), "preprocessing": arch.preprocessing}
        model = arch.build(weights=None)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            model.save(path)
            start = time.perf_counter()
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
            load = time.perf_counter() - start
            size = path.stat().st_size
        predict_prob_fake(model, images[:1024], card)  # warm-up: graph tracing
        start = time.perf_counter()
        predict_prob_fake(model, images, card)
        rate = len(images) / (time.perf_counter() - start)
        print(f"{name:16} {rate:>10,.0f} {20_000 / rate:>11.1f} s {load:>6.2f} s {size / 1e6:>7.2f} MB")


if __name__ == "__main__":
    main()
