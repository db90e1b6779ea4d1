"""Why this verdict? Evidence tests for one image: the cue study's controlled changes applied to it alone.

For one image as a model sees it, each change (model_zoo.image_changes) is applied and P(FAKE) scored again:
low-pass at several cut-offs and a high-pass; the centre and the border hidden (matched pixel counts); the pixels
the model's own Grad-CAM ranks highest and lowest hidden; 8 and 4 px tile shuffles; grayscale; JPEG re-saves at
quality 90 and 70; a horizontal flip and a 1-pixel shift. model_zoo.evidence_words turns the numbers into sentences.

A crop-policy model (model_zoo.crops) is tested as it judges: every change is applied to each crop of its judging
grid, and a changed image's P(FAKE) is the mean logit of its changed crops. Every variant of every crop is scored in
one forward pass per model (a consensus: one per member), calibrated by the card as every verdict is.

The smallest change that flips the verdict: the smallest blend of the image toward its coarse-only version (the
lowest COUNTERFACTUAL_BANDS bands) that crosses the threshold, found by bisection (COUNTERFACTUAL_POINTS blends
scored per pass; the first rides in the tests' forward pass). The whole image is blended; the model judges it as
it judges any image.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model_zoo import image_changes as T
from model_zoo.card import Card
from model_zoo.crops import crop_spec, grid_crops
from model_zoo.cue_vocabulary import BANDS
from model_zoo.decision import label_name, threshold
from model_zoo.evidence_records import (
    COARSE_KEEP,
    COLOUR,
    FREQUENCY,
    GRADCAM_SHARE,
    HEATMAP,
    HIGHPASS_DROP,
    LAYOUT,
    LOCATION,
    LOWPASS_KEEP,
    RESAVE,
    STABILITY,
    Counterfactual,
    Evidence,
    TestResult,
)
from model_zoo.evidence_words import describe
from model_zoo.inference import crops_prob_fake, predict_prob_fake
from model_zoo.judge import model_locks

HIDDEN_SHARE = 0.5  # centre vs border: each hides half the pixels, so they split the image between them
TILES = (8, 4)
JPEG_QUALITIES = (90, 70)
SHIFT_PX = 1
SEED = 0  # the tile shuffles and Grad-CAM ties: the same image gets the same tests every time
COUNTERFACTUAL_BANDS = COARSE_KEEP  # the blend target: the coarse-only image the frequency sentence names
COUNTERFACTUAL_POINTS = 8  # blends scored per pass of the bisection
COUNTERFACTUAL_PASSES = 2  # the flip point to within 1/72 of the way; the first pass rides with the tests

@dataclass(frozen=True)
class Change:
    key: str
    family: str
    label: str
    apply: Callable[[np.ndarray, np.ndarray | None, np.random.Generator], np.ndarray]  # views, Grad-CAM maps, rng


def _changes() -> tuple[Change, ...]:
    rows = [Change("none", "unchanged", "the image as the model sees it", lambda v, s, r: v.copy())]
    rows += [Change(f"lowpass_{k}", FREQUENCY, f"coarse detail only (lowest {k} of {BANDS} frequency bands)",
                    lambda v, s, r, k=k: T.lowpass(v, k)) for k in LOWPASS_KEEP]
    rows.append(Change(f"highpass_{HIGHPASS_DROP}", FREQUENCY,
                       f"fine detail only (bands {HIGHPASS_DROP}-{BANDS - 1}, on grey)",
                       lambda v, s, r: T.highpass(v, HIGHPASS_DROP)))
    rows.append(Change("hide_border", LOCATION, f"border hidden (grey frame, {HIDDEN_SHARE:.0%} of the pixels)",
                       lambda v, s, r: T.fill_border(v, HIDDEN_SHARE)))
    rows.append(Change("hide_centre", LOCATION, f"centre hidden (grey box, {HIDDEN_SHARE:.0%} of the pixels)",
                       lambda v, s, r: T.fill_centre(v, HIDDEN_SHARE)))
    rows.append(Change("hide_gradcam_top", HEATMAP, f"the {GRADCAM_SHARE:.0%} of pixels Grad-CAM ranks highest hidden",
                       lambda v, s, r: T.fill_ranked(v, s, GRADCAM_SHARE, r, highest=True)))
    rows.append(Change("hide_gradcam_bottom", HEATMAP, f"the {GRADCAM_SHARE:.0%} of pixels Grad-CAM ranks lowest hidden",
                       lambda v, s, r: T.fill_ranked(v, s, GRADCAM_SHARE, r, highest=False)))
    rows += [Change(f"tiles_{t}", LAYOUT, f"{t} px tiles shuffled", lambda v, s, r, t=t: T.shuffle_tiles(v, t, r))
             for t in TILES]
    rows.append(Change("grayscale", COLOUR, "grayscale", lambda v, s, r: T.grayscale(v)))
    rows += [Change(f"jpeg_{q}", RESAVE, f"one JPEG re-save at quality {q}", lambda v, s, r, q=q: T.jpeg(v, q))
             for q in JPEG_QUALITIES]
    rows.append(Change("flip", STABILITY, "horizontal flip", lambda v, s, r: T.hflip(v)))
    rows.append(Change(f"shift_{SHIFT_PX}", STABILITY, f"{SHIFT_PX}-pixel shift (down and right)",
                       lambda v, s, r: T.shift(v, SHIFT_PX)))
    return tuple(rows)


CHANGES = _changes()
GRADCAM_KEYS = ("hide_gradcam_top", "hide_gradcam_bottom")


def applicable(height: int, width: int) -> tuple[tuple[Change, ...], dict[str, str]]:
    """The changes that mean what they say on height x width views, and why each other one is left out (a tile
    shuffle needs tiles that divide the view into two or more)."""
    kept, left_out = [], {}
    for change in CHANGES:
        if change.family == LAYOUT:
            tile = int(change.key.split("_")[1])
            if height % tile or width % tile or (height // tile) * (width // tile) < 2:
                left_out[change.key] = f"{tile} px tiles do not split the {width}x{height} view"
                continue
        kept.append(change)
    return tuple(kept), left_out


def _views(seen: np.ndarray, card: Card) -> np.ndarray:
    """What the model judges: the image itself, or its grid of crops (K, N, N, 3)."""
    spec = crop_spec(card)
    return grid_crops(seen, *spec)[0] if spec else seen[None]


def _score_views(model, card: Card, views: np.ndarray, per_image: int) -> np.ndarray:
    """Calibrated P(FAKE) of each group of `per_image` consecutive views: one forward pass per model."""
    n = len(views) // per_image
    with model_locks(model):
        if crop_spec(card):
            return crops_prob_fake(model, views, np.repeat(np.arange(n), per_image), n, card)
        return predict_prob_fake(model, views, card)


def _gradcam(model, card: Card, views: np.ndarray, verdict: str) -> np.ndarray:
    """The model's Grad-CAM of each view, explaining its verdict on the whole image (a consensus: its members' mean)."""
    from model_zoo.saliency import explanation_maps

    if getattr(model, "combines_members", False):  # locks its members itself
        return explanation_maps(model, card, views, "Grad-CAM", verdict, seed=SEED)
    with model_locks(model):
        return explanation_maps(model, card, views, "Grad-CAM", verdict, seed=SEED)


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(key.encode())])


def first_amounts() -> np.ndarray:
    """The blends of the bisection's first pass: 1/POINTS of the way, 2/POINTS, ..., the whole way (the target)."""
    return np.linspace(0.0, 1.0, COUNTERFACTUAL_POINTS + 1)[1:]


def counterfactual(model, card: Card, seen: np.ndarray, prob_fake: float, bands: int = COUNTERFACTUAL_BANDS,
                   first_pass: np.ndarray | None = None, target: np.ndarray | None = None) -> Counterfactual:
    """The smallest blend of the whole image toward its lowest-`bands` version that flips the verdict at `prob_fake`.

    The first pass scores first_amounts() (its P(FAKE)s may be given: evidence_tests scores them with the tests);
    each later pass scores COUNTERFACTUAL_POINTS blends inside the bracket where the verdict first flips. Where P(FAKE)
    is not monotonic in the blend this finds the first flip on the first pass's grid, then narrows it. A blend is
    pixelwise, so only what the model judges is blended (a crop model's crops of the image and of its coarse
    version); the whole image is blended once, for display."""
    seen = np.asarray(seen, np.uint8)
    cut = threshold(card)
    target = T.lowpass(seen[None], bands)[0] if target is None else target  # the coarse-only image
    views, target_views = _views(seen, card), _views(target, card)

    def score(amounts: np.ndarray) -> np.ndarray:
        return _score_views(model, card, T.blend(views, target_views, amounts), len(views))

    fake = prob_fake >= cut
    amounts = first_amounts()
    probs = score(amounts) if first_pass is None else np.asarray(first_pass)
    end = float(probs[-1])
    if (end >= cut) == fake:  # even the coarse image keeps the verdict: no blend flips it
        return Counterfactual(None, end, end, bands, target.copy(), target, seen)
    low, high, high_prob = 0.0, 1.0, end
    for step in range(COUNTERFACTUAL_PASSES):
        if step:
            amounts = np.linspace(low, high, COUNTERFACTUAL_POINTS + 2)[1:-1]
            probs = score(amounts)
        flipped = np.flatnonzero((probs >= cut) != fake)
        if len(flipped):
            first = flipped[0]
            high, high_prob = float(amounts[first]), float(probs[first])
            low = float(amounts[first - 1]) if first else low
        else:
            low = float(amounts[-1])
    image = T.blend(seen[None], target[None], np.array([high]))[0]
    return Counterfactual(high, high_prob, end, bands, image, target, seen)


Explainer = Callable[[np.ndarray, str], np.ndarray]  # (views (K, H, W, 3) uint8, class) -> maps (K, H, W)


def evidence_tests(model, card: Card, seen: np.ndarray, *, name: str, prob_fake: float | None = None,
                   with_counterfactual: bool = True, explain: Explainer | None = None) -> Evidence:
    """Every evidence test of one image ((H, W, 3) uint8, as the model sees it: model_zoo.judge's `seen`).

    `model` is a loaded zoo model or a consensus (model_zoo.consensus.ConsensusModel); `prob_fake` its verdict's
    P(FAKE) when the caller has it (it is recomputed otherwise, and must agree). `explain` gives the maps the
    Grad-CAM tests rank pixels by (default: the model's own Grad-CAM). The sentences come from
    model_zoo.evidence_words.describe.
    """
    began = time.perf_counter()
    seen = np.asarray(seen, np.uint8)
    views = _views(seen, card)
    changes, left_out = applicable(*views.shape[1:3])
    batch = [changes[0].apply(views, None, _rng("none"))]
    base = float(_score_views(model, card, batch[0], len(views))[0]) if prob_fake is None else float(prob_fake)
    verdict = label_name(base, card)
    maps = explain(views, verdict) if explain is not None else _gradcam(model, card, views, verdict)
    batch = [change.apply(views, maps, _rng(change.key)) for change in changes]
    blends = coarse = None
    if with_counterfactual:  # the bisection's first pass rides in the same forward pass
        coarse = T.lowpass(seen[None], COUNTERFACTUAL_BANDS)[0]
        blends = T.blend(views, _views(coarse, card), first_amounts())
        batch.append(blends)
    probs = _score_views(model, card, np.concatenate(batch), len(views))
    first_pass = probs[len(changes):] if blends is not None else None  # one P(FAKE) per blend
    cut = threshold(card)
    tests = tuple(TestResult(c.key, c.family, c.label, float(p), label_name(float(p), cut))
                  for c, p in zip(changes, probs[: len(changes)], strict=True))
    flip = counterfactual(model, card, seen, base, first_pass=first_pass, target=coarse) if with_counterfactual \
        else None
    evidence = Evidence(name, base, cut, verdict, tests, len(views), left_out, flip,
                        0.0)
    sentences, stability = describe(evidence)
    return Evidence(evidence.model, base, cut, verdict, tests, len(views), left_out, flip,
                    time.perf_counter() - began, sentences, stability)


def evidence_for(loaded, judged) -> Evidence:
    """The evidence tests of one judged image (model_zoo.judge.JudgedImage) under one of the models that judged it
    (a LoadedModel), at the P(FAKE) of that model's verdict."""
    verdict = next((v for v in judged.verdicts if v.model == loaded.name), None)
    if verdict is None or loaded.name not in judged.seen:
        raise ValueError(f"{judged.name} was not judged by {loaded.name}")
    return evidence_tests(loaded.model, loaded.card, judged.seen[loaded.name], name=loaded.name,
                          prob_fake=verdict.prob_fake)
