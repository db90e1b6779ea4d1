"""The test images a study measures a model on, as that model sees them (training.faithfulness, training.cues).

A study runs on the model's own test split only: CIFAKE's for a CIFAKE model, or the split of the labelled folder it
was trained on, rebuilt from its card (image_folders.load_labelled_data and check_trained_on, as training.robustness).

CIFAKE's test arrays already are every CIFAKE model's input (32x32) and pass through untouched. A folder's test
split stays on disk and is decoded on access, a few files at a time, straight to the model's view, so a folder of
big photos is never held in memory at full resolution (a study decodes a stratified sample of it):

  resize card   the whole image decoded and resized for the card (model_zoo.preprocessing.decode_for_card): the
                input the judge scores and the heatmap the dashboard shows, through the one preprocessing path.
  crop card     the crop of the judge's grid nearest the image's centre (model_zoo.crops.central_grid_crop), at the
                image's own resolution, never resampled.

Why one grid crop for a crop model: the judge scores an image by the mean logit of up to 16 crops, and the dashboard
explains it crop by crop over that grid, stitching the crops' maps over the image (model_zoo.saliency.explanation_map):
each tile of the heatmap users see is one crop's map, computed on that crop alone. Measuring a tile is measuring what
is shown. Measuring the stitched whole instead would score deletion through the mean of 16 crops (pixels removed in
one crop move the verdict by a 16th, whatever the map says), put a capped grid's unexplained gaps (0 in the map) in
the random baseline's way, and hold every full-resolution image with its partly blurred copies in memory. The crop
nearest the centre is a fixed choice, independent of the image's content, and padded only in images smaller than
a crop. A study scores that crop as the network scores any crop (its grid is the crop itself); the cue study's
changes (frequency bands, tiles, the JPEG grid) act on the crop too, since that is the network's whole input.
"""

from __future__ import annotations

import numpy as np

from model_zoo.card import Card
from model_zoo.crops import central_grid_crop
from training.lib.data import Dataset, Split
from training.lib.image_folders import FolderDataset, FolderImages, FolderReader, FolderSplit


class ViewImages(FolderImages):
    """FolderImages decoded to what `card`'s model sees (see the module docstring): all of one size, so any index
    array comes back as one stacked array."""

    def __init__(self, reader: FolderReader, rows: np.ndarray, card: Card):
        super().__init__(reader, rows)
        self.card = card

    def take(self, index) -> ViewImages:
        return ViewImages(self.reader, self.rows[index], self.card)

    def _decode(self, row: int) -> np.ndarray:
        image = super()._decode(row)  # decode_for_card: resized, or a crop card's whole image padded to one crop
        crop = self.card.crop_spec
        return central_grid_crop(image, *crop) if crop else image


def _bound(split: FolderSplit, card: Card) -> FolderReader:
    # A reader of its own: the dataset's reader (and any card bound to it) is shared by every model measured.
    return FolderReader(split.images.reader.source, split.images.reader.names, card=card)


def model_view(split: Split, card: Card) -> Split:
    """The split as `card`'s model sees it (the module docstring), decoded on access; CIFAKE's arrays unchanged."""
    if not isinstance(split.images, FolderImages):
        return split
    return FolderSplit(ViewImages(_bound(split, card), split.images.rows, card), split.labels, split.paths,
                       split.digests)


def judged_images(split: Split, card: Card) -> Split:
    """The split as the judge scores it (model_zoo.predict_prob_fake): a resize card's images resized, a crop card's
    whole (its grid is cut when scoring), decoded on access; CIFAKE's arrays unchanged."""
    if not isinstance(split.images, FolderImages):
        return split
    return FolderSplit(FolderImages(_bound(split, card), split.images.rows), split.labels, split.paths, split.digests)


def decoded(split: Split) -> Split:
    """The split with its images in one uint8 array (a sample of a model_view split: all of the view's size)."""
    if not isinstance(split.images, FolderImages):
        return split
    images = split.images[:] if len(split) else np.zeros((0, 0, 0, 3), np.uint8)
    return Split(np.asarray(images, np.uint8), split.labels, split.paths, split.digests)


def view_description(card: Card) -> str:
    """What model_view shows `card`'s model, in words (recorded beside a folder model's study)."""
    crop = card.crop_spec
    if crop:
        return (f"the {crop[0]}x{crop[0]} crop of the judge's grid nearest the image centre, at the image's own "
                "resolution")
    height, width = card.input_size
    return f"the whole image resized to {width}x{height} ({card.resize_method})"


def own_test_set(card: Card, dataset: Dataset) -> dict[str, str] | None:
    """{"test_set", "view"} to record in a folder model's study outputs (the Studies page names the images by it);
    None on CIFAKE, whose outputs stay as they always were."""
    if not isinstance(dataset, FolderDataset):
        return None
    return {"test_set": card.training_set_name, "view": view_description(card)}
