"""Why is this image REAL or FAKE? Evidence tests in words, one JSON line per image.

    python -m training.explain IMAGE [IMAGE ...] [--model NAME|zoo] [--zoo DIR]

Each image is judged by the answering model (`zoo`, the default: the zoo's consensus; or the entry NAME), then
changed in controlled ways (low- and high-pass, centre and border hidden, the Grad-CAM top and bottom pixels hidden,
tile shuffles, grayscale, JPEG re-saves, a flip, a 1-px shift; model_zoo.evidence) and scored again. Each line holds
"file", "model", "prob_fake", "threshold", "verdict", "sentences" (what the numbers show, in words), "stability"
(a note when a flip or a 1-px shift alone changes the verdict), "tests" (each change and its P(FAKE)), "crops",
"left_out", "counterfactual" (the smallest blend toward the coarse-only image that flips the verdict) and "seconds".
A file that cannot be read gives {"file", "error"}. docs/explanations.md shows an example.
"""

from __future__ import annotations

import argparse
import json
import sys

from model_zoo.selection import DEFAULT_CHOICE
from training.lib.cli import exit_on_user_error
from training.lib.explaining import explain_files


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.explain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--model", default=DEFAULT_CHOICE,
                        help="zoo entry NAME, or 'zoo' (default: the zoo's consensus of its detectors)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    args = parser.parse_args(argv)
    failed = 0
    for record in explain_files(args.images, args.model, args.zoo, warn=lambda note: print(note, file=sys.stderr)):
        failed += "error" in record
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
