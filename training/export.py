"""Export a zoo model for use without this project: legacy Keras HDF5, TF Serving, TensorFlow Lite.

    python -m training.export NAME|best|fastest --format h5|savedmodel|tflite|tflite-int8|all --out DIR
                              [--data PATH] [--verify-n 500] [--zoo DIR]

Writes under DIR:
    NAME.h5               Keras' legacy HDF5 model (card-normalised float input -> raw P(FAKE))
    NAME/<version>/       a TF Serving model: signature "serving_default" takes encoded JPEG/PNG/GIF/BMP
                          bytes ("image_bytes"), decodes, resizes and normalises them in the graph as the
                          card says, and returns calibrated P(FAKE) ("prob_fake") and "label" at the card's
                          threshold; serve DIR/NAME with the tensorflow/serving image (docs/export.md)
    NAME.tflite           TensorFlow Lite, float (same input and output as the .h5)
    NAME-int8.tflite      TensorFlow Lite, int8 post-training quantisation calibrated on training images
    NAME.card.json        the zoo card: preprocessing, temperature and threshold for the h5/TFLite files

Every export is loaded back and compared with the zoo model before it is kept (training/lib/export_checks.py
has the limits): on --verify-n random test images (default 500, tflite-int8 at least 4,000: its limit is an
accuracy drop of 0.3 points; 0 = the whole test split) of CIFAKE or of the
labelled folder the model was trained on, when --data or $CIFAKE_PATH gives it, otherwise on generated images,
which checks that h5, savedmodel and tflite give the model's scores but says nothing of accuracy. tflite-int8
needs the data (calibrated on 1,000 of its training images, checked for accuracy on its test images): without
it, asking for tflite-int8 ends at once with one line saying so, and `all` writes the other formats with that
note. It prints each export's size and single-image latency next to model.keras'. Exit status 1 when a check
fails.

A crop model (card preprocessing.input_policy "crop") has no savedmodel: its serving graph would resize the
whole image. Its h5 and TFLite files score one crop; the card beside them says how to cut and combine them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model_zoo import ZooError
from training.lib.cli import exit_on_user_error
from training.lib.data import DATA_ENV
from training.lib.export_checks import ExportError, check_images, export_and_check
from training.lib.export_formats import FORMATS
from training.lib.exporting import (
    check_sample,
    data_problem,
    describe,
    formats_for,
    resolve_model,
    write_card_beside,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="NAME|best|fastest", help="zoo entry, or the leaderboard's best or fastest")
    parser.add_argument("--format", required=True, choices=(*FORMATS, "all"), help="what to write (all: every format)")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--data", help=f"CIFAKE, or the labelled folder the model was trained on, for the checks "
                                       f"(default: ${DATA_ENV}; else generated images)")
    parser.add_argument("--verify-n", type=int, default=500, help="test images to check on (default 500; 0 = all)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise FileNotFoundError(f"--out {out}: exists and is not a folder")
    problem = data_problem(args.format, args.data)  # before loading anything
    if problem:
        raise ZooError(problem)
    loaded = resolve_model(args.model, args.zoo)
    wanted = formats_for(loaded, args.format, args.data)  # refuses a format the model cannot have before any work
    samples = {n: check_sample(args.data, n, loaded.card) for n in {check_images(fmt, args.verify_n) for fmt in wanted}}
    out.mkdir(parents=True, exist_ok=True)
    print(f"exporting {loaded.name} ({loaded.entry.model_path}); checks on "
          f"{' and '.join(sample.description for sample in samples.values())}", flush=True)
    failed = []
    for fmt in wanted:
        try:
            sample = samples[check_images(fmt, args.verify_n)]
            print(describe(export_and_check(loaded, fmt, out, sample)), flush=True)
        except ExportError as exc:
            failed.append(fmt)
            print(f"{fmt}: FAILED its check, nothing kept: {exc}", file=sys.stderr, flush=True)
    if len(failed) < len(wanted):
        print(f"card: {write_card_beside(out, loaded)} (preprocessing, temperature, threshold)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

