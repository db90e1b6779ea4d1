"""Faithfulness of each heatmap method on a seeded test sample: the library behind `python -m training.faithfulness`.

A model is measured on its own test split (CIFAKE's, or the labelled folder's it was trained on), each image as the
model sees it (training/lib/study_images.py: a folder image resized for a resize card, the judge's central grid crop
for a crop card).
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from model_zoo import load_model, read_entry, staged_entry
from model_zoo.card import Card
from model_zoo.decision import CLASS_NAMES, labels_for
from model_zoo.faithfulness_measures import (
    BLUR_SIGMA,
    REMOVAL,
    SANITY_MAX_RHO,
    STEPS,
    curve_auc,
    deletion_insertion,
    paired_gain,
    random_order,
    rank_correlation,
    reinitialised,
    saliency_order,
)
from model_zoo.inference import predict_prob_fake
from model_zoo.saliency import METHODS, explanation_maps
from model_zoo.zoo import CLASS_HEATMAPS_FILE, FAITHFULNESS_FILE
from training.lib.class_heatmaps import PER_GROUP, class_mean_heatmaps, prob_fake_on_test
from training.lib.data import Dataset, Split, stratified_sample
from training.lib.image_folders import check_trained_on
from training.lib.study_images import decoded, judged_images, model_view, own_test_set

VERSION = 1


PER_CLASS = 50


SANITY_IMAGES = 20


RANDOM = "random"


Progress = Callable[[str], None]


def _sanity_subset(labels: np.ndarray, count: int) -> np.ndarray:
    """The first count/2 images of each class in the sample (the randomisation check needs fewer)."""
    half = max(1, count // 2)
    return np.concatenate([np.flatnonzero(labels == label)[:half] for label in range(len(CLASS_NAMES))])


def _mean_curve(curves: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in np.asarray(curves).mean(axis=0)]


def _finite(value: float, digits: int = 5) -> float | None:
    return round(float(value), digits) if math.isfinite(value) else None


def rank_methods(methods: dict[str, dict]) -> list[str]:
    """Methods that pass the sanity check first, then by AUC gained over random order (best first)."""
    return sorted(methods, key=lambda m: (not methods[m]["passes_sanity"], -(methods[m]["score"] or 0.0), m))


def faithfulness_report(model, card: Card, sample: Split, *, seed: int = 0, steps: int = STEPS,
                        sanity_images: int = SANITY_IMAGES, methods: tuple[str, ...] = METHODS,
                        progress: Progress | None = None) -> dict:
    """Deletion/insertion against random order and the randomisation check for each method, as a JSON-able dict."""
    say = progress or (lambda _: None)
    images, labels = np.asarray(sample.images), np.asarray(sample.labels).astype(int)
    prob_fake = predict_prob_fake(model, images, card)
    predicted = labels_for(prob_fake, card)
    targets = [CLASS_NAMES[p] for p in predicted]
    rng = np.random.default_rng(seed)
    pixels = images.shape[1] * images.shape[2]

    maps, orders, map_seconds = {}, {RANDOM: random_order(len(images), pixels, rng)}, {}
    for method in methods:
        start = time.time()
        maps[method] = explanation_maps(model, card, images, method, targets, seed=seed)
        map_seconds[method] = time.time() - start
        orders[method] = saliency_order(maps[method], rng)
        say(f"  {method}: {len(images)} maps in {map_seconds[method]:.1f} s")
    start = time.time()
    curves = deletion_insertion(model, card, images, predicted == 1, orders, steps)
    say(f"  deletion and insertion curves, {len(orders)} orders x {steps + 1} points: {time.time() - start:.1f} s")

    subset = _sanity_subset(labels, sanity_images)
    start = time.time()
    random_model = reinitialised(model, seed)
    rho = {method: rank_correlation(maps[method][subset], explanation_maps(
        random_model, card, images[subset], method, [targets[i] for i in subset], seed=seed)) for method in methods}
    say(f"  randomisation check on {len(subset)} images: {time.time() - start:.1f} s")

    random_del, random_ins = (curve_auc(c) for c in curves[RANDOM])
    results = {}
    for method in methods:
        deletion, insertion = (curve_auc(c) for c in curves[method])
        del_gain, del_se = paired_gain(random_del, deletion)
        ins_gain, ins_se = paired_gain(insertion, random_ins)
        score, score_se = paired_gain(random_del - deletion + insertion, random_ins)
        mean_rho, rho_se = paired_gain(rho[method], np.zeros_like(rho[method]))  # mean and its standard error
        results[method] = {
            "deletion_auc": _finite(deletion.mean()), "insertion_auc": _finite(insertion.mean()),
            "deletion_gain": _finite(del_gain), "deletion_gain_se": _finite(del_se),
            "insertion_gain": _finite(ins_gain), "insertion_gain_se": _finite(ins_se),
            "score": _finite(score), "score_se": _finite(score_se),
            "beats_random": bool(math.isfinite(score_se) and score - 2 * score_se > 0),
            "randomisation_rho": _finite(mean_rho), "randomisation_rho_se": _finite(rho_se),
            "passes_sanity": bool(mean_rho < SANITY_MAX_RHO),
            "deletion_curve": _mean_curve(curves[method][0]), "insertion_curve": _mean_curve(curves[method][1]),
            "map_seconds": round(map_seconds[method], 2),
        }
    return {
        "version": VERSION,
        "model": card.name,
        "sample": {"n": len(images), "per_class": {c: int((labels == i).sum()) for i, c in enumerate(CLASS_NAMES)},
                   "seed": seed, "accuracy": _finite(float(np.mean(predicted == labels))), "paths": list(sample.paths)},
        "removal": {"how": REMOVAL, "sigma_px": BLUR_SIGMA, "steps": steps,
                    "tracked": "calibrated probability of the predicted class (P(FAKE) for images called FAKE)"},
        "sanity": {"check": "model randomisation (Adebayo et al. 2018)", "images": len(subset), "reinit_seed": seed,
                   "statistic": "mean Spearman rank correlation between trained and re-initialised maps",
                   "fails_at": SANITY_MAX_RHO},
        "random": {"deletion_auc": _finite(random_del.mean()), "insertion_auc": _finite(random_ins.mean()),
                   "deletion_curve": _mean_curve(curves[RANDOM][0]), "insertion_curve": _mean_curve(curves[RANDOM][1])},
        "methods": results,
        "ranking": rank_methods(results),
    }


def evaluate_faithfulness(name: str, dataset: Dataset, zoo: str | os.PathLike | None = None, *, model=None,
                          per_class: int = PER_CLASS, seed: int = 0, steps: int = STEPS,
                          sanity_images: int = SANITY_IMAGES, per_group: int = PER_GROUP,
                          progress: Progress | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """Measure one entry and publish faithfulness.json and class_heatmaps.npz into it atomically.

    `dataset`: CIFAKE, or the labelled folder the entry was trained on (its split rebuilt from the card,
    image_folders.load_labelled_data); anything else raises ZooError. A folder's sample is decoded to the model's
    view (study_images.model_view), and so are the images the class-mean heatmaps average; the verdicts that group
    them are the judge's (the entry's test_predictions.csv, else the model run over the split as the judge scores
    it). A folder model's outputs also record its test set and view ("test_set", "view"); CIFAKE's stay as before.
    """
    entry = read_entry(name, zoo)
    check_trained_on(entry.card, dataset)
    model = model if model is not None else load_model(entry)
    start = time.time()
    test = model_view(dataset.test, entry.card)  # CIFAKE: the test arrays themselves
    sample = decoded(test.subset(stratified_sample(test.labels, per_class, seed)))
    report = faithfulness_report(model, entry.card, sample, seed=seed, steps=steps, sanity_images=sanity_images,
                                 progress=progress)
    judged = judged_images(dataset.test, entry.card)
    prob_fake, source = prob_fake_on_test(model, entry.card, judged.images, test.paths, entry.test_predictions())
    heatmaps = class_mean_heatmaps(model, entry.card, test.images, test.labels, prob_fake, per_group, seed, progress)
    heatmaps["verdicts_from"] = np.array(source)
    report.update(dataset=str(dataset.source), created=datetime.now(UTC).isoformat(timespec="seconds"),
                  seconds=round(time.time() - start, 1))
    own = own_test_set(entry.card, dataset)
    if own:
        report.update(own)
        heatmaps["test_set"] = np.array(own["test_set"])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **heatmaps)
    with staged_entry(name, zoo, from_existing=True) as folder:
        (folder / FAITHFULNESS_FILE).write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
        (folder / CLASS_HEATMAPS_FILE).write_bytes(buffer.getvalue())
    return report, heatmaps


def format_report(name: str, report: dict) -> str:
    random = report["random"]
    own = f" {report['test_set']}" if report.get("test_set") else ""  # a folder model's own test images
    lines = [f"{name}: faithfulness on {report['sample']['n']}{own} test images (random order: deletion AUC "
             f"{random['deletion_auc']:.3f}, insertion AUC {random['insertion_auc']:.3f}; lower deletion and "
             f"higher insertion are better)",
             f"  {'rank':<5}{'method':<12}{'deletion':>9}{'insertion':>10}{'gain':>8}  {'rho':>6}  sanity"]
    for rank, method in enumerate(report["ranking"], 1):
        r = report["methods"][method]
        gain = f"{r['score']:+.3f}" if r["score"] is not None else "n/a"
        lines.append(f"  {rank:<5}{method:<12}{r['deletion_auc']:>9.3f}{r['insertion_auc']:>10.3f}{gain:>8}  "
                     f"{r['randomisation_rho']:>6.2f}  {'passes' if r['passes_sanity'] else 'FAILS'}"
                     f"{'' if r['beats_random'] else ' (not better than random order)'}")
    return "\n".join(lines)

