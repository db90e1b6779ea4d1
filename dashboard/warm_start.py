"""Warm the inspect page before its first upload: its models loaded, their judging, evidence tests and heatmaps compiled.

The first visitor's upload then pays none of it.

A plain function of loaded models; dashboard/views/resources.py runs it once per process in a background thread when
the app starts (the first page does not wait). Every model pass here takes the judge's per-model lock
(model_zoo.judge.model_lock), as every other pass does, so a visitor's request never runs a Keras model at the same
time as the warm-up.
"""

from __future__ import annotations

import gc
import io
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

import numpy as np
from PIL import Image

from model_zoo import LoadedModel
from model_zoo.crops import crop_spec
from model_zoo.evidence import COUNTERFACTUAL_POINTS, evidence_for
from model_zoo.forward import raw_scores, trace
from model_zoo.inference import predict_prob_fake
from model_zoo.judge import judge, model_lock, model_locks
from model_zoo.saliency import explanation_map

HEATMAPS_SHOWN = 3  # the inspect page's default heatmap selection: the first three answering models
WARM_SIZE = 32  # CIFAKE's size: what a first upload most likely is, and every shipped model's input


def _blank_png(size: int = WARM_SIZE) -> bytes:
    """A mid-grey image with a little noise (a flat image can short-circuit nothing, but keeps maps trivial)."""
    pixels = np.random.default_rng(0).integers(96, 160, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _run_once(model: Any, input_shape: tuple[int, ...]) -> None:
    with model_lock(model):
        raw_scores(model, np.zeros((1, *input_shape), np.float32))


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while the warm-up loads. Keras allocates enough while it builds the 8 networks
    to trigger about 180 collections (gc.get_stats). Loading them took 3.4-4.2 s without them against 3.6-4.8 s with
    them (4 runs each, alternated); the warm-up's own report after a quiet launch, 8.3-10.9 s against 9.5-13.0 s.
    Loading keeps what it builds, so little garbage waits meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compile_as_loaded(load: Callable[[Any], Any], first_runs: Executor) -> Callable[[Any], Any]:
    """`load` (an entry -> its network), tracing each network as soon as it loads and running it once on
    `first_runs`, another thread. TensorFlow optimises a graph on its first run in C++, without Python's lock, so
    that overlaps the loading and tracing of the next network: on the zoo's eight, 1.8 s instead of 2.5 s."""

    def loader(entry: Any) -> Any:
        model = load(entry)
        with model_lock(model):
            traced = trace(model)
        if traced:
            first_runs.submit(_run_once, model, tuple(entry.card.input_shape))
        return model

    return loader


def warm_inspect(answering: Mapping[str, LoadedModel], explainer: str | None,
                 say: Callable[[str], None] = lambda _: None,
                 wanted: Callable[[], bool] = lambda: True) -> dict[str, float]:
    """Judge a small image with every answering model, run the evidence tests of `explainer` (the model the page
    explains in words) and compute the default heatmaps; returns the seconds each step took.

    Stops before the next step once `wanted()` is False (a visitor's upload is waiting): that upload warms the same
    things itself, and the two would only share the same two cores."""
    seconds: dict[str, float] = {}
    judged = None
    for step in ("judge", "evidence", "heatmaps"):
        if step == "evidence" and explainer not in answering:
            continue
        if not wanted():
            say(f"warm-up: an upload is waiting, and warms the rest itself; stopped before the {step}")
            break
        start = time.perf_counter()
        if step == "judge":
            judged = judge(_blank_png(), list(answering.values()), name="warm-up")
        elif step == "evidence":
            _warm_evidence(answering[explainer], judged)
        else:
            _warm_heatmaps(answering, judged)
        seconds[step] = time.perf_counter() - start
    if seconds:
        say("warm-up: " + ", ".join(f"{step} {value:.1f} s" for step, value in seconds.items()))
    return seconds


def _warm_evidence(loaded: LoadedModel, judged: Any) -> None:
    evidence_for(loaded, judged)
    # The bisection's later passes score COUNTERFACTUAL_POINTS blends, and TensorFlow prepares its kernels per batch
    # shape: run that batch size too (the blank image's verdict may not flip, and then evidence_for never does).
    blends = np.repeat(judged.seen[loaded.name][None], COUNTERFACTUAL_POINTS, axis=0)
    with model_locks(loaded.model):
        predict_prob_fake(loaded.model, list(blends) if crop_spec(loaded.card) else blends, loaded.card)


def _warm_heatmaps(answering: Mapping[str, LoadedModel], judged: Any) -> None:
    for name in list(answering)[:HEATMAPS_SHOWN]:
        loaded = answering[name]
        for target in ("FAKE", "REAL"):
            if getattr(loaded.model, "combines_members", False):  # locks its members itself
                explanation_map(loaded.model, loaded.card, judged.seen[name], "Grad-CAM", target)
            else:
                with model_lock(loaded.model):
                    explanation_map(loaded.model, loaded.card, judged.seen[name], "Grad-CAM", target)
