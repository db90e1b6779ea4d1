"""Batch inference throughput per architecture on CPU, the way evaluation runs it.

    python -m bench.inference [--archs ...] [--images 20000] [--tflite-int8]

Models are built with random weights: speed does not depend on what they learned.
Also times save + load of each model (safe_mode) and its file size. With --tflite-int8,
each model is also exported as `training.export --format tflite-int8` does (int8
post-training quantisation) and timed through LiteRT in batches of 256 on every core,
preprocessing included, the way a deployment would run it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import bench.common  # noqa: F401  (quiet TensorFlow)

if TYPE_CHECKING:
    from model_zoo.card import Card

CUSTOM = ["cnn_maxpool", "cnn_avgpool", "cnn_strided"]


def main() -> None:
    import keras

    from model_zoo import predict_prob_fake
    from model_zoo.card import Card
    from training.lib.architectures import get_architecture

    parser = argparse.ArgumentParser(prog="python -m bench.inference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", nargs="+", default=CUSTOM)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--tflite-int8", action="store_true", help="also time each model's int8 TFLite export")
    args = parser.parse_args()
    images = np.random.default_rng(0).integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
    print(f"{'architecture':16} {'images/s':>10} {'20k test set':>13} {'load':>8} {'size':>9}")
    for name in args.archs:
        arch = get_architecture(name)
        card = Card.from_dict({"name": name, "architecture": name, "input_shape": list(arch.input_shape),
                               "preprocessing": arch.preprocessing, "params": 0, "size_bytes": 0, "train": {},
                               "metrics": {}})
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
        if args.tflite_int8:
            rate, size = _tflite_int8_rate(model, card, images)
            print(f"{name + ' int8':16} {rate:>10,.0f} {20_000 / rate:>11.1f} s {'':>8} {size / 1e6:>7.2f} MB")


def _tflite_int8_rate(model, card: Card, images: np.ndarray, batch: int = 256) -> tuple[float, int]:
    """Images/s of the model's int8 TFLite export (LiteRT, all cores), card preprocessing included; and its size."""
    import os

    from ai_edge_litert.interpreter import Interpreter

    from model_zoo.preprocessing import normalize_for_card
    from training.lib.export_formats import write_tflite

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        write_tflite(model, path, calibration=normalize_for_card(images[:200], card))
        size = path.stat().st_size
        interpreter = Interpreter(model_path=str(path), num_threads=os.cpu_count())
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, [batch, *card.input_shape])
    interpreter.allocate_tensors()
    output = interpreter.get_output_details()[0]["index"]

    def run(chunk: np.ndarray) -> None:
        x = normalize_for_card(chunk, card)
        if len(x) < batch:  # the last chunk: pad to the allocated batch
            x = np.concatenate([x, np.zeros((batch - len(x), *x.shape[1:]), x.dtype)])
        interpreter.set_tensor(index, np.ascontiguousarray(x, np.float32))
        interpreter.invoke()
        interpreter.get_tensor(output)

    run(images[:batch])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(images), batch):
        run(images[i : i + batch])
    return len(images) / (time.perf_counter() - start), size


if __name__ == "__main__":
    main()
