"""Evaluate zoo models on a folder of your own labelled images: DIR/REAL/ and DIR/FAKE/.

    python -m training.evaluate NAME|all --folder DIR [--set NAME]

Files may have any size and any format model_zoo.decode_image reads (JPEG, PNG, WebP, BMP, GIF, TIFF...), in
subfolders too; hidden files are ignored. Every image goes through the card's own preprocessing
(model_zoo.decode_for_card, the path of the CLI, API and dashboard) and the card's decision rule. A file that
cannot be read is reported by name and skipped, and counted. The metrics go into each entry's card under
"other_test_sets"/<set name> (model_zoo.test_sets), the folder's name unless --set says otherwise; running
again with the same name replaces that entry. Besides binary_metrics at the card's threshold they hold the
share the card's band calls UNCERTAIN, the share its novelty check finds out of distribution, and a
fingerprint of the images measured (folder_fingerprint), so two results can be told to be on the same images.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo import (
    ImageError,
    ZooEntry,
    binary_metrics,
    decode_for_card,
    load_model,
    read_card,
    staged_entry,
    write_card,
)
from model_zoo.card import Card
from model_zoo.decision import CLASS_NAMES, band_summary, expected_calibration_error
from model_zoo.novelty import load_stats, predict_with_novelty
from model_zoo.test_sets import with_test_set
from model_zoo.zoo import CARD_FILE
from training.lib.data import DatasetError
from training.lib.image_folders import labelled_members


@dataclass
class LabelledImages:
    """The readable images of a labelled folder, decoded once per model input format."""

    root: Path
    paths: list[Path]  # the files that decoded, in sorted order
    labels: np.ndarray  # 0 REAL, 1 FAKE
    images: dict[tuple, np.ndarray]  # format key -> (N, H, W, 3) uint8, aligned with paths
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why it could not be used)


def class_folders(root: str | os.PathLike) -> dict[int, Path]:
    """{0: REAL folder, 1: FAKE folder} that exist (names matched case-insensitively); DatasetError when neither does."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder (give a folder holding REAL/ and FAKE/ subfolders)")
    found = {}
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.upper() in CLASS_NAMES:
            found.setdefault(CLASS_NAMES.index(child.name.upper()), child)
    if not found:
        raise DatasetError(f"{root}: no REAL/ or FAKE/ subfolder; put real photos in {root}/REAL and AI-generated "
                           f"images in {root}/FAKE")
    return found


def labelled_files(root: str | os.PathLike) -> tuple[list[Path], np.ndarray]:
    """Every non-hidden file under a class folder, sorted, REAL first, with its label: REAL/ and FAKE/, or any
    layout training.lib.image_folders reads (real/fake, nature/ai, 0_real/1_fake, at any depth, under train/ or
    test/ too: all of them are scored)."""
    root = Path(root)
    if not root.is_dir():
        class_folders(root)  # its one-line error
    members = sorted(labelled_members(root), key=lambda member: (member[1], member[0]))
    if not members:
        class_folders(root)  # no class folder anywhere: its one-line error
        raise DatasetError(f"{root}: no files under its REAL/ or FAKE/ subfolders")
    return [root / name for name, _, _ in members], np.asarray([label for _, label, _ in members], dtype=int)


def _decode_one(path: Path, cards: Sequence[Card]) -> dict[tuple, np.ndarray] | str:
    """The file decoded for each distinct input format, or why it cannot be used."""
    decoded = {}
    try:
        for card in cards:
            key = card.decode_key
            if key not in decoded:
                decoded[key] = decode_for_card(path, card, name=str(path))
    except ImageError as exc:
        return str(exc)
    except OSError as exc:
        return f"{path}: cannot read ({exc.strerror or exc})"
    return decoded


def load_labelled_images(root: str | os.PathLike, cards: Sequence[Card],
                         workers: int | None = None) -> LabelledImages:
    """Decode every file of the folder for these cards; unreadable files are kept aside in `skipped`."""
    paths, labels = labelled_files(root)
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # Pillow releases the GIL while decoding
        results = list(pool.map(lambda p: _decode_one(p, cards), paths))
    kept = [i for i, result in enumerate(results) if not isinstance(result, str)]
    skipped = [(paths[i], result) for i, result in enumerate(results) if isinstance(result, str)]
    images = {}
    for key in {card.decode_key for card in cards}:
        height, width = key[0]
        stacked = [results[i][key] for i in kept]
        if key[1] == "crop":  # a crop card sees each image whole, at its own size (model_zoo.crops): a list
            images[key] = stacked
            continue
        images[key] = np.stack(stacked) if stacked else np.zeros((0, height, width, 3), np.uint8)
    if not kept:
        raise DatasetError(f"{root}: none of its {len(paths):,} file(s) under REAL/ and FAKE/ is a readable image"
                           + (f" (first problem: {skipped[0][1]})" if skipped else ""))
    return LabelledImages(Path(root), [paths[i] for i in kept], labels[kept], images, skipped)


def folder_fingerprint(paths: Sequence[Path], labels: np.ndarray, workers: int | None = None) -> str:
    """"sha256:<16 hex>" of the images' contents and labels: the same images under any names, order or folder give
    the same fingerprint; changing, adding, removing or relabelling one changes it."""
    def digest(path: Path) -> str:
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(block)
        return hasher.hexdigest()

    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        digests = list(pool.map(digest, paths))
    whole = hashlib.sha256("".join(sorted(f"{int(label)}:{d}\n" for label, d in zip(labels, digests, strict=True)))
                           .encode())
    return f"sha256:{whole.hexdigest()[:16]}"


def _share_novel(novelty: np.ndarray | None, card: Card) -> float | None:
    """Share of images above the card's novelty cut-off; None without novelty stats or when the check is not
    believed (model_zoo.input_check.untrusted_noise_share), as the input check of every verdict decides."""
    if novelty is None or card.untrusted_noise_share is not None or not len(novelty):
        return None
    return round(float(np.mean(novelty > float(card.novelty.cutoff))), 5)


def folder_result(entry: ZooEntry, model: Any, data: LabelledImages, today: datetime.date | None = None) -> dict:
    """The card record of one model on the folder: binary_metrics at the card's threshold, the shares UNCERTAIN
    and out of distribution, counts and date (the caller adds the folder's fingerprint)."""
    prob_fake, novelty = predict_with_novelty(model, data.images[entry.card.decode_key], entry.card, load_stats(entry))
    decide_at = entry.card.threshold
    metrics = binary_metrics(data.labels, prob_fake, decide_at)
    coverage = band_summary(data.labels, prob_fake, entry.card.uncertain_band)["coverage"]  # decide()'s rule
    return {
        **metrics,
        "share_uncertain": None if coverage is None else round(1 - coverage, 5),
        "share_out_of_distribution": _share_novel(novelty, entry.card),
        "n_real": int((data.labels == 0).sum()),
        "n_fake": int((data.labels == 1).sum()),
        "skipped": len(data.skipped),
        "threshold": decide_at,
        "ece": round(expected_calibration_error(data.labels, prob_fake), 5),
        "folder": str(data.root),
        "evaluated": (today or datetime.date.today()).isoformat(),
    }


def store_result(entry: ZooEntry, set_name: str, result: dict, zoo: str | os.PathLike | None = None) -> None:
    """Add the result to the entry's card atomically, on top of the card as it is now (not as it was read earlier)."""
    with staged_entry(entry.name, zoo, from_existing=True) as folder:
        write_card(folder, with_test_set(read_card(folder / CARD_FILE), set_name, result))


def set_name_for(root: str | os.PathLike, set_name: str | None = None) -> str:
    name = (set_name or Path(root).resolve().name).strip()
    if not name:
        raise DatasetError(f"{root}: give the test set a name with --set")
    return name


def evaluate_folder(entries: Sequence[ZooEntry], root: str | os.PathLike, zoo: str | os.PathLike | None = None,
                    set_name: str | None = None, today: datetime.date | None = None,
                    report=print) -> dict[str, dict]:
    """Score every entry on the folder, store each result in its card; returns name -> result."""
    name = set_name_for(root, set_name)
    data = load_labelled_images(root, [entry.card for entry in entries])
    if data.skipped:
        report(f"skipped {len(data.skipped):,} file(s) that could not be read:")
        for path, why in data.skipped:
            report(f"  {path}: {why.removeprefix(str(path) + ': ')}")
    present = sorted({int(label) for label in data.labels})
    if len(present) == 1:
        only = CLASS_NAMES[present[0]]
        report(f"note: only {only} images in {root}: ROC-AUC is undefined and accuracy is the share of them called {only}")
    fingerprint = folder_fingerprint(data.paths, data.labels)
    results = {}
    for entry in entries:
        result = {**folder_result(entry, load_model(entry), data, today), "fingerprint": fingerprint}
        store_result(entry, name, result, zoo)
        results[entry.name] = result
        report(result_line(entry, name, result))
    return results


def result_line(entry: ZooEntry, set_name: str, result: dict) -> str:
    """What the command prints for one model on the set."""
    cifake = entry.test_metrics or {}
    roc_auc = "n/a" if result["roc_auc"] is None else f"{result['roc_auc']:.4f}"
    versus = f"; CIFAKE test accuracy {cifake['accuracy']:.4f}" if cifake.get("accuracy") is not None else ""
    novel = result.get("share_out_of_distribution")
    return (f"{entry.name} on '{set_name}': accuracy {result['accuracy']:.4f}, ROC-AUC {roc_auc} on {result['n']:,} "
            f"images ({result['n_real']:,} REAL, {result['n_fake']:,} FAKE; {result['skipped']:,} skipped){versus}; "
            f"{result['share_uncertain']:.1%} UNCERTAIN, "
            + ("no novelty check believed" if novel is None else f"{novel:.1%} out of distribution (novelty)"))
