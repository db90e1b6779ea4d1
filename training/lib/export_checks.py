"""Export a zoo model and prove the export gives the zoo model's answers before it is kept.

Each format is written into a hidden staging path beside its destination, loaded back,
and compared with the zoo model on the same images (model_zoo.predict_prob_fake):
    h5, tflite     max |dP(FAKE)| <= 1e-4
    savedmodel     max |dP(FAKE)| <= 1e-2 and the same decision on >= 99.5% of images (its
                   preprocessing runs in the graph, from the encoded file, not through Pillow/OpenCV)
    tflite-int8    test-accuracy drop <= 0.3 points at the card's threshold
Only an export that passes is moved into place; the checks also time one image through the
export and through the zoo model, alternately, so both see the same load.
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
    batch_to_model_input,
    decode_for_card,
    decode_image,
    predict_prob_fake,
    predict_raw_prob_fake,
)
from model_zoo.decision import apply_temperature, labels_for, temperature, threshold
from training.lib import export_formats as formats

FLOAT_MAX_DELTA = 1e-4
SERVING_MAX_DELTA = 1e-2
SERVING_MIN_AGREEMENT = 0.995
INT8_MAX_DROP_POINTS = 0.3
CALIBRATION_IMAGES = 200  # int8 ranges settle well before this; more only slows the converter
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


def cifake_sample(data: str | None, n: int = 500, seed: int = 0) -> Sample:
    """n test images (0: all of them) drawn at random, and CALIBRATION_IMAGES training images, from CIFAKE."""
    from training.lib.data import load_cifake

    dataset = load_cifake(data)
    test, train = dataset.test, dataset.train
    rng = np.random.default_rng(seed)
    index = np.arange(len(test)) if n <= 0 or n >= len(test) else np.sort(rng.choice(len(test), n, replace=False))
    calibration = np.sort(rng.choice(len(train), min(CALIBRATION_IMAGES, len(train)), replace=False))
    paths = [test.paths[i] for i in index]
    return Sample(images=np.asarray(test.images[index]), encoded=_zip_bytes(Path(dataset.source), paths),
                  labels=np.asarray(test.labels[index]).astype(int), calibration=np.asarray(train.images[calibration]),
                  description=f"{len(index):,} CIFAKE test images from {dataset.source}")


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


def _in_chunks(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.concatenate([fn(x[i : i + CHUNK]) for i in range(0, len(x), CHUNK)]) if len(x) else np.zeros(0, np.float32)


def _agreement(a: np.ndarray, b: np.ndarray, card: dict) -> float:
    return float(np.mean(labels_for(a, card) == labels_for(b, card))) if len(a) else 1.0


def _check_float(runner: Callable[[np.ndarray], np.ndarray], loaded: LoadedModel, x: np.ndarray,
                 raw_reference: np.ndarray, reference: np.ndarray, sample: Sample) -> list[str]:
    raw = _in_chunks(runner, x)
    prob = apply_temperature(raw, temperature(loaded.card))
    # The file's own output (the raw sigmoid) against the model's: a confident model's calibrated scores
    # round to exactly 0 or 1 in float32 and would hide a small difference.
    delta = float(np.max(np.abs(raw - raw_reference))) if len(raw) else 0.0
    line = (f"max |dP(FAKE)| {delta:.2g} (limit {FLOAT_MAX_DELTA:g}), decisions agree on "
            f"{_agreement(prob, reference, loaded.card):.2%}, on {sample.description}")
    if not delta <= FLOAT_MAX_DELTA:
        raise ExportError(line)
    return [line]


def _check_int8(runner: Callable[[np.ndarray], np.ndarray], loaded: LoadedModel, x: np.ndarray,
                reference: np.ndarray, sample: Sample) -> list[str]:
    prob = apply_temperature(_in_chunks(runner, x), temperature(loaded.card))
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
    expected = np.where(prob >= threshold(loaded.card), "FAKE", "REAL")
    if not np.array_equal(label, expected):
        raise ExportError(f"the signature's label disagrees with its own prob_fake at threshold {threshold(loaded.card)}")
    return [line]


def export_and_check(loaded: LoadedModel, fmt: str, out: Path, sample: Sample) -> ExportReport:
    """Write `fmt` for the model under `out`, check it against the zoo model on `sample`, then move it into place.

    Raises ExportError (nothing left behind) when the export does not reproduce the zoo model.
    """
    if fmt not in formats.FORMATS:
        raise ValueError(f"format must be one of {formats.FORMATS}")
    model, card = loaded.model, loaded.card
    final = formats.artefact_path(out, loaded.name, fmt)
    staging = final.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{final.name}")
    staging.parent.mkdir(parents=True, exist_ok=True)
    raw_reference = predict_raw_prob_fake(model, sample.images, card)  # one forward pass serves every check
    reference = apply_temperature(raw_reference, temperature(card))
    x = batch_to_model_input(sample.images, card)
    one_x = x[:1]
    try:
        start = time.perf_counter()
        if fmt == "h5":
            formats.write_h5(model, staging)
        elif fmt == "savedmodel":
            formats.write_savedmodel(model, card, staging)
        else:
            calibration = batch_to_model_input(sample.calibration, card) if fmt == "tflite-int8" else None
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
            checks = (_check_int8(runner, loaded, x, reference, sample) if fmt == "tflite-int8"
                      else _check_float(runner, loaded, x, raw_reference, reference, sample))
            latency, keras_latency = paired_latency_ms(lambda: runner(one_x), lambda: model.predict_on_batch(one_x))
            note = "one normalised image through the model (model.keras: predict_on_batch)"
        if final.exists():
            shutil.rmtree(final) if final.is_dir() else final.unlink()
        staging.rename(final)
    finally:
        if staging.exists():
            shutil.rmtree(staging) if staging.is_dir() else staging.unlink()
    return ExportReport(fmt=fmt, path=final, size_bytes=formats.artefact_bytes(final),
                        keras_size_bytes=loaded.entry.model_path.stat().st_size, latency_ms=latency,
                        keras_latency_ms=keras_latency, latency_note=note, export_seconds=export_seconds, checks=checks)
