"""Streaming your own images: peak memory and throughput of training on a big folder of big images.

    python -m bench.own_images [--images 20000] [--size 512] [--steps 150] [--minutes 3] [--keep]

Writes a labelled folder of `--images` generated JPEGs of size x size (half REAL, half FAKE; in a temp dir,
reused when it is already there), opens it as training.train does (training.lib.image_folders: checksums, sizes
and a quick decode of every file, the seeded split), then trains cnn_maxpool on 64x64 crops streamed
from disk (the tf.data pipeline decodes on the fly; nothing is held in memory) for one epoch capped at
`--steps` batches of 64 or `--minutes`. Prints the peak RSS of the process (target <= 2.5 GB) and images/s.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from pathlib import Path

from bench.common import BENCH_DIR

TARGET_GB = 2.5
DISTINCT = 400  # distinct images encoded; the others are copies made unique by a trailing byte (cheap to write)


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux reports KiB


def make_folder(root: Path, images: int, size: int) -> Path:
    """`images` JPEGs in REAL/ and FAKE/ (made once). A JPEG decoder stops at the end-of-image marker, so the
    copies decode exactly like their original while their bytes (and checksums) all differ."""
    import io

    import numpy as np
    from PIL import Image

    from training.lib.synthetic import upsampling_trace_image

    if (root / "done").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    encoded = {0: [], 1: []}
    for i in range(min(DISTINCT, images)):
        buffer = io.BytesIO()
        Image.fromarray(upsampling_trace_image(rng, bool(i % 2), size)).save(buffer, format="JPEG", quality=90)
        encoded[i % 2].append(buffer.getvalue())
    for label, folder in ((0, root / "REAL"), (1, root / "FAKE")):
        folder.mkdir(parents=True)
        for i in range(images // 2):
            data = encoded[label][i % len(encoded[label])]
            (folder / f"{i:06d}.jpg").write_bytes(data + i.to_bytes(4, "big"))
    (root / "done").touch()
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.own_images", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=150, help="batches of 64 to train at most")
    parser.add_argument("--minutes", type=float, default=3.0, help="training time budget")
    parser.add_argument("--keep", action="store_true", help="keep the generated folder for the next run")
    args = parser.parse_args(argv)

    import keras

    from model_zoo.crops import crop_policy
    from training.lib.architectures import UNIT_RANGE, get_architecture
    from training.lib.image_folders import bind_card, load_image_folder, stream, train_validation_indices

    root = BENCH_DIR / f"own-images-{args.images}-{args.size}"
    start = time.time()
    make_folder(root, args.images, args.size)
    print(f"folder {root}: {args.images:,} JPEGs of {args.size}x{args.size} ({time.time() - start:.0f} s)", flush=True)
    start = time.time()
    dataset = load_image_folder(root, progress=lambda _: None)
    opened = time.time() - start
    print(f"opened in {opened:.1f} s ({args.images / opened:,.0f} files/s: checksum, size, quick decode); "
          f"peak RSS so far {_peak_rss_gb():.2f} GB", flush=True)
    from dataclasses import replace

    architecture = replace(get_architecture("cnn_maxpool"), input_shape=(64, 64, 3))
    card = {"input_shape": [64, 64, 3], "preprocessing": {**UNIT_RANGE, "input_policy": crop_policy(64)}}
    bind_card(dataset, card)
    train_index, _ = train_validation_indices(dataset)
    data = stream(dataset.train.subset(train_index), card, training=True, batch_size=64, augmentation="flip")
    model = architecture.build()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])

    class Budget(keras.callbacks.Callback):
        steps = 0

        def on_train_batch_end(self, batch, logs=None):
            Budget.steps += 1
            if time.time() - began > args.minutes * 60:
                self.model.stop_training = True

    began = time.time()
    model.fit(data.take(args.steps), epochs=1, verbose=2, callbacks=[Budget()])
    seconds = time.time() - began
    steps = Budget.steps
    images_per_second = steps * 64 / seconds
    peak = _peak_rss_gb()
    print(f"trained {steps} steps of 64 crops in {seconds:.0f} s: {images_per_second:,.0f} images/s "
          f"(read, decoded, cropped, trained); peak RSS {peak:.2f} GB (target <= {TARGET_GB} GB)", flush=True)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if peak <= TARGET_GB else 1


if __name__ == "__main__":
    raise SystemExit(main())
