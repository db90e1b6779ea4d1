"""Training batches made on the accelerator: the uint8 images kept on the device, each batch augmented and normalised there.

Every step is keras.ops, so it runs on any Keras backend (torch, JAX or TensorFlow).

The host feed (backbone_fit.Batches) gathers, augments and normalises every batch in numpy and copies float32
batches to the device: on a lent H200 that, with Keras' per-step overhead, set the pace (135-231 ms a step),
not the chip. Here the whole training split is copied once as uint8 (100,000 CIFAKE images are 307 MB), and
a step moves only its indices.

- Normalisation is the card's (model_zoo.preprocessing.normalization: the same constants, colour order and
  formula as normalize_for_card, which tests hold it to within 1e-5).
- Resizing: the arrays must already be at the card's input size (CIFAKE's 32x32 is); a backbone's own
  resize to its inner size is the model's first layer ("upsample"), so it runs on the device too.
- Augmentation: `none`, `flip` and `flip_shift` as training.lib.augment defines them (a horizontal flip with
  probability 1/2; a shift of up to SHIFT_PIXELS whole pixels with reflect padding). The resampling ones stay
  on the host feed.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from model_zoo.card import Card
from model_zoo.preprocessing import input_size, normalization
from training.lib.augment import SHIFT_PIXELS

DEVICE_AUGMENTATIONS = ("none", "flip", "flip_shift")


def normalize_on_device(images, card: Card):
    """uint8 images (N, H, W, 3), a tensor on any backend -> float32 model input, as normalize_for_card does it."""
    to_bgr, mean, std = normalization(card)
    x = ops.cast(images, "float32")
    if to_bgr:
        x = ops.flip(x, axis=-1)
    return (x - ops.convert_to_tensor(np.asarray(mean, np.float32))) / ops.convert_to_tensor(np.asarray(std, np.float32))


def reflect_pad(images, pixels: int = SHIFT_PIXELS):
    """Reflect padding (the edge row itself not repeated, as np.pad's and tf.pad's "reflect") built from slices."""
    top = ops.flip(images[:, 1 : pixels + 1], axis=1)
    bottom = ops.flip(images[:, -pixels - 1 : -1], axis=1)
    images = ops.concatenate([top, images, bottom], axis=1)
    left = ops.flip(images[:, :, 1 : pixels + 1], axis=2)
    right = ops.flip(images[:, :, -pixels - 1 : -1], axis=2)
    return ops.concatenate([left, images, right], axis=2)


def check_augmentation(name: str) -> None:
    if name not in DEVICE_AUGMENTATIONS:
        raise ValueError(f"--feed device augments with {', '.join(DEVICE_AUGMENTATIONS)} only, not {name!r} "
                         "(use the host feed for it)")


def gather_augmented(padded, rows, name: str, seed: keras.random.SeedGenerator | None, pixels: int = SHIFT_PIXELS):
    """Images `rows` of `padded` (N, H + 2p, W + 2p, C: reflect_pad's, p = `pixels`), augmented by `name`, in one
    gather: a flip and a whole-pixel shift only choose which padded pixel lands where, so each output pixel's source
    index is computed (a flipped image's padding is the flipped padding) and read once. (B,) rows -> (B, H, W, C)."""
    check_augmentation(name)
    batch = ops.shape(rows)[0]
    padded_height, padded_width, channels = padded.shape[1], padded.shape[2], padded.shape[3]
    height, width = padded_height - 2 * pixels, padded_width - 2 * pixels
    if name == "flip_shift":
        dy = ops.cast(ops.floor(keras.random.uniform((batch, 1, 1), 0, 2 * pixels + 1, seed=seed)), "int32")
        dx = ops.cast(ops.floor(keras.random.uniform((batch, 1, 1), 0, 2 * pixels + 1, seed=seed)), "int32")
    else:
        dy = dx = ops.full((batch, 1, 1), pixels, "int32")
    r = dy + ops.reshape(ops.arange(height, dtype="int32"), (1, height, 1))  # (B, H, 1): padded row read
    c = dx + ops.reshape(ops.arange(width, dtype="int32"), (1, 1, width))  # (B, 1, W): padded column read
    if name != "none":
        flipped = keras.random.uniform((batch, 1, 1), seed=seed) < 0.5
        c = ops.where(flipped, padded_width - 1 - c, c)
    source = (ops.reshape(ops.cast(rows, "int32"), (-1, 1, 1)) * padded_height + r) * padded_width + c
    flat = ops.reshape(padded, (-1, channels))
    return ops.reshape(ops.take(flat, ops.reshape(source, (-1,)), axis=0), (batch, height, width, channels))


def augment_on_device(images, name: str, seed: keras.random.SeedGenerator | None):
    """training.lib.augment's `name` (one of DEVICE_AUGMENTATIONS) on a uint8 device batch (N, H, W, C)."""
    check_augmentation(name)
    if name == "none":
        return images
    return gather_augmented(reflect_pad(images), ops.arange(ops.shape(images)[0], dtype="int32"), name, seed)


class DeviceBatches(keras.utils.PyDataset):
    """(model input, label) batches of images[index], made on the device; reshuffled every epoch from (seed, epoch)
    like backbone_fit.Batches, so a resumed run sees the same order."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, index: np.ndarray, batch_size: int, card: Card,
                 augmentation: str = "none", shuffle: bool = False, seed: int = 0, epoch: int = 0):
        super().__init__()
        height, width = input_size(card)
        if images.shape[1:3] != (height, width):
            raise ValueError(f"--feed device needs images at the card's input size {height}x{width}, not "
                             f"{images.shape[1]}x{images.shape[2]} (use the host feed)")
        check_augmentation(augmentation)
        index = np.asarray(index)
        # One copy of the split's own images, uint8 and reflect-padded for the shifts, on the device; a batch is
        # gathered from it, already flipped and shifted, in one read (gather_augmented).
        self.padded = reflect_pad(ops.convert_to_tensor(np.ascontiguousarray(images[np.sort(index)])))
        self.labels = ops.convert_to_tensor(np.asarray(labels)[np.sort(index)].astype(np.float32))
        self.count, self.batch_size, self.card = len(index), batch_size, card
        self.augmentation, self.shuffle, self.seed, self.epoch = augmentation, shuffle, seed, epoch
        self.random = keras.random.SeedGenerator(seed)
        self._order()

    def _order(self) -> None:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.count) if self.shuffle else np.arange(self.count)
        self.order = ops.convert_to_tensor(order.astype(np.int32))

    def __len__(self) -> int:
        return math.ceil(self.count / self.batch_size)

    def __getitem__(self, i: int):
        rows = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        images = gather_augmented(self.padded, rows, self.augmentation, self.random)
        return normalize_on_device(images, self.card), ops.take(self.labels, rows, axis=0)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order()
