"""Evaluate entries on the test split (or a labelled folder) into their cards.

The library behind `python -m training.evaluate`.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from model_zoo import (
    ZooEntry,
    binary_metrics,
    load_model,
    predict_prob_fake,
    read_entry,
    staged_entry,
    write_card,
    write_predictions,
)
from model_zoo.card import Card
from model_zoo.decision import expected_calibration_error
from model_zoo.zoo import VALIDATION_PREDICTIONS_FILE
from training.lib.data import Dataset, Split, release_pages
from training.lib.image_folders import bind_card, card_split_indices


def validation_split(card: Card, dataset: Dataset) -> Split:
    """The validation images this card's model was trained without (its "train" block's seed and fraction), in
    index order; every entry trained with the same seed and fraction on the same data gets the same images."""
    _, val_index = card_split_indices(card, dataset)
    return dataset.train.subset(np.sort(val_index))


def write_validation_predictions(name: str, dataset: Dataset, zoo: str | os.PathLike | None = None,
                                 model=None) -> ZooEntry:
    """(Re)compute `name`'s calibrated P(FAKE) on its validation split through the card's one preprocessing
    path (model_zoo.predict_prob_fake) and store validation_predictions.csv atomically."""
    entry = read_entry(name, zoo)
    model = load_model(entry) if model is None else model
    bind_card(dataset, entry.card)  # a folder's images decode as this model sees them
    validation = validation_split(entry.card, dataset)
    start = time.time()
    prob_fake = predict_prob_fake(model, validation.images, entry.card)
    seconds = time.time() - start
    accuracy = float(np.mean((prob_fake >= entry.card.threshold) == validation.labels))
    recorded = (entry.card.split_metrics("validation") or {}).get("accuracy")
    if recorded is not None and abs(recorded - accuracy) > 0.005:
        print(f"warning: {name}: validation accuracy here {accuracy:.4f} differs from the card's {recorded:.4f}; "
              "is this the data it was trained on?", file=sys.stderr, flush=True)
    with staged_entry(name, zoo, from_existing=True) as folder:
        write_predictions(folder, validation.paths, validation.labels.astype(int), prob_fake,
                          VALIDATION_PREDICTIONS_FILE)
    print(f"{name}: validation predictions for {len(validation):,} images (accuracy {accuracy:.4f} at the card's "
          f"threshold; {seconds:.1f} s, {len(validation) / max(seconds, 1e-9):,.0f} images/s)", flush=True)
    return read_entry(name, zoo)


def evaluate(name: str, dataset: Dataset, zoo: str | os.PathLike | None = None) -> ZooEntry:
    """Run `name` on every test image; write metrics.test and test_predictions.csv atomically, then the
    validation predictions (write_validation_predictions)."""
    entry = read_entry(name, zoo)
    model = load_model(entry)
    bind_card(dataset, entry.card)  # a folder's images decode as this model sees them
    test = dataset.test
    start = time.time()
    prob_fake = predict_prob_fake(model, test.images, entry.card)
    seconds = time.time() - start
    release_pages(test.images)  # read through: the validation images come next, not on top of these
    decide_at = entry.card.threshold
    metrics = binary_metrics(test.labels, prob_fake, decide_at)
    unseen = test.unseen_in(dataset.train)
    unseen_metrics = binary_metrics(test.labels[unseen], prob_fake[unseen], decide_at)
    card = entry.card.updated(metrics={**entry.card.metrics, "test": metrics, "test_unseen": unseen_metrics}, evaluation={
        "dataset": str(dataset.source),
        "threshold": decide_at,
        "test_ece": round(expected_calibration_error(test.labels, prob_fake), 5),
        "test_in_train": int((~unseen).sum()),
        "seconds": round(seconds, 2),
        "images_per_second": round(len(test) / max(seconds, 1e-9), 1),
    })
    with staged_entry(name, zoo, from_existing=True) as folder:
        write_predictions(folder, test.paths, test.labels.astype(int), prob_fake)
        write_card(folder, card)
    print(f"{name}: test accuracy {metrics['accuracy']:.4f}, ROC-AUC {metrics['roc_auc']:.4f} "
          f"on {metrics['n']:,} images ({seconds:.1f} s); without the {metrics['n'] - unseen_metrics['n']:,} "
          f"test images that also occur in train: accuracy {unseen_metrics['accuracy']:.4f}, "
          f"ROC-AUC {unseen_metrics['roc_auc']:.4f} on {unseen_metrics['n']:,}", flush=True)
    return write_validation_predictions(name, dataset, zoo, model)

