"""EfficientNet-Lite0 on this CPU: feature extraction images/s, probe (head) training time, fine-tune s/epoch.

    python -m bench.backbone [--sizes 96 128] [--images 2048] [--steps 12]

Random 32x32 images (speed does not depend on what they show), pushed through the same code as
`training.train --arch efficientnet_lite0` (training.lib.backbone_fit). The per-epoch figures are
extrapolated to CIFAKE's 90,000 training images from the timed batches.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TRAIN_IMAGES = 90_000  # CIFAKE train minus the 10% validation split


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.backbone", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 128])
    parser.add_argument("--images", type=int, default=2048, help="images for the extraction timing")
    parser.add_argument("--steps", type=int, default=12, help="fine-tuning batches of 128 timed after a warm-up")
    args = parser.parse_args()

    import keras

    from training.lib import backbone_fit
    from training.lib.architectures import get_architecture

    arch = get_architecture("efficientnet_lite0")
    card = {"input_shape": list(arch.input_shape), "preprocessing": arch.preprocessing}
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 2, args.images)
    print(f"Keras on {keras.backend.backend()}; {args.images:,} images for extraction, {args.steps} batches of 128 "
          f"for fine-tuning")
    print(f"{'input':>6} {'extract images/s':>17} {'extract 100k':>13} {'probe: 12 epochs on 90k':>24} "
          f"{'fine-tune images/s':>19} {'fine-tune epoch':>16}")
    for size in args.sizes:
        model = arch.build(weights="imagenet", input_size=size)
        backbone_fit.extract_features(model, images[:256], card)  # warm-up: tracing
        start = time.perf_counter()
        features = backbone_fit.extract_features(model, images, card)
        extract = args.images / (time.perf_counter() - start)

        head = backbone_fit.head_model(model)
        head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        many = np.resize(features, (TRAIN_IMAGES, features.shape[1]))
        y = np.resize(labels, TRAIN_IMAGES).astype(np.float32)
        head.fit(many[:1024], y[:1024], batch_size=128, epochs=1, verbose=0)
        start = time.perf_counter()
        head.fit(many, y, batch_size=128, epochs=12, verbose=0)
        probe = time.perf_counter() - start

        model.compile(optimizer=keras.optimizers.Adam(3e-4), loss="binary_crossentropy")
        batches = backbone_fit.Batches(images, labels, np.arange(128 * (args.steps + 2)), 128, card, "flip_shift",
                                       shuffle=True)
        x0, y0 = batches[0]
        model.train_on_batch(x0, y0)  # warm-up: tracing
        model.train_on_batch(*batches[1])
        start = time.perf_counter()
        for i in range(2, args.steps + 2):
            model.train_on_batch(*batches[i])
        tune = args.steps * 128 / (time.perf_counter() - start)
        print(f"{size:>4}px {extract:>17,.0f} {100_000 / extract / 60:>11.1f} min {probe:>22.1f} s "
              f"{tune:>19,.0f} {TRAIN_IMAGES / tune / 60:>12.1f} min")


if __name__ == "__main__":
    main()
