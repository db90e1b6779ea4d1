"""Which cues do the models use? Score them on test images after controlled changes (model_zoo/image_changes.py).

One row per condition (model_zoo/cue_vocabulary.py names them): accuracy at the card's threshold, ROC-AUC, and the
mean calibrated P(FAKE) of each class, on a stratified sample of the test split. Every image goes through
model_zoo.predict_prob_fake, the card's own preprocessing; the Grad-CAM conditions use the model's own maps
(model_zoo.saliency.explanation_maps, explaining the class it predicts on the unchanged image). The random
conditions draw from a generator seeded by (seed, condition, level), so every model sees the same images.

Beside the table, cue_spectra.npz: the class-mean spectrum difference of the test images and the spectrum
of the model's input gradients (which frequencies it is sensitive to).

A model is measured on its own test split: CIFAKE's, or that of the labelled folder it was trained on, each image as
the model sees it (training/lib/study_images.py: resized for a resize card, the judge's central grid crop for a crop
card), so every change acts on the model's input. Bands, fills, the Grad-CAM ranking, colour and the JPEG grid mean
the same at any size (bands are fractions of the Nyquist radius); a tile shuffle needs tiles that divide the view
into two or more, and is left out otherwise, with the reason recorded in the card (cues.left_out). A folder's class
spectra come from the sample (CIFAKE's from the whole split), and its files also name the test set (test_set).
"""

from __future__ import annotations

import io
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model_zoo import binary_metrics, load_model, predict_prob_fake, read_entry, staged_entry, write_card
from model_zoo import image_changes as T
from model_zoo.card import Card
from model_zoo.cue_vocabulary import (
    AMPLITUDE_SWAP,
    BANDS,
    BORDER_FILL,
    CENTRE_FILL,
    CHANNEL,
    CHANNEL_NAMES,
    CUES_COLUMNS,
    GRADCAM_BOTTOM,
    GRADCAM_TOP,
    GRAYSCALE,
    HIGHPASS,
    JPEG_GRID,
    LOWPASS,
    NONE,
    TILES,
    band_fractions,
    image_power,
    log_amplitude_spectrum,
    normalised_power,
)
from model_zoo.decision import CLASS_NAMES, labels_for
from model_zoo.saliency import explanation_maps, input_gradients
from model_zoo.zoo import CUE_SPECTRA_FILE, CUES_FILE
from training.lib.data import Dataset, stratified_sample
from training.lib.image_folders import check_trained_on
from training.lib.study_images import decoded, model_view, own_test_set

VERSION = 1
# Test images per run, half per class: every detector on the 2-core CPU in under 15 minutes. cnn_strided took 19 s
# at 400 and 44 s at 1000 with another job on both cores; EfficientNet-Lite0 scores 15x fewer images per second.
SAMPLE = 600
GRADIENT_IMAGES = 200  # of the sample, half per class, for the input-gradient spectrum
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Condition:
    family: str  # one panel on the Studies page
    condition: str
    level: float
    label: str


def _conditions() -> tuple[Condition, ...]:
    rows = [Condition("clean", NONE, 0, "unchanged")]
    rows += [Condition("low-pass", LOWPASS, k, f"lowest {k} of {BANDS} bands") for k in (4, 8, 12, 14)]
    rows += [Condition("high-pass", HIGHPASS, k, f"bands {k}-{BANDS - 1} only") for k in (4, 8)]
    rows += [Condition("amplitude / phase", AMPLITUDE_SWAP, 1, "amplitude of the other class"),
             Condition("amplitude / phase", AMPLITUDE_SWAP, 0, "amplitude of the same class")]
    for fraction in (0.25, 0.5):
        rows += [Condition("centre vs border", CENTRE_FILL, fraction, f"centre {fraction:.0%} grey"),
                 Condition("centre vs border", BORDER_FILL, fraction, f"border {fraction:.0%} grey")]
    for fraction in (0.1, 0.25):
        rows += [Condition("Grad-CAM top vs bottom", GRADCAM_TOP, fraction, f"top {fraction:.0%} grey"),
                 Condition("Grad-CAM top vs bottom", GRADCAM_BOTTOM, fraction, f"bottom {fraction:.0%} grey")]
    rows += [Condition("tile shuffle", TILES, size, f"{size} px tiles") for size in (16, 8, 4)]
    rows += [Condition("colour", GRAYSCALE, 0, "grayscale")]
    rows += [Condition("colour", CHANNEL, c, f"{name} only") for c, name in enumerate(CHANNEL_NAMES)]
    rows += [Condition("JPEG grid", JPEG_GRID, s, "aligned" if s == 0 else f"shift {s} px") for s in range(8)]
    return tuple(rows)


CONDITIONS = _conditions()
SALIENCY_CONDITIONS = (GRADCAM_TOP, GRADCAM_BOTTOM)
TEST_SET = "test_set"  # a folder model's cues.csv column naming its test split (model_zoo.zoo.training_set_name)


def applicable_conditions(conditions: tuple[Condition, ...], height: int, width: int
                          ) -> tuple[tuple[Condition, ...], list[dict]]:
    """The conditions that mean what they say on height x width images, and each other one with why it is left out
    (every condition applies at CIFAKE's 32x32). Only the tile shuffle depends on the size: its tiles must divide the
    image, and one tile would leave nothing to shuffle."""
    kept, left_out = [], []
    for condition in conditions:
        why = None
        if condition.condition == TILES:
            tile = int(condition.level)
            if height % tile or width % tile:
                why = f"{tile} px tiles do not divide the {width}x{height} view"
            elif (height // tile) * (width // tile) < 2:
                why = f"one {tile} px tile covers the {width}x{height} view: nothing to shuffle"
        if why is None:
            kept.append(condition)
        else:
            left_out.append({"condition": condition.condition, "level": condition.level, "label": condition.label,
                             "why": why})
    return tuple(kept), left_out


def condition_rng(seed: int, condition: Condition) -> np.random.Generator:
    """The generator of one condition: the same images for every model and any subset of conditions."""
    return np.random.default_rng([seed, zlib.crc32(f"{condition.condition}:{condition.level:g}".encode())])


def apply_condition(condition: Condition, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                    saliency: np.ndarray | None = None) -> np.ndarray:
    """The images after one condition (uint8, same shape); the Grad-CAM conditions need the maps, (N, H, W)."""
    name, level = condition.condition, condition.level
    if name == NONE:
        return np.array(images, copy=True)
    if name == LOWPASS:
        return T.lowpass(images, int(level))
    if name == HIGHPASS:
        return T.highpass(images, int(level))
    if name == AMPLITUDE_SWAP:
        return T.amplitude_swap(images, images[T.swap_donors(labels, rng, same_class=not level)])
    if name == CENTRE_FILL:
        return T.fill_centre(images, level)
    if name == BORDER_FILL:
        return T.fill_border(images, level)
    if name in SALIENCY_CONDITIONS:
        if saliency is None:
            raise ValueError(f"{name} needs the model's saliency maps")
        return T.fill_ranked(images, saliency, level, rng, highest=name == GRADCAM_TOP)
    if name == TILES:
        return T.shuffle_tiles(images, int(level), rng)
    if name == GRAYSCALE:
        return T.grayscale(images)
    if name == CHANNEL:
        return T.channel_only(images, int(level))
    if name == JPEG_GRID:
        return T.jpeg_grid_shift(images, int(level))
    raise ValueError(f"unknown condition {name!r}")


def _row(condition: Condition, labels: np.ndarray, prob_fake: np.ndarray, card: Card) -> dict:
    metrics = binary_metrics(labels, prob_fake, card.threshold)
    means = [float(prob_fake[labels == label].mean()) if (labels == label).any() else float("nan")
             for label in range(len(CLASS_NAMES))]
    return {"family": condition.family, "condition": condition.condition, "level": condition.level,
            "label": condition.label, "accuracy": metrics["accuracy"], "roc_auc": metrics["roc_auc"],
            "mean_p_fake_real": means[0], "mean_p_fake_fake": means[1], "n": metrics["n"]}


def cue_table(model, card: Card, images: np.ndarray, labels: np.ndarray, *, seed: int = 0,
              conditions: tuple[Condition, ...] = CONDITIONS, progress: Progress | None = None) -> pd.DataFrame:
    """One row per condition (CUES_COLUMNS): how the model scores `images` after it."""
    images, labels = np.asarray(images, np.uint8), np.asarray(labels).astype(int)
    saliency = None
    if any(c.condition in SALIENCY_CONDITIONS for c in conditions):
        start = time.time()
        predicted = labels_for(predict_prob_fake(model, images, card), card)
        saliency = explanation_maps(model, card, images, "Grad-CAM", [CLASS_NAMES[p] for p in predicted], seed=seed)
        if progress:
            progress(f"  Grad-CAM maps of {len(images)} images ({time.time() - start:.1f} s)")
    rows = []
    for step, condition in enumerate(conditions, 1):
        start = time.time()
        changed = apply_condition(condition, images, labels, condition_rng(seed, condition), saliency)
        rows.append(_row(condition, labels, predict_prob_fake(model, changed, card), card))
        if progress:
            row = rows[-1]
            auc = f"{row['roc_auc']:.3f}" if row["roc_auc"] is not None else "n/a"
            progress(f"  [{step}/{len(conditions)}] {condition.family}: {condition.label}: accuracy "
                     f"{row['accuracy']:.4f}, ROC-AUC {auc} ({time.time() - start:.1f} s)")
    return pd.DataFrame(rows, columns=list(CUES_COLUMNS))


def class_spectra(images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The test images' FAKE - REAL mean log-amplitude spectrum (centred, as the Data page shows it) and each
    class's share of power per band (REAL row, FAKE row)."""
    labels = np.asarray(labels).astype(int)
    by_class = [np.asarray(images)[labels == label] for label in range(len(CLASS_NAMES))]
    return {
        "class_difference": (log_amplitude_spectrum(by_class[1]) - log_amplitude_spectrum(by_class[0])).astype(np.float32),
        "image_bands": np.stack([band_fractions(image_power(group)) for group in by_class]).astype(np.float32),
        "image_n": np.array([len(group) for group in by_class]),
    }


def gradient_spectra(model, card: Card, images: np.ndarray) -> dict[str, np.ndarray]:
    """The mean normalised power spectrum (centred) of d P(FAKE) / d input, and its share per band."""
    gradients = input_gradients(model, card, images)
    power = normalised_power(gradients)
    used = int((np.abs(gradients).reshape(len(gradients), -1).sum(axis=1) > 0).sum())
    return {"gradient_power": np.fft.fftshift(power).astype(np.float32),
            "gradient_bands": band_fractions(power).astype(np.float32), "gradient_n": np.array(used)}


def sample_index(labels: np.ndarray, size: int | None, seed: int = 0) -> np.ndarray:
    """`size` test images, half of each class, drawn with `seed` (None: the whole split, in order)."""
    return np.arange(len(labels)) if size is None else stratified_sample(labels, size // 2, seed)


def _balanced_head(labels: np.ndarray, count: int) -> np.ndarray:
    half = max(1, count // 2)
    return np.concatenate([np.flatnonzero(labels == label)[:half] for label in range(len(CLASS_NAMES))])


def evaluate_cues(name: str, dataset: Dataset, zoo: str | os.PathLike | None = None, *, model=None,
                  sample: int | None = SAMPLE, seed: int = 0, spectra: dict[str, np.ndarray] | None = None,
                  conditions: tuple[Condition, ...] = CONDITIONS, progress: Progress | None = None) -> pd.DataFrame:
    """Measure one entry and publish cues.csv and cue_spectra.npz into it atomically.

    `dataset`: CIFAKE, or the labelled folder the entry was trained on (its split rebuilt from the card,
    image_folders.load_labelled_data); anything else raises ZooError. The sample is decoded to the model's view
    (study_images.model_view); conditions that cannot apply at the view's size are left out (applicable_conditions).
    `spectra`: class_spectra of CIFAKE's test split, when the caller computed it once for several models; a folder's
    come from the sample at each model's own view.
    """
    entry = read_entry(name, zoo)
    check_trained_on(entry.card, dataset)
    model = model if model is not None else load_model(entry)
    start = time.time()
    test = model_view(dataset.test, entry.card)  # CIFAKE: the test arrays themselves
    chosen = decoded(test.subset(sample_index(test.labels, sample, seed)))
    labels = np.asarray(chosen.labels).astype(int)
    conditions, left_out = applicable_conditions(conditions, *np.asarray(chosen.images).shape[1:3])
    if progress:
        for row in left_out:
            progress(f"  left out {row['label']}: {row['why']}")
    table = cue_table(model, entry.card, chosen.images, labels, seed=seed, conditions=conditions, progress=progress)
    own = own_test_set(entry.card, dataset)
    if spectra is not None:
        arrays = dict(spectra)
    elif own:  # the sample at the model's view: a folder is never decoded whole
        arrays = class_spectra(chosen.images, labels)
    else:
        arrays = class_spectra(test.images, test.labels)
    arrays.update(gradient_spectra(model, entry.card, chosen.images[_balanced_head(labels, GRADIENT_IMAGES)]))
    cues = {"version": VERSION, "dataset": str(dataset.source), "n": len(chosen),
                    "per_class": {c: int((labels == i).sum()) for i, c in enumerate(CLASS_NAMES)},
                    "sample": "all" if sample is None else sample, "seed": seed, "bands": BANDS,
                    "jpeg_quality": T.JPEG_QUALITY, "gradient_images": int(arrays["gradient_n"]),
                    "seconds": round(time.time() - start, 1), "file": CUES_FILE, "spectra": CUE_SPECTRA_FILE}
    if left_out:
        cues["left_out"] = left_out
    if own:  # CIFAKE's files stay as they always were: no test_set means CIFAKE's test split
        table[TEST_SET] = own["test_set"]
        cues.update(own, spectra_images=int(len(chosen)))
        arrays[TEST_SET] = np.array(own["test_set"])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with staged_entry(name, zoo, from_existing=True) as folder:
        table.to_csv(folder / CUES_FILE, index=False, float_format="%.6g")
        (folder / CUE_SPECTRA_FILE).write_bytes(buffer.getvalue())
        write_card(folder, entry.card.updated(cues=cues))
    return table


def format_table(name: str, table: pd.DataFrame) -> str:
    """The table as the command prints it: accuracy and its change from the unchanged images."""
    clean = table.loc[table["condition"] == NONE, "accuracy"]
    baseline = float(clean.iloc[0]) if len(clean) else float("nan")
    lines = [f"{name}: accuracy after each change (unchanged {baseline:.4f}; n {int(table['n'].iloc[0])})"]
    for row in table.itertuples():
        auc = f"{row.roc_auc:.3f}" if pd.notna(row.roc_auc) else "  n/a"
        lines.append(f"  {row.family:<23}{row.label:<30}{row.accuracy:.4f} ({row.accuracy - baseline:+.4f})  "
                     f"ROC-AUC {auc}  P(FAKE) REAL {row.mean_p_fake_real:.2f} FAKE {row.mean_p_fake_fake:.2f}")
    return "\n".join(lines)
