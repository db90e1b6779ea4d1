"""Check a pretrained backbone on your own pictures: its ImageNet top-5, one JSON line per image.

    python -m training.backbones top5 efficientnet_lite0|efficientnet_lite1|efficientnet_lite2 IMAGE [IMAGE ...]

Each line is {"path": ..., "top5": [[class_index, class_name, probability], ...]}. Images are
resized to the backbone's ImageNet size (Lite0 224 px, Lite1 240, Lite2 260; bilinear) through the
same card-driven preprocessing every zoo model uses. A picture of a common object should be named in its top 5: that is the quick
proof that the ImageNet weights were read and ported correctly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from model_zoo import ImageError, batch_to_model_input, decode_image
from model_zoo.card import Card
from training.lib.cli import exit_on_user_error

BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")  # training.lib.efficientnet_lite
CLASS_NAMES_FILE = Path(__file__).with_name("imagenet_classes.txt")  # ImageNet-1k, in class-index order


def imagenet_class_names() -> list[str]:
    names = CLASS_NAMES_FILE.read_text(encoding="utf-8").splitlines()
    if len(names) != 1000:
        raise ValueError(f"{CLASS_NAMES_FILE}: expected 1000 ImageNet class names, found {len(names)}")
    return names


def imagenet_card(backbone: str = "efficientnet_lite0") -> Card:
    """The classifier's input as a card: what batch_to_model_input needs to prepare its images."""
    from training.lib.efficientnet_lite import PREPROCESSING, variant_of

    size = variant_of(backbone).resolution
    return Card.from_dict({"name": f"{backbone} (ImageNet)", "architecture": backbone, "input_shape": [size, size, 3],
                           "preprocessing": {**PREPROCESSING, "resize": "bilinear"},
                           "params": 0, "size_bytes": 0, "train": {}, "metrics": {}})


def top5(model, images: list[np.ndarray], class_names: list[str], backbone: str = "efficientnet_lite0"
         ) -> list[list[list]]:
    """[[index, name, probability] x 5] per image, most probable first."""
    x = batch_to_model_input(images, imagenet_card(backbone))
    logits = np.asarray(model.predict_on_batch(x), dtype=np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return [[[int(i), class_names[i], round(float(p[i]), 6)] for i in np.argsort(-p)[:5]] for p in probabilities]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.backbones", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    top = commands.add_parser("top5", help="ImageNet top-5 classes of each image, one JSON line per image")
    top.add_argument("backbone", choices=BACKBONES)
    top.add_argument("images", nargs="+", help="image files (JPEG, PNG, WebP, BMP, GIF)")
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from training.lib.efficientnet_lite import imagenet_classifier, variant_of

    model = imagenet_classifier(variant=variant_of(args.backbone))
    class_names = imagenet_class_names()
    failed = 0
    for path in args.images:
        try:
            rgb = decode_image(path)
        except ImageError as exc:  # one bad file does not stop the others
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(json.dumps({"path": path, "top5": top5(model, [rgb], class_names, args.backbone)[0]}), flush=True)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
