"""Judge images with a set of loaded zoo models: the one path from image files to verdicts.

The predict CLI, the JSON API and its upload page, the dashboard's inspect page and its HTML report
all call this, so an image gets the same verdicts wherever it is judged:
- each image is decoded once per distinct model input (model_zoo.preprocessing.decode_key), and
  its size as displayed is read for the input check;
- each model scores all images in one forward pass that also gives their novelty scores
  (model_zoo.novelty), one pass at a time per model (Keras models are not documented thread-safe);
- each verdict (model_zoo.verdicts.Verdict) carries the decision with its uncertain band
  (model_zoo.decision) and the input check (model_zoo.input_check);
- what the file's metadata claims (model_zoo.provenance) is read beside the verdicts, never inside them.

`judge_images` does it all; the predict CLI calls its two halves, `decode_images` (in threads) and
`judge_decoded`, to decode the next batch while the models score this one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model_zoo.consensus import base_models, consensus_verdict
from model_zoo.crops import crop_spec
from model_zoo.images import ImageError
from model_zoo.input_check import check_input, original_size
from model_zoo.novelty import load_stats, predict_with_novelty
from model_zoo.preprocessing import decode_for_card, input_size
from model_zoo.provenance import Provenance, read_provenance
from model_zoo.verdicts import Verdict, model_version, verdict_for
from model_zoo.zoo import LoadedModel

log = logging.getLogger(__name__)

Source = bytes | str | os.PathLike

_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def model_lock(model: Any) -> threading.Lock:
    """The lock that lets one thread at a time run this Keras model (judging here, Grad-CAM elsewhere)."""
    with _locks_guard:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.Lock()
        return lock


def model_locks(model: Any) -> ExitStack:
    """Hold model_lock of every Keras model `model` runs (a consensus: each of its members), as a context manager."""
    stack = ExitStack()
    members = model.members if getattr(model, "combines_members", False) else None
    for keras_model in [m.model for m in members] if members is not None else [model]:
        stack.enter_context(model_lock(keras_model))
    return stack


@dataclass(frozen=True)
class DecodedImages:
    """Sources decoded for a set of models: what each model will see, and why some cannot be judged."""

    names: tuple[str, ...]  # one per source, in order
    good: tuple[int, ...]  # positions of the sources that decoded
    inputs: dict[tuple, np.ndarray]  # decode key -> (len(good), H, W, 3) uint8, rows in `good`'s order
    sizes: tuple[tuple[int, int], ...]  # (width, height) as displayed, per good source
    errors: dict[int, str]  # position -> why that source cannot be judged
    provenance: tuple[Provenance, ...]  # per source
    seconds: float  # time spent decoding and reading metadata


@dataclass(frozen=True)
class JudgedImage:
    """One image: every model's verdict and exact input, or the one-line reason it could not be judged."""

    name: str
    verdicts: tuple[Verdict, ...] = ()
    seen: dict[str, np.ndarray] = field(default_factory=dict)  # model -> its (H, W, 3) uint8 input
    size: tuple[int, int] | None = None  # (width, height) as displayed
    error: str | None = None
    provenance: Provenance | None = None
    seconds: float = 0.0  # decoding and judging, this image's share


def _name(source: Source) -> str:
    return "upload" if isinstance(source, (bytes, bytearray)) else str(source)


def _decode_one(source: Source, name: str, keys: dict[tuple, dict]) -> tuple[dict[tuple, np.ndarray], tuple[int, int]]:
    decoded = {key: decode_for_card(source, card, name=name) for key, card in keys.items()}
    return decoded, original_size(source, name=name)


def decode_images(sources: Sequence[Source], models: Iterable[LoadedModel],
                  names: Sequence[str] | None = None) -> DecodedImages:
    """Decode each source once per distinct model input; a source that will not decode gets an error, not an exception."""
    start = time.perf_counter()
    models = list(models)
    keys = {m.card.decode_key: m.card for m in [*models, *base_models(models)]}  # a consensus's members too
    names = tuple(names) if names is not None else tuple(_name(s) for s in sources)
    good, sizes, errors, stacks = [], [], {}, {key: [] for key in keys}
    for position, (source, name) in enumerate(zip(sources, names, strict=True)):
        try:
            decoded, size = _decode_one(source, name, keys)
        except (ImageError, OSError) as exc:
            errors[position] = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - an image library's surprise is still the file's fault
            log.warning("decoding %s failed unexpectedly: %r", name, exc)
            errors[position] = f"{name}: could not decode image ({type(exc).__name__})"
            continue
        good.append(position)
        sizes.append(size)
        for key, image in decoded.items():
            stacks[key].append(image)
    # A crop card (model_zoo.crops) sees each image whole, at its own size: those stay a list.
    inputs = {key: stack if crop_spec(keys[key]) else np.stack(stack) if stack
              else np.zeros((0, *input_size(keys[key]), 3), np.uint8) for key, stack in stacks.items()}
    provenance = tuple(read_provenance(source, name=name) for source, name in zip(sources, names, strict=True))
    return DecodedImages(names, tuple(good), inputs, tuple(sizes), errors, provenance, time.perf_counter() - start)


def join_decoded(parts: Sequence[DecodedImages]) -> DecodedImages:
    """Consecutive parts (decoded in parallel) as one batch, positions counted over the whole."""
    names, good, sizes, errors, provenance, offset = [], [], [], {}, [], 0
    for part in parts:
        names += part.names
        good += [offset + position for position in part.good]
        sizes += part.sizes
        errors |= {offset + position: message for position, message in part.errors.items()}
        provenance += part.provenance
        offset += len(part.names)
    inputs = {key: [image for part in parts for image in part.inputs[key]] if isinstance(parts[0].inputs[key], list)
              else np.concatenate([part.inputs[key] for part in parts]) for key in parts[0].inputs} if parts else {}
    return DecodedImages(tuple(names), tuple(good), inputs, tuple(sizes), errors, tuple(provenance),
                         sum(part.seconds for part in parts))


Override = float | Mapping[str, float] | None


def _override_for(override: Override, name: str) -> float | None:
    return override.get(name) if isinstance(override, Mapping) else override


def judge_decoded(decoded: DecodedImages, models: Iterable[LoadedModel],
                  override: Override = None) -> list[JudgedImage]:
    """Every model's verdict on every decoded image, one JudgedImage per source in order.

    Each model decides at its card's threshold and band, or at `override` (one threshold for every model, or
    one per model name, e.g. model_zoo.operating_point's max-FPR thresholds; no band). A consensus
    (model_zoo.consensus) runs its members once each, shared with any member asked for by name.
    """
    models = list(models)
    start = time.perf_counter()
    by_model: list[dict[str, Verdict]] = [{} for _ in decoded.good]
    for loaded in base_models(models) if decoded.good else ():  # nothing decoded: no model needs to run
        images = decoded.inputs[loaded.card.decode_key]
        began = time.perf_counter()
        with model_lock(loaded.model):
            probs, novelty = predict_with_novelty(loaded.model, images, loaded.card, load_stats(loaded.entry))
        checks = [check_input(size, loaded.card, None if novelty is None else float(novelty[row]))
                  for row, size in enumerate(decoded.sizes)]
        per_image_ms = 1000 * (time.perf_counter() - began) / len(images)
        version = model_version(loaded.entry)
        for row, (prob, check) in enumerate(zip(probs, checks, strict=True)):
            by_model[row][loaded.name] = verdict_for(loaded.name, float(prob), loaded.card, check,
                                                     override=_override_for(override, loaded.name), version=version,
                                                     inference_time_ms=per_image_ms)
    verdicts: list[list[Verdict]] = [[] for _ in decoded.good]
    for loaded in models if decoded.good else ():
        members = getattr(loaded.model, "members", None) if getattr(loaded.model, "combines_members", False) else None
        version = model_version(loaded.entry) if members is not None else None
        for row, size in enumerate(decoded.sizes):
            verdicts[row].append(by_model[row][loaded.name] if members is None else consensus_verdict(
                loaded, [by_model[row][m.name] for m in members], size,
                override=_override_for(override, loaded.name), version=version))
    share = (decoded.seconds + time.perf_counter() - start) / max(1, len(decoded.names))
    rows = {position: row for row, position in enumerate(decoded.good)}
    judged = []
    for position, name in enumerate(decoded.names):
        provenance = decoded.provenance[position]
        if position in decoded.errors:
            judged.append(JudgedImage(name, error=decoded.errors[position], provenance=provenance, seconds=share))
            continue
        row = rows[position]
        seen = {m.name: decoded.inputs[m.card.decode_key][row] for m in models}
        judged.append(JudgedImage(name, tuple(verdicts[row]), seen, decoded.sizes[row], None, provenance, share))
    return judged


def judge_images(sources: Sequence[Source], models: Iterable[LoadedModel], names: Sequence[str] | None = None,
                 override: Override = None) -> list[JudgedImage]:
    """Decode and judge images (bytes or paths) with every model; see the module docstring."""
    models = list(models)
    return judge_decoded(decode_images(sources, models, names), models, override)


def judge(source: Source, models: Iterable[LoadedModel], name: str | None = None,
          override: Override = None) -> JudgedImage:
    """One image (an upload's bytes or a path) judged by every model.

    Concurrent calls with the same models and override (API requests, dashboard sessions) share one batch: the
    first to arrive judges every image queued meanwhile in one forward pass per model, which costs a CPU a
    third of single-image passes. An image's P(FAKE) in a batch matches its score alone to float32 rounding (the
    shipped zoo: at most 6e-7), as in the predict CLI's batches.
    """
    models = list(models)
    decoded = decode_images([source], models, None if name is None else [name])
    key = (tuple(id(m.model) for m in models),
           tuple(sorted(override.items())) if isinstance(override, Mapping) else override)
    job = _Job(decoded)
    with _locks_guard:
        batch = _batches.setdefault(key, _Batch())
    with batch.ready:
        batch.queue.append(job)
        while batch.busy and not job.done:  # a batch is running: wait for it, then the next takes everyone queued
            batch.ready.wait()
        if job.done:
            return job.result
        batch.busy, jobs, batch.queue = True, batch.queue, []
    results: list[JudgedImage] | None = None
    try:
        results = judge_decoded(join_decoded([j.decoded for j in jobs]), models, override)
    finally:  # on a failure the leader raises, and each follower judges its own image alone (below)
        with batch.ready:
            for position, j in enumerate(jobs):
                j.result, j.done = (None if results is None else results[position]), True
            batch.busy = False
            batch.ready.notify_all()
    if job.result is None:  # the batch failed: each caller judges its own image, so the error is its own
        return judge_decoded(decoded, models, override)[0]
    return job.result


@dataclass
class _Job:
    """One caller's decoded image waiting to be judged in a shared batch (judge), and its result."""

    decoded: DecodedImages
    result: JudgedImage | None = None
    done: bool = False


@dataclass
class _Batch:
    """The callers of judge with one set of models and override: who waits, and whether a batch is running."""

    ready: threading.Condition = field(default_factory=threading.Condition)
    queue: list[_Job] = field(default_factory=list)
    busy: bool = False


_batches: dict[tuple, _Batch] = {}


def warm_up(models: Iterable[LoadedModel]) -> None:
    """Judge a blank image of each model's input size now, so the first real request pays no compiling."""
    for loaded in base_models(models):  # a consensus compiles nothing of its own
        height, width = loaded.card.input_size
        inputs = {loaded.card.decode_key: np.zeros((1, height, width, 3), np.uint8)}
        judge_decoded(DecodedImages(("warm-up",), (0,), inputs, ((width, height),), {}, (Provenance(),), 0.0), [loaded])
