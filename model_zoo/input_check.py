"""The input check that comes with every verdict: how far this image is from what the model was trained on.

Two signals, both stated in plain words:
- size: the zoo's models learnt from 32x32 images that were never resized; any other size is
  resampled to the model's input first, and resampling alone costs a CIFAKE model most of its
  accuracy (the robustness study: a 0.75x downscale takes cnn_maxpool from 97% to 66%).
  A model trained on a folder of other or mixed sizes learnt from images resized to its input
  (novelty.train_image_range): an upload within that range of sizes is resized as they were.
- novelty: model_zoo.novelty's score of the model's own features against its cut-off, set so
  that 1 validation image in 100 (CIFAKE's, or the training folder's) is above it.
An image is in distribution when it needs no resampling and its novelty is within the cut-off;
None when that cannot be told (no novelty stats in an older entry, and no resampling).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image

from model_zoo.card import Card
from model_zoo.crops import crop_grid
from model_zoo.images import ImageError, _open

_SWAPPED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 degrees


def original_size(source: bytes | str | os.PathLike, name: str | None = None) -> tuple[int, int]:
    """(width, height) of the image as displayed (EXIF rotation applied), read from its header only."""
    name = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "upload")
    img: Image.Image = _open(source, name)
    try:
        width, height = img.size
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception as exc:  # a broken EXIF block: the pixels decoded, so only the rotation is unknown
        raise ImageError(f"{name}: unreadable image header ({exc})") from None
    return (height, width) if orientation in _SWAPPED_ORIENTATIONS else (width, height)


def _times(factor: float) -> str:
    return f"{factor:.0f}x" if factor >= 10 else f"{factor:.1f}x".replace(".0x", "x")


@dataclass(frozen=True)
class InputCheck:
    """One image against one model: its size, the model's input and training sizes, its novelty."""

    width: int
    height: int
    model_width: int
    model_height: int
    train_width: int
    train_height: int
    novelty: float | None = None
    novelty_cutoff: float | None = None
    # Share of pure-noise images this model's novelty check flagged when it was calibrated, when that share is
    # too low to trust the check (None: trusted, or never checked). Such a model's score is not used.
    noise_flagged: float | None = None
    # Crop models (model_zoo.crops): the crop side, the crops scored and the crops covering the image would need.
    crop_size: int | None = None
    crops: int = 0
    crops_needed: int = 0
    # A folder model's training image sizes, ((min width, min height), (max width, max height)); None: every
    # training image was train_width x train_height (CIFAKE).
    train_range: tuple[tuple[int, int], tuple[int, int]] | None = None
    calibration_set: str | None = "CIFAKE"  # whose validation images set the novelty cut-off; None: the model's own

    @property
    def training_resized(self) -> bool:
        """Whether training itself resized its images to the model's input (a folder of other or mixed sizes)."""
        if self.train_range is None:
            return False
        low, high = self.train_range
        return low != high or low != (self.model_width, self.model_height)

    @property
    def within_training_sizes(self) -> bool:
        """Whether this image's width and height are each within those of the training images."""
        (low_w, low_h), (high_w, high_h) = self.train_range or ((self.train_width, self.train_height),) * 2
        return low_w <= self.width <= high_w and low_h <= self.height <= high_h

    @property
    def resampled(self) -> bool:
        """Whether this image is resized differently from the training images (any size but theirs, or outside
        their range when training resized them too; a crop model never resamples)."""
        if self.crop_size:
            return False
        if self.training_resized:
            return not self.within_training_sizes
        return (self.width, self.height) != (self.train_width, self.train_height)

    @property
    def padded(self) -> bool:
        """A crop model's image smaller than one crop along a side: padded with black, not stretched."""
        return bool(self.crop_size) and min(self.width, self.height) < self.crop_size

    @property
    def shrink_factor(self) -> float:
        """How many times the image was shrunk along its more-shrunk side to reach the model's input (< 1: enlarged)."""
        return max(self.width / self.model_width, self.height / self.model_height)

    @property
    def novel(self) -> bool | None:
        if self.novelty is None or self.novelty_cutoff is None:
            return None
        return self.novelty > self.novelty_cutoff

    @property
    def in_distribution(self) -> bool | None:
        if self.resampled or self.padded or self.novel:
            return False
        return None if self.novel is None else True

    def size_message(self) -> str | None:
        """A plain sentence about resampling, or None when the image is the size of training images never resized."""
        if self.crop_size:
            return self.crop_message()
        if self.training_resized:
            return self.resized_training_message()
        if not self.resampled:
            return None
        return (f"This {self.width}x{self.height} image {self._resizing()}; the model learnt from "
                f"{self.train_width}x{self.train_height} images that were never resized, so verdicts on "
                "resized images are unreliable.")

    def _resizing(self) -> str:
        """How the image was resized to the model's input, e.g. "was shrunk 20x to 32x32"."""
        fx, fy = self.width / self.model_width, self.height / self.model_height
        target = f"{self.model_width}x{self.model_height}"
        if fx >= 1 and fy >= 1:
            how = f"was shrunk {_times(max(fx, fy))} to {target}"
        elif fx <= 1 and fy <= 1:
            how = f"was enlarged {_times(1 / min(fx, fy))} to {target}"
        else:
            how = f"was resized to {target}"
        ratio, model_ratio = self.width / self.height, self.model_width / self.model_height
        if abs(math.log(ratio / model_ratio)) > math.log(1.05):
            shape = "a square" if self.model_width == self.model_height else f"{model_ratio:.2g}:1"
            how += f", its {ratio:.2g}:1 shape squeezed into {shape}"
        return how

    def resized_training_message(self) -> str:
        """The size sentence for a model whose training images were resized to its input as well: an image within
        their range of sizes is resized as they were; one outside it is not like any of them."""
        (low_w, low_h), (high_w, high_h) = self.train_range or ((self.train_width, self.train_height),) * 2
        sizes = f"{low_w}x{low_h}" if (low_w, low_h) == (high_w, high_h) else f"{low_w}x{low_h} to {high_w}x{high_h}"
        target = f"{self.model_width}x{self.model_height}"
        native = (self.width, self.height) == (self.model_width, self.model_height)
        head = f"This {self.width}x{self.height} image {'needed no resizing' if native else self._resizing()}"
        if self.within_training_sizes:
            return (f"{head}; the model learnt from {sizes} images resized to {target}{'' if native else ' the same way'}, "
                    "so its size alone does not make the verdict unreliable.")
        bigger = self.width > high_w or self.height > high_h
        smaller = self.width < low_w or self.height < low_h
        where = ("outside that range of sizes" if bigger and smaller
                 else "bigger than any of them" if bigger else "smaller than any of them")
        return (f"{head}; the model learnt from {sizes} images resized to {target}, and this one is {where}, so "
                "verdicts on it are unreliable.")

    def crop_message(self) -> str:
        """A crop model's plain sentence: how many crops judged the image, whether they covered it, any padding."""
        side = f"{self.crop_size}x{self.crop_size}"
        if self.padded:
            return (f"This {self.width}x{self.height} image is smaller than the model's {side} crops, so it was padded "
                    "with black (not stretched); the model learnt from crops of bigger images, so its verdict is "
                    "unreliable.")
        if self.crops < self.crops_needed:
            return (f"This {self.width}x{self.height} image was judged at its own resolution by {self.crops} {side} "
                    f"crops spread over it (covering it would take {self.crops_needed}; the model scores at most "
                    f"{self.crops}), their scores averaged.")
        if self.crops == 1:
            return (f"This {self.width}x{self.height} image was judged at its own resolution by one {side} crop "
                    "covering it; nothing was resized.")
        return (f"This {self.width}x{self.height} image was judged at its own resolution by {self.crops} {side} "
                "crops covering it, their scores averaged; nothing was resized.")

    def novelty_message(self) -> str | None:
        """A plain sentence about novelty, or None when there is no novelty score."""
        if self.noise_flagged is not None:
            return (f"This model's novelty check flagged only {self.noise_flagged:.0%} of pure-noise images when it was "
                    "calibrated, so it cannot tell whether this image is like its training images.")
        if self.novel is None:
            return None
        if self.novel:
            return (f"To this model the image looks unlike its training images (novelty {self.novelty:.1f}, "
                    f"above the {self.novelty_cutoff:.1f} that only 1 in 100 {self.calibration_images()} exceed), "
                    "so its verdict is unreliable.")
        return (f"To this model the image looks like its training images (novelty {self.novelty:.1f}, "
                f"within the cut-off {self.novelty_cutoff:.1f}).")

    def calibration_images(self, owner: str = "its") -> str:
        """The images the novelty cut-off was set on, as words that follow "1 in 100"."""
        return f"{self.calibration_set} validation images" if self.calibration_set else f"of {owner} validation images"

    def messages(self) -> list[str]:
        return [m for m in (self.size_message(), self.novelty_message()) if m]

    def summary(self) -> str:
        """The plain sentences in one line (a note when there is nothing to say)."""
        return " ".join(self.messages()) or "This image has the training images' size; this model has no novelty score."

    def as_dict(self) -> dict[str, Any]:
        """The API's and the predict CLI's "input_check" object."""
        return {
            "width": self.width, "height": self.height,
            "model_input": [self.model_width, self.model_height],
            "train_image_size": [self.train_width, self.train_height],
            "train_image_range": [list(corner) for corner in
                                  self.train_range or ((self.train_width, self.train_height),) * 2],
            "resampled": self.resampled, "shrink_factor": round(self.shrink_factor, 3),
            "novelty": None if self.novelty is None else round(float(self.novelty), 4),
            "novelty_cutoff": self.novelty_cutoff, "novel": self.novel, "novelty_untrusted": self.noise_flagged is not None,
            "in_distribution": self.in_distribution, "messages": self.messages(),
            **({"crops": {"size": self.crop_size, "scored": self.crops, "needed": self.crops_needed,
                          "padded": self.padded}} if self.crop_size else {}),
        }


NOISE_TRUST = 0.99  # a novelty check that lets more than 1 pure-noise image in 100 through is not believed


def untrusted_noise_share(card: Card) -> float | None:
    """card.untrusted_noise_share (kept for callers). training.calibrate records the share of pure-noise images the
    novelty check flags (novelty.checks.noise_flagged). A fine-tuned EfficientNet-Lite0 maps uniform noise close to
    its class means (0% flagged), so its "like the training images" would be a false comfort."""
    return card.untrusted_noise_share


def check_input(size: tuple[int, int], card: Card, novelty: float | None = None) -> InputCheck:
    """The input check for an image of `size` (width, height) judged by the model of `card`."""
    model_height, model_width = card.input_size
    train_height, train_width = card.train_image_size
    untrusted = card.untrusted_noise_share
    if untrusted is not None:
        novelty = None
    cutoff = float(card.novelty.cutoff) if novelty is not None and card.novelty else None
    crops = {}
    spec = card.crop_spec
    if spec:
        grid = crop_grid(int(size[1]), int(size[0]), *spec)
        crops = {"crop_size": spec[0], "crops": len(grid.positions), "crops_needed": grid.needed}
    extent = card.train_image_range  # (height, width) pairs, as the card stores sizes; the check speaks (width, height)
    train_range = None if extent is None else ((extent[0][1], extent[0][0]), (extent[1][1], extent[1][0]))
    return InputCheck(int(size[0]), int(size[1]), model_width, model_height, train_width, train_height,
                      None if cutoff is None else float(novelty), cutoff, untrusted, **crops,
                      train_range=train_range, calibration_set=card.calibration_set)
