"""Peak resident memory of training and of evaluation on the full dataset.

    python -m bench.memory [--data PATH] [--arch cnn_maxpool] [--steps 60]

Each phase runs in a fresh process that reports its own peak RSS (ru_maxrss), so
the figures are what a user's `training.train` / `training.evaluate` needs. Training
runs `--steps` batches of a real run (the whole dataset is loaded and the pipeline
built, which is where memory peaks), then publishes into a temp zoo that
evaluation reads. Targets: training <= 2.0 GB, evaluation <= 1.0 GB.
Uses $CIFAKE_PATH, else generates CIFAKE-sized data once in a temp dir.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile

from bench.common import cifake_sized_zip

TARGETS_GB = {"train": 2.0, "evaluate": 1.0}


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux reports KiB


def _child_train(data: str, zoo: str, arch: str, steps: int) -> None:
    import keras

    from training.lib.data import load_cifake
    from training.lib.training_run import TrainConfig, train

    class StopAfter(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 >= steps:
                self.model.stop_training = True

    config = TrainConfig(arch=arch, epochs=1, augment="flip_shift", precision="auto")
    train(config, load_cifake(data), zoo, callbacks=[StopAfter()])


def _child_evaluate(data: str, zoo: str, arch: str) -> None:
    from training.evaluate import main

    main([arch, "--data", data, "--zoo", zoo])


def _run_child(phase: str, *args: str) -> float:
    out = subprocess.run([sys.executable, "-m", "bench.memory", "--child", phase, *args],
                         check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("CIFAKE_PATH"))
    parser.add_argument("--arch", default="cnn_maxpool")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # inside a measured process: run one phase, print its peak RSS last
        phase, data, zoo, arch, *rest = args.child
        if phase == "train":
            _child_train(data, zoo, arch, int(rest[0]))
        else:
            _child_evaluate(data, zoo, arch)
        print(f"{_peak_rss_gb():.3f}")
        return
    data = args.data or str(cifake_sized_zip())
    print(f"peak resident memory, {args.arch}, data {data}")
    with tempfile.TemporaryDirectory() as zoo:
        figures = {
            "train": _run_child("train", data, zoo, args.arch, str(args.steps)),
            "evaluate": _run_child("evaluate", data, zoo, args.arch),
        }
    for phase, gb in figures.items():
        verdict = "ok" if gb <= TARGETS_GB[phase] else "OVER TARGET"
        print(f"{phase:9} {gb:5.2f} GB  (target <= {TARGETS_GB[phase]:.1f} GB: {verdict})")


if __name__ == "__main__":
    main()
