"""Export a zoo model and prove the export gives the zoo model's answers before it is kept.

Each format is written into a hidden staging path beside its destination, loaded back,
and compared with the zoo model on the same images (model_zoo.predict_prob_fake):
    h5, tflite     max |dP(FAKE)| <= 1e-4
    savedmodel     max |dP(FAKE)| <= 1e-2 and the same decision on >= 99.5% of images (its
                   preprocessing runs in the graph, from the encoded file, not through Pillow/OpenCV)
    tflite-int8    test-accuracy drop <= 0.3 points at the card's threshold, on at least
                   INT8_CHECK_IMAGES test images (check_images)
Only an export that passes is moved into place; the checks also time one image through the
export and through the zoo model, alternately, so both see the same load.

The exports are called through model_zoo.predict_raw_prob_fake, as the zoo model is, so a crop card's
export is checked on the grid crops the judge scores (model_zoo.crops) and on their mean logit. A crop
card has no SavedModel: its serving graph resizes the whole image (`no_export_reason`).
"""

from __future__ import annotations

import io
import shutil
import statistics
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from model_zoo import (
    LoadedModel,
    ZooError,
    batch_to_model_input,
    decode_for_card,
    decode_image,
    normalize_for_card,
    predict_prob_fake,
    predict_raw_prob_fake,
)
from model_zoo.card import Card
from model_zoo.crops import random_crop
from model_zoo.decision import apply_temperature, labels_for
from training.lib import export_formats as formats

FLOAT_MAX_DELTA = 1e-4
SERVING_MAX_DELTA = 1e-2
SERVING_MIN_AGREEMENT = 0.995
INT8_MAX_DROP_POINTS = 0.3
# The int8 check's sample: a limit of 0.3 points is 1.5 images of 500, while a few images near the threshold flip
# either way (lite0_finetune: 5 of 500, so 1 point by chance alone); on 4,000 images one image is 0.025 points.
INT8_CHECK_IMAGES = 4000
CALIBRATION_IMAGES = 1000  # training images the int8 ranges are measured on (the converter reads ~15 a second)
LATENCY_REPEATS = 50
CHUNK = 256


class ExportError(Exception):
    """An export that failed its check (nothing was kept); the message says which figure and by how much."""


@dataclass
class Sample:
    """Images the checks run on: decoded pixels, their encoded files, labels, and images to calibrate int8 on."""

    images: list[np.ndarray] | np.ndarray  # uint8 RGB as Pillow decodes each file (any size)
    encoded: list[bytes]
    labels: np.ndarray  # 1 = FAKE
    calibration: list[np.ndarray] | np.ndarray  # uint8 RGB training images
    description: str


@dataclass
class ExportReport:
    fmt: str
    path: Path
    size_bytes: int
    keras_size_bytes: int
    latency_ms: float
    keras_latency_ms: float
    latency_note: str
    export_seconds: float
    checks: list[str] = field(default_factory=list)


# --- the images ----------------------------------------------------------------------------------------------------


def _zip_bytes(source: Path, relpaths: list[str]) -> list[bytes]:
    """The original file bytes of dataset images (relative paths like test/FAKE/0 (10).jpg)."""
    from training.lib.data import _list_members  # the loader's own member listing: the same path rules

    wanted = set(relpaths)
    members = {rel: name for name, _, _, rel in _list_members(source) if rel in wanted}
    if source.is_file():
        with zipfile.ZipFile(source) as archive:
            return [archive.read(members[rel]) for rel in relpaths]
    return [(source / members[rel]).read_bytes() for rel in relpaths]


def dataset_sample(data: str | None, card: Card, n: int = 500, seed: int = 0) -> Sample:
    """n test images (0: all of them) drawn at random, and CALIBRATION_IMAGES training images, from CIFAKE or from
    the labelled folder the card's model was trained on (its split rebuilt from the card, its images as the model
    sees them, training.lib.image_folders)."""
    from training.lib.image_folders import FolderDataset, bind_card, load_labelled_data

    dataset = load_labelled_data(data, split=card.train.split)
    folder = isinstance(dataset, FolderDataset)
    bind_card(dataset, card)
    test, train = dataset.test, dataset.train
    rng = np.random.default_rng(seed)
    index = np.arange(len(test)) if n <= 0 or n >= len(test) else np.sort(rng.choice(len(test), n, replace=False))
    calibration = np.sort(rng.choice(len(train), min(CALIBRATION_IMAGES, len(train)), replace=False))
    if folder:  # the files behind the decoded images, as the folder holds them
        encoded = [dataset.reader.read(int(row)) for row in test.images.rows[index]]
    else:
        encoded = _zip_bytes(Path(dataset.source), [test.paths[i] for i in index])
    return Sample(images=test.images[index], encoded=encoded, labels=np.asarray(test.labels[index]).astype(int),
                  calibration=train.images[calibration],
                  description=f"{len(index):,} {'' if folder else 'CIFAKE '}test images from {dataset.source}")


def _encode(image: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def generated_sample(n: int = 500, seed: int = 0) -> Sample:
    """n generated CIFAKE-like images (training.lib.synthetic): 4 in 5 as 32x32 JPEGs, 1 in 5 as 40x48 PNGs
    (so the in-graph resize is exercised), half FAKE; calibration images from another seed."""
    from training.lib.synthetic import synthetic_image

    n = n if n > 0 else 500
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    encoded = []
    for i, fake in enumerate(labels):
        image = synthetic_image(rng, bool(fake))
        if i % 5 == 4:
            encoded.append(_encode(np.asarray(Image.fromarray(image).resize((48, 40), Image.BICUBIC)), "PNG"))
        else:
            encoded.append(_encode(image, "JPEG"))
    other = np.random.default_rng(seed + 1)
    calibration = np.stack([synthetic_image(other, bool(i % 2)) for i in range(CALIBRATION_IMAGES)])
    return Sample(images=[decode_image(b) for b in encoded], encoded=encoded, labels=labels, calibration=calibration,
                  description=f"{n:,} generated images (no dataset given: --data or $CIFAKE_PATH checks on CIFAKE)")


def check_images(fmt: str, verify_n: int) -> int:
    """How many test images `fmt` is checked on when --verify-n asks for `verify_n` (0: all of them): int8's accuracy
    limit needs at least INT8_CHECK_IMAGES to be resolved; the float formats' limits hold image by image."""
    if fmt != "tflite-int8" or verify_n <= 0:
        return verify_n
    return max(verify_n, INT8_CHECK_IMAGES)


# --- timing --------------------------------------------------------------------------------------------------------


def paired_latency_ms(export_call: Callable[[], object], keras_call: Callable[[], object],
                      repeats: int = LATENCY_REPEATS) -> tuple[float, float]:
    """Median ms of each call, timed alternately after a warm-up, so load on the machine hits both alike."""
    for _ in range(3):
        export_call()
        keras_call()
    export_times, keras_times = [], []
    for _ in range(repeats):
        for call, times in ((export_call, export_times), (keras_call, keras_times)):
            start = time.perf_counter()
            call()
            times.append(1000.0 * (time.perf_counter() - start))
    return statistics.median(export_times), statistics.median(keras_times)


# --- the checks ----------------------------------------------------------------------------------------------------


def no_export_reason(loaded: LoadedModel, fmt: str) -> str | None:
    """Why `fmt` cannot be exported for this model, in one line; None when it can."""
    spec = loaded.card.crop_spec
    if fmt != "savedmodel" or spec is None:
        return None
    size, max_crops = spec
    return (f"{loaded.name} is a crop model and has no savedmodel: it judges an image by up to {max_crops} "
            f"{size}x{size} crops at the image's own resolution (their mean logit), while the SavedModel's in-graph "
            "preprocessing resizes the whole image; export h5 or tflite instead (one crop in, raw P(FAKE) out; the "
            "card written beside them gives the crop policy), or serve it with this project's JSON API")


class _Scored:
    """A function of model inputs, called the way model_zoo.inference calls a model: it keeps each call's raw
    outputs and the first input, so an export and the zoo model are compared on the very inputs the judge makes
    (a crop card's grid crops included)."""

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray]):
        self.predict, self.outputs, self.first = predict, [], None

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        if self.first is None:
            self.first = x[:1]
        out = np.asarray(self.predict(x), np.float32).reshape(-1)
        self.outputs.append(out)
        return out

    @property
    def raw(self) -> np.ndarray:
        """Every model input's raw output, in call order."""
        return np.concatenate(self.outputs) if self.outputs else np.zeros(0, np.float32)


def calibration_inputs(images: np.ndarray | list[np.ndarray], card: Card, seed: int = 0) -> np.ndarray:
    """Normalised model inputs to calibrate int8 on: training images as the model trained on them (one random crop
    each for a crop card, model_zoo.crops; else the whole image resized)."""
    spec = card.crop_spec
    if spec is None:
        return batch_to_model_input(images, card)
    rng = np.random.default_rng(seed)
    return normalize_for_card(np.stack([random_crop(np.asarray(image), spec[0], rng) for image in images]), card)


def _agreement(a: np.ndarray, b: np.ndarray, card: Card) -> float:
    return float(np.mean(labels_for(a, card) == labels_for(b, card))) if len(a) else 1.0


def _check_float(export: _Scored, reference_model: _Scored, raw: np.ndarray, loaded: LoadedModel,
                 reference: np.ndarray, sample: Sample) -> list[str]:
    """`raw`: the export's raw P(FAKE) per image; `export` and `reference_model` hold the per-input outputs."""
    prob = apply_temperature(raw, loaded.card.temperature)
    # The file's own output (the raw sigmoid) against the model's, input by input: a confident model's calibrated
    # scores round to exactly 0 or 1 in float32 and would hide a small difference.
    delta = float(np.max(np.abs(export.raw - reference_model.raw))) if len(export.raw) else 0.0
    line = (f"max |dP(FAKE)| {delta:.2g} (limit {FLOAT_MAX_DELTA:g}), decisions agree on "
            f"{_agreement(prob, reference, loaded.card):.2%}, on {sample.description}")
    if not delta <= FLOAT_MAX_DELTA:
        raise ExportError(line)
    return [line]


def _check_int8(raw: np.ndarray, loaded: LoadedModel, reference: np.ndarray, sample: Sample) -> list[str]:
    """`raw`: the int8 export's raw P(FAKE) per image; `reference`: the zoo model's calibrated P(FAKE)."""
    prob = apply_temperature(raw, loaded.card.temperature)
    keras_accuracy = float(np.mean(labels_for(reference, loaded.card) == sample.labels))
    int8_accuracy = float(np.mean(labels_for(prob, loaded.card) == sample.labels))
    drop = 100.0 * (keras_accuracy - int8_accuracy)
    # A sample too small to resolve the limit (one image is worth more than 0.3 points below
    # 334 images) may lose one image net: one flip in 60 is noise, not a worse model.
    one_image = 100.0 / max(len(sample.labels), 1)
    limit = INT8_MAX_DROP_POINTS + (one_image if one_image > INT8_MAX_DROP_POINTS else 0.0)
    line = (f"accuracy {int8_accuracy:.2%} vs {keras_accuracy:.2%} for model.keras: drop {drop:+.3f} points "
            f"(limit {limit:.3g}); decisions agree on {_agreement(prob, reference, loaded.card):.2%}, "
            f"max |dP(FAKE)| {float(np.max(np.abs(prob - reference))):.3f}, on {sample.description}")
    if not drop <= limit:
        raise ExportError(line)
    return [line]


def _check_serving(run: Callable[[list[bytes]], dict], loaded: LoadedModel, reference: np.ndarray,
                   sample: Sample) -> list[str]:
    outputs = [run(sample.encoded[i : i + CHUNK]) for i in range(0, len(sample.encoded), CHUNK)]
    prob = np.concatenate([o["prob_fake"] for o in outputs])
    label = np.concatenate([o["label"] for o in outputs])
    delta = float(np.max(np.abs(prob - reference)))
    agreement = _agreement(prob, reference, loaded.card)
    line = (f"from the encoded files: max |dP(FAKE)| {delta:.2g} (limit {SERVING_MAX_DELTA:g}), decisions agree on "
            f"{agreement:.2%} (limit {SERVING_MIN_AGREEMENT:.1%}), on {sample.description}")
    if not (delta <= SERVING_MAX_DELTA and agreement >= SERVING_MIN_AGREEMENT):
        raise ExportError(line)
    expected = np.where(prob >= loaded.card.threshold, "FAKE", "REAL")
    if not np.array_equal(label, expected):
        raise ExportError(f"the signature's label disagrees with its own prob_fake at threshold {loaded.card.threshold}")
    return [line]


def export_and_check(loaded: LoadedModel, fmt: str, out: Path, sample: Sample) -> ExportReport:
    """Write `fmt` for the model under `out`, check it against the zoo model on `sample`, then move it into place.

    Raises ExportError (nothing left behind) when the export does not reproduce the zoo model, ZooError when
    the model cannot have this format (no_export_reason).
    """
    if fmt not in formats.FORMATS:
        raise ValueError(f"format must be one of {formats.FORMATS}")
    reason = no_export_reason(loaded, fmt)
    if reason:
        raise ZooError(reason)
    model, card = loaded.model, loaded.card
    final = formats.artefact_path(out, loaded.name, fmt)
    staging = final.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{final.name}")
    staging.parent.mkdir(parents=True, exist_ok=True)
    reference_model = _Scored(model.predict_on_batch)  # one forward pass serves every check
    raw_reference = predict_raw_prob_fake(reference_model, sample.images, card)
    reference = apply_temperature(raw_reference, card.temperature)
    one_x = reference_model.first
    try:
        start = time.perf_counter()
        if fmt == "h5":
            formats.write_h5(model, staging)
        elif fmt == "savedmodel":
            formats.write_savedmodel(model, card, staging)
        else:
            calibration = calibration_inputs(sample.calibration, card) if fmt == "tflite-int8" else None
            formats.write_tflite(model, staging, calibration)
        export_seconds = time.perf_counter() - start
        if fmt == "savedmodel":
            one = sample.encoded[:1]
            with formats.served_savedmodel(staging) as run:
                checks = _check_serving(run, loaded, reference, sample)
                latency, keras_latency = paired_latency_ms(
                    lambda: run(one), lambda: predict_prob_fake(model, decode_for_card(one[0], card)[None], card))
            note = "encoded file -> P(FAKE) (model.keras: Pillow decode + resize + model + calibration)"
        else:
            runner = formats.load_h5(staging) if fmt == "h5" else formats.TFLiteRunner(staging)
            export = _Scored(runner)
            raw = predict_raw_prob_fake(export, sample.images, card)
            checks = (_check_int8(raw, loaded, reference, sample) if fmt == "tflite-int8"
                      else _check_float(export, reference_model, raw, loaded, reference, sample))
            latency, keras_latency = paired_latency_ms(lambda: runner(one_x), lambda: model.predict_on_batch(one_x))
            spec = card.crop_spec
            what = f"crop (the card scores up to {spec[1]} an image)" if spec else "image"
            note = f"one normalised {what} through the model (model.keras: predict_on_batch)"
        if final.exists():
            shutil.rmtree(final) if final.is_dir() else final.unlink()
        staging.rename(final)
    finally:
        if staging.exists():
            shutil.rmtree(staging) if staging.is_dir() else staging.unlink()
    return ExportReport(fmt=fmt, path=final, size_bytes=formats.artefact_bytes(final),
                        keras_size_bytes=loaded.entry.model_path.stat().st_size, latency_ms=latency,
                        keras_latency_ms=keras_latency, latency_note=note, export_seconds=export_seconds, checks=checks)
