"""Steps per second of the training feed alone: the device feed against the host (numpy) feed, no model.

    python -m bench.device_feed [--images 20000] [--batch-size 256] [--augment flip_shift] [--steps 100]

The one number that says whether the feed or the chip sets a fine-tune's pace: if the feed makes batches
faster than the model consumes them, the chip is the limit. Both feeds make the same batches of CIFAKE-shaped
uint8 images (random pixels: speed does not depend on content) through the card's normalisation:
    host     backbone_fit.Batches: numpy gather, augment_numpy, normalize_for_card, float32 batch to the device
    device   training.lib.device_feed.DeviceBatches: the uint8 images on the device once, a batch made there
A batch counts when its values are on the device, ready for the model (the device feed is forced with
convert_to_numpy on the CPU, block_until_ready-style; on a GPU, torch.cuda.synchronize / the same call).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import bench.common  # noqa: F401  (quiet TensorFlow)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.device_feed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--augment", default="flip_shift")
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)

    import keras
    from keras import ops

    from training.lib.backbone_fit import Batches
    from training.lib.device_feed import DeviceBatches
    from training.lib.efficientnet_lite import PREPROCESSING

    card = {"input_shape": [32, 32, 3], "preprocessing": dict(PREPROCESSING)}
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 2, args.images)
    index = np.arange(args.images)
    print(f"Keras {keras.__version__} on {keras.backend.backend()}; {args.images:,} images, batch {args.batch_size}, "
          f"augment {args.augment}", flush=True)
    host = Batches(images, labels, index, args.batch_size, card, args.augment, shuffle=True)

    def host_step(i: int) -> None:
        x, y = host[i % len(host)]
        ops.convert_to_tensor(x), ops.convert_to_tensor(y)  # the copy to the device the model would need

    start = time.perf_counter()
    device = DeviceBatches(images, labels, index, args.batch_size, card, args.augment, shuffle=True)
    copy_s = time.perf_counter() - start

    def device_step(i: int) -> None:
        x, _ = device[i % len(device)]
        ops.convert_to_numpy(x[:1, :1, :1])  # wait for the batch to exist

    for name, step in (("host", host_step), ("device", device_step)):
        for i in range(3):  # warm-up
            step(i)
        start = time.perf_counter()
        for i in range(args.steps):
            step(i)
        seconds = time.perf_counter() - start
        print(f"{name:<7} {args.steps / seconds:8.1f} steps/s  ({1000 * seconds / args.steps:6.1f} ms a step, "
              f"{args.steps * args.batch_size / seconds:,.0f} images/s)", flush=True)
    print(f"device feed: one-off copy of the uint8 images to the device {copy_s:.2f} s; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)


if __name__ == "__main__":
    main()
