"""Fit the abstain band and the novelty check: the library behind `python -m training.calibrate`."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from model_zoo import ZooEntry, load_model, read_card, read_entry, staged_entry, write_card
from model_zoo.card import Card
from model_zoo.decision import BAND_TARGET_PRECISION, band_summary, fit_band, labels_for
from model_zoo.inference import predict_prob_fake
from model_zoo.novelty import (
    CUTOFF_QUANTILE,
    TRAIN_SAMPLE,
    NoveltyStats,
    fit_novelty,
    novelty_block,
    novelty_scores,
    predict_with_features,
    write_stats,
)
from model_zoo.zoo import CARD_FILE
from training.lib.data import Dataset, Split
from training.lib.image_folders import (
    NOVELTY_SAMPLE,
    FolderDataset,
    bind_card,
    card_split_indices,
    train_image_sizes,
)

CHECK_SAMPLE = 2000  # test images (and noise images) for the reported novelty checks


@dataclass
class Abstention:
    """What fit_abstention returns: the card's new decision fields and novelty block, and the stats file."""

    band: dict
    novelty: dict | None  # None (and stats None) when no novelty score could be fitted: the band still is
    stats: NoveltyStats | None
    validation_accuracy: float


def _sample(count: int, size: int, seed: int) -> np.ndarray:
    """`size` sorted positions out of `count` (all of them when there are fewer): reproducible, and
    sorted so a memory-mapped split is read in order."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(count, size, replace=False)) if size < count else np.arange(count)


def fit_abstention(model, card: Card, train: Split, train_index: np.ndarray, validation: Split, *,
                   seed: int = 0, train_sample: int = TRAIN_SAMPLE, target: float = BAND_TARGET_PRECISION,
                   quantile: float = CUTOFF_QUANTILE, train_sizes: np.ndarray | None = None) -> Abstention:
    """Fit the band (on validation) and the novelty stats (train sample) and cut-off (validation).

    `card` must already hold the fitted decision block (temperature and threshold): the band is
    set on calibrated scores. `train` is the whole training split and `train_index` the part the
    model was trained on (only a sample of it is read, so a memory-mapped split stays on disk).
    `train_sizes`: (height, width) of each of those images as stored, for a folder dataset (None: CIFAKE).
    """
    try:
        val_prob, val_features = predict_with_features(model, validation.images, card)
    except ValueError as exc:  # an output layer without one feature vector: a band, but no novelty score
        print(f"warning: {card.name}: no novelty score ({exc})", file=sys.stderr, flush=True)
        val_prob, val_features = predict_prob_fake(model, validation.images, card), None
    band = fit_band(validation.labels, val_prob, card.threshold, target)
    accuracy = float(np.mean(labels_for(val_prob, card) == validation.labels))
    if val_features is None:
        return Abstention(band, None, None, accuracy)
    fit_on = train.subset(np.asarray(train_index)[_sample(len(train_index), train_sample, seed)])
    _, train_features = predict_with_features(model, fit_on.images, card)
    try:
        stats, val_scores = fit_novelty(train_features, fit_on.labels, val_features, quantile)
    except (ValueError, np.linalg.LinAlgError) as exc:  # too little data: never lose a training run over it
        print(f"warning: {card.name}: no novelty score ({exc})", file=sys.stderr, flush=True)
        return Abstention(band, None, None, accuracy)
    block = novelty_block(stats, model, n_fit=len(fit_on), val_scores=val_scores, quantile=quantile,
                          train_sizes=train_sizes)
    return Abstention(band, block, stats, accuracy)


def flagged_share(model, card: Card, stats: NoveltyStats, images: np.ndarray | Sequence[np.ndarray]) -> float:
    """Share of `images` whose novelty is above the cut-off."""
    _, features = predict_with_features(model, images, card)
    return round(float(np.mean(novelty_scores(features, stats) > stats.cutoff)), 4)


class _Made(Sequence):
    """make(i) for i in range(n), made when read: scoring reads a few at a time, so a folder's big images are never
    all in memory at once."""

    def __init__(self, n: int, make: Callable[[int], np.ndarray]):
        self.n, self.make = n, make

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key):
        if isinstance(key, slice):
            return [self.make(i) for i in range(*key.indices(self.n))]
        return self.make(int(key))


def novelty_checks(model, card: Card, stats: NoveltyStats, test: Split, seed: int = 0) -> dict:
    """Held-out checks of the cut-off: test images (expect about 1 - quantile flagged), the same
    images after a 0.5x downscale and upscale (a shift that costs the models most of their accuracy),
    and uniform noise the size of a test image (expect all flagged)."""
    from training.lib.robustness_study import downscale_upscale

    images = test.subset(_sample(len(test), CHECK_SAMPLE, seed)).images
    shape = np.asarray(images[0]).shape
    downscaled = _Made(len(images), lambda i: downscale_upscale(np.asarray(images[i]), 0.5))
    noise = _Made(min(CHECK_SAMPLE, 500),
                  lambda i: np.random.default_rng((seed, i)).integers(0, 256, shape, dtype=np.uint8))
    return {
        "n": int(len(images)),
        "test_flagged": flagged_share(model, card, stats, images),
        "test_downscaled_0.5_flagged": flagged_share(model, card, stats, downscaled),
        "noise_flagged": flagged_share(model, card, stats, noise),
    }


def calibrate_entry(entry: ZooEntry, dataset: Dataset, zoo: str | os.PathLike | None = None, *,
                    train_sample: int | None = None, target: float = BAND_TARGET_PRECISION,
                    quantile: float = CUTOFF_QUANTILE) -> ZooEntry:
    """Fit and store one entry's band and novelty cut-off; returns the updated entry.

    `dataset`: CIFAKE or the labelled folder the entry was trained on (image_folders.load_labelled_data with the
    card's split), scored as training scored it: on its split, each image as the judge scores it (a crop card by
    its crop grid, model_zoo.crops). `train_sample` None: training's own (NOVELTY_SAMPLE for a folder).
    """
    card, seed = entry.card, int(entry.card.train.seed or 0)
    bind_card(dataset, card)  # a folder's images decode as this model sees them
    train_index, val_index = card_split_indices(card, dataset)
    start = time.time()
    model = load_model(entry)
    if train_sample is None:
        train_sample = NOVELTY_SAMPLE if isinstance(dataset, FolderDataset) else TRAIN_SAMPLE
    fitted = fit_abstention(model, card, dataset.train, train_index, dataset.train.subset(np.sort(val_index)),
                            seed=seed, train_sample=train_sample, target=target, quantile=quantile,
                            train_sizes=train_image_sizes(dataset, train_index))
    recorded = (card.split_metrics("validation") or {}).get("accuracy")
    if recorded is not None and abs(recorded - fitted.validation_accuracy) > 0.005:
        print(f"warning: {entry.name}: validation accuracy here {fitted.validation_accuracy:.4f} differs from the "
              f"card's {recorded:.4f}; is this the data it was trained on?", file=sys.stderr, flush=True)
    band = dict(fitted.band)
    predictions = entry.test_predictions()
    if predictions is not None:
        band["band_test"] = band_summary(predictions["label"].to_numpy(), predictions["prob_fake"].to_numpy(),
                                         tuple(band["uncertain_band"]))
    novelty = fitted.novelty and {**fitted.novelty,
                                  "checks": novelty_checks(model, card, fitted.stats, dataset.test, seed)}
    with staged_entry(entry.name, zoo, from_existing=True) as folder:
        # Re-read the card being published: only our fields change, whatever else was written meanwhile.
        current = read_card(folder / CARD_FILE)
        current = current.updated(decision={**current.decision_rule.to_dict(), **band},
                                  **({"novelty": novelty} if novelty else {}))
        write_stats(folder, fitted.stats)
        write_card(folder, current)
    _report(entry.name, band, novelty, time.time() - start)
    return read_entry(entry.name, zoo)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _report(name: str, band: dict, novelty: dict | None, seconds: float) -> None:
    low, high = band["uncertain_band"]
    val, test = band["band_validation"], band.get("band_test")
    line = (f"{name}: UNCERTAIN for P(FAKE) in [{low:.4f}, {high:.4f}); validation: decided "
            f"{_percent(val['coverage'])}, FAKE right {_percent(val['fake_precision'])}, REAL right "
            f"{_percent(val['real_precision'])}")
    if test:
        line += (f"; test: decided {_percent(test['coverage'])}, FAKE right {_percent(test['fake_precision'])}, "
                 f"REAL right {_percent(test['real_precision'])}")
    if novelty:
        checks = novelty["checks"]
        line += (f". Novelty cut-off {novelty['cutoff']:.2f} ({novelty['features']} features of layer "
                 f"'{novelty['layer']}'); flagged: test {_percent(checks['test_flagged'])}, test downscaled 0.5x "
                 f"{_percent(checks['test_downscaled_0.5_flagged'])}, noise {_percent(checks['noise_flagged'])}")
    else:
        line += ". No novelty score (see the warning)"
    line += f" ({seconds:.0f} s)"
    print(line, flush=True)

