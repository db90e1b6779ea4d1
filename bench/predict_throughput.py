"""Batch scanning throughput of `training.predict`: decode + preprocess + inference + CSV rows, overlapped.

    python -m bench.predict_throughput [--small 10000] [--large 60] [--zoo DIR] [--batch-size 256]

Two folders of generated JPEGs, made once under $BENCH_DIR:
    32x32      CIFAKE-sized files                    target >= 2,000 images/s (fastest custom CNN)
    1-4 MP     photo-sized files (textured, q 90)     target >= 50 images/s (decode dominated)
Times the same pipeline the CLI runs, after one warm-up batch (graph tracing and
model loading are start-up costs, printed separately). Without --zoo the custom
CNNs are built with random weights: speed does not depend on what they learned.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import BENCH_DIR
from bench.random_zoo import random_weight_zoo

LARGE_SIZES = ((1200, 900), (1600, 1200), (2048, 1536), (2400, 1600))  # 1.1, 1.9, 3.1, 3.8 megapixels


def _folder_made_once(name: str, count: int, image: Callable[[np.random.Generator, int], np.ndarray], quality: int) -> Path:
    """BENCH_DIR/name holding `count` JPEGs drawn by `image(rng, i)`; written once, reused after."""
    from PIL import Image

    folder = BENCH_DIR / name
    if not (folder / ".complete").exists():
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(len(name))
        for i in range(count):
            Image.fromarray(image(rng, i)).save(folder / f"{i:06d}.jpg", quality=quality)
        (folder / ".complete").touch()
    return folder


def small_folder(count: int) -> Path:
    """`count` 32x32 synthetic JPEGs."""
    from training.lib.synthetic import synthetic_image

    return _folder_made_once(f"jpeg32-{count}", count, lambda rng, i: synthetic_image(rng, fake=i % 2 == 1), 95)


def large_folder(count: int) -> Path:
    """`count` 1-4 megapixel JPEGs with photo-like texture."""
    from PIL import Image

    from training.lib.synthetic import synthetic_image

    def photo(rng: np.random.Generator, i: int) -> np.ndarray:
        width, height = LARGE_SIZES[i % len(LARGE_SIZES)]
        base = Image.fromarray(synthetic_image(rng, fake=False, size=64)).resize((width, height), Image.BICUBIC)
        grain = rng.normal(0, 6, (height, width, 1)).astype(np.float32)  # sensor-like grain
        return np.clip(np.asarray(base, np.float32) + grain, 0, 255).astype(np.uint8)

    return _folder_made_once(f"jpeg-mp-{count}", count, photo, 90)


def time_scan(files: list[Path], model, batch_size: int, repeats: int) -> list[float]:
    """images/s of score_files + CSV writing over `files`, once per repeat."""
    from training.lib.folder_scan import RowWriter, score_files

    for _ in score_files(files[:batch_size], [model], batch_size):  # warm-up: tracing, thread pool, caches
        pass
    rates = []
    for _ in range(repeats):
        writer = RowWriter(io.StringIO(), "csv")
        start = time.perf_counter()
        for row in score_files(files, [model], batch_size):
            writer.write(row)
        rates.append(len(files) / (time.perf_counter() - start))
    return rates


def time_parts(files: list[Path], model, batch_size: int) -> tuple[float, float]:
    """Decode-only (with the metadata read, one thread) and inference-only images/s, to show where time goes."""
    from model_zoo import predict_prob_fake
    from model_zoo.judge import decode_images
    from model_zoo.preprocessing import decode_key

    start = time.perf_counter()
    batches = [decode_images(files[i : i + batch_size], [model]).inputs[decode_key(model.card)]
               for i in range(0, len(files), batch_size)]
    decode_rate = len(files) / (time.perf_counter() - start)
    start = time.perf_counter()
    for images in batches:
        predict_prob_fake(model.model, images, model.card)
    return decode_rate, len(files) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    from training.lib.folder_scan import collect_files, resolve_models

    parser = argparse.ArgumentParser(prog="python -m bench.predict_throughput", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000, help="number of 32x32 JPEGs")
    parser.add_argument("--large", type=int, default=60, help="number of 1-4 megapixel JPEGs")
    parser.add_argument("--zoo", help="a zoo to time (default: random-weight custom CNNs in a temp zoo)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    print(f"machine: {os.cpu_count()} CPU cores; folders under {BENCH_DIR}", flush=True)
    small, large = collect_files([small_folder(args.small)]), collect_files([large_folder(args.large)])
    megapixels = np.mean([int(w) * int(h) for w, h in (LARGE_SIZES[i % len(LARGE_SIZES)] for i in range(len(large)))]) / 1e6
    mean_kb = np.mean([p.stat().st_size for p in large]) / 1024
    with tempfile.TemporaryDirectory(prefix="bench-zoo-") as scratch:
        zoo = args.zoo or random_weight_zoo(root=Path(scratch) / "zoo")[0]
        start = time.perf_counter()
        models = resolve_models("all", zoo, warn=lambda m: print(f"warning: {m}"))
        print(f"loaded {len(models)} model(s) from {zoo} in {time.perf_counter() - start:.1f} s", flush=True)

    best_small = {}
    print(f"\n32x32 JPEGs: {len(small):,} files, batch {args.batch_size}")
    print(f"  {'model':14} {'scan images/s':>14} {'decode-only':>12} {'model-only':>11}")
    for model in models:
        rates = time_scan(small, model, args.batch_size, args.repeats)
        decode_rate, infer_rate = time_parts(small, model, args.batch_size)
        best_small[model.name] = max(rates)
        print(f"  {model.name:14} {max(rates):>14,.0f} {decode_rate:>12,.0f} {infer_rate:>11,.0f}"
              f"   (runs: {', '.join(f'{r:,.0f}' for r in rates)})", flush=True)
    fastest = max(best_small, key=best_small.get)
    rates = time_scan(large, next(m for m in models if m.name == fastest), min(args.batch_size, 32), args.repeats)
    print(f"\n1-4 MP JPEGs: {len(large)} files, mean {megapixels:.1f} MP, {mean_kb:,.0f} KB")
    print(f"  {fastest:14} {max(rates):>14,.1f} images/s   (runs: {', '.join(f'{r:,.1f}' for r in rates)})")
    print(f"\nfastest custom CNN {fastest}: {best_small[fastest]:,.0f} images/s on 32x32 (target >= 2,000), "
          f"{max(rates):,.1f} images/s on 1-4 MP (target >= 50)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
