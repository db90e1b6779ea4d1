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

Every export is loaded back and compared with the zoo model before it is kept (training/export_checks.py
has the limits): on --verify-n random CIFAKE test images (default 500; 0 = the whole test split) when
--data or $CIFAKE_PATH gives the dataset (int8 is then calibrated on its training images), otherwise on
generated images, which checks the export but says nothing of CIFAKE accuracy. It prints each
export's size and single-image latency next to model.keras'. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from model_zoo import LoadedModel, ZooError
from training.cli import exit_on_user_error
from training.data import DATA_ENV
from training.export_checks import ExportError, ExportReport, Sample, cifake_sample, export_and_check, generated_sample
from training.export_formats import FORMATS


def resolve_model(choice: str, zoo: str | os.PathLike | None) -> LoadedModel:
    """NAME, best or fastest, chosen as everywhere (model_zoo.selection); a consensus has no weights to export."""
    from model_zoo.selection import load_choice
    from model_zoo.zoo import is_consensus

    if choice in ("all", "all-including-studies", "zoo"):
        raise ZooError("export one model at a time: NAME, best or fastest")
    loaded = load_choice(choice, zoo, warn=lambda message: print(f"warning: {message}", file=sys.stderr))[0]
    if is_consensus(loaded.card):
        raise ZooError(f"{loaded.name} is a consensus of other entries with no weights of its own: export a member")
    return loaded


def check_sample(data: str | None, n: int) -> Sample:
    """CIFAKE when --data or $CIFAKE_PATH gives it, else generated images."""
    if data or os.environ.get(DATA_ENV):
        return cifake_sample(data, n)
    return generated_sample(n)


def write_card_beside(out: Path, loaded: LoadedModel) -> Path:
    path = out / f"{loaded.name}.card.json"
    path.write_text(json.dumps(loaded.card, indent=2) + "\n")
    return path


def _ratio(keras_value: float, export_value: float, less: str, more: str) -> str:
    """'3.98x smaller' / '1.20x larger': how the export compares with model.keras."""
    ratio = keras_value / max(export_value, 1e-12)
    return f"{ratio:.2f}x {less}" if ratio >= 1 else f"{1 / ratio:.2f}x {more}"


def describe(report: ExportReport) -> str:
    lines = [
        f"{report.fmt}: {report.path}  (written in {report.export_seconds:.1f} s)",
        f"  size     {report.size_bytes / 1e6:.2f} MB (model.keras {report.keras_size_bytes / 1e6:.2f} MB: "
        f"{_ratio(report.keras_size_bytes, report.size_bytes, 'smaller', 'larger')})",
        f"  latency  {report.latency_ms:.2f} ms per image (model.keras {report.keras_latency_ms:.2f} ms: "
        f"{_ratio(report.keras_latency_ms, report.latency_ms, 'faster', 'slower')}); {report.latency_note}",
        *(f"  check    {line}" for line in report.checks),
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="NAME|best|fastest", help="zoo entry, or the leaderboard's best or fastest")
    parser.add_argument("--format", required=True, choices=(*FORMATS, "all"), help="what to write (all: every format)")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--data", help=f"CIFAKE zip or folder for the checks (default: ${DATA_ENV}; else generated images)")
    parser.add_argument("--verify-n", type=int, default=500, help="test images to check on (default 500; 0 = all)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/)")
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise FileNotFoundError(f"--out {out}: exists and is not a folder")
    loaded = resolve_model(args.model, args.zoo)
    sample = check_sample(args.data, args.verify_n)
    out.mkdir(parents=True, exist_ok=True)
    print(f"exporting {loaded.name} ({loaded.entry.model_path}); checks on {sample.description}", flush=True)
    failed = []
    for fmt in FORMATS if args.format == "all" else (args.format,):
        try:
            print(describe(export_and_check(loaded, fmt, out, sample)), flush=True)
        except ExportError as exc:
            failed.append(fmt)
            print(f"{fmt}: FAILED its check, nothing kept: {exc}", file=sys.stderr, flush=True)
    if len(failed) < (len(FORMATS) if args.format == "all" else 1):
        print(f"card: {write_card_beside(out, loaded)} (preprocessing, temperature, threshold)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
