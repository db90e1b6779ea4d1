"""Any labelled folder or zip of images as a dataset: layouts, a reproducible split, and streaming.

Which class a file is in comes from the nearest folder above it named (case-insensitively)
    REAL / FAKE,  real / fake,  nature / ai (GenImage),  0_real / 1_fake (CNNDetection: car/0_real, ...)
at any depth. A folder named train/, val/ (validation/) or test/ above the class folder puts the file in
that split. Missing splits are made here: a seeded split, stratified by class, that keeps exact duplicates
(files with the same bytes) on one side; how it was made is returned (Dataset.split) and goes into the card,
so `training.evaluate` rebuilds the same test split.

Every file is read once when the dataset is opened (its SHA-1, its size, and a cheap draft decode that
finds truncated or corrupt files, which are reported by name and skipped). Pixels are never all held in
memory: `stream` decodes on the fly in a parallel tf.data pipeline, and the splits' `images` decode on
access (FolderImages). CIFAKE (32x32 images in train/ and test/) still goes through training.lib.data.load_cifake,
cache and all (`load_labelled_data` picks). `dataset_attributes` measures either kind's images once
(training.lib.data.load_attributes), a folder's content class being the sub-folder above its class folders
(model_zoo.image_attributes.folder_content_class: CNNDetection's car/0_real gives "car").
"""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model_zoo.card import Card
from model_zoo.crops import center_crop, random_crop
from model_zoo.decision import CLASS_NAMES
from model_zoo.image_attributes import CLASS_ALIASES, SPLIT_ALIASES, folder_content_class
from model_zoo.images import ImageError, decode_image
from model_zoo.preprocessing import decode_for_card, normalization
from model_zoo.zoo import ZooError
from training.lib.data import (
    IMAGE_SIZE,
    Dataset,
    DatasetError,
    Progress,
    Split,
    _list_members,
    _open_zip,
    load_attributes,
    load_cifake,
    resolve_data_path,
    skipped_lines,
    stderr_progress,
    train_validation_split,
)

LAYOUT_HINT = ("class folders named REAL/FAKE, real/fake, nature/ai or 0_real/1_fake (at any depth, optionally "
               "under train/, val/ and test/)")
TEST_FRACTION = 0.2  # of the whole, when the data has no test/ folder
SPLIT_SEED = 0  # fixed: every model trained on a folder is tested on the same images
MIN_PER_CLASS = 20  # per class in all, or per class in train/ when the data brings its own splits
# The UNCERTAIN band calls a side only when validation shows >= 100 images of it at 99% precision
# (model_zoo.decision._side_cut), so a small folder's validation share grows until each class has about
# this many there (never beyond MAX_VALIDATION_FRACTION): with 10% of 1,000 images every verdict would abstain.
BAND_MINIMUM = 100  # validation images a side needs for a 99%-precision verdict (model_zoo.decision._side_cut)
MIN_VALIDATION_PER_CLASS = 150
MAX_VALIDATION_FRACTION = 0.4  # 250 images a class still get 100 in validation; a frozen head learns from the rest


DEFAULT_VALIDATION_FRACTION = 0.1


def validation_fraction_for(requested: float, smallest_class: int) -> float:
    """The share of each class held out for validation when none is asked for: `requested` (the default), raised
    for small folders (above)."""
    if smallest_class <= 0:
        return requested
    wanted = min(MAX_VALIDATION_FRACTION, MIN_VALIDATION_PER_CLASS / smallest_class)
    return round(max(requested, wanted), 3)
SCAN_WORKERS = 4
NOVELTY_SAMPLE = 2000  # training images the novelty statistics of a folder model are fitted on (decoded again)


@dataclass
class FolderReader:
    """Reads the files of one folder or zip; decodes them for `card` once training has chosen one."""

    source: Path
    names: list[str]  # member names (zip) or paths relative to the folder, one per row
    card: Card | None = None
    failed: dict[str, str] = field(default_factory=dict)  # files that would not decode while streaming
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def read(self, row: int) -> bytes:
        name = self.names[row]
        if not self.source.is_file():
            return (self.source / name).read_bytes()
        archive = getattr(self._local, "archive", None)
        if archive is None:  # a ZipFile is not safe to share between threads
            archive = self._local.archive = zipfile.ZipFile(self.source)
        return archive.read(name)

    def decode(self, row: int) -> np.ndarray:
        """What the card's model sees of this file (model_zoo.decode_for_card), or the whole image without a card."""
        data, name = self.read(row), self.names[row]
        return decode_for_card(data, self.card, name=name) if self.card else decode_image(data, name=name)

    def note_failure(self, row: int, reason: str) -> None:
        with self._lock:
            self.failed[self.names[row]] = reason


class FolderImages(Sequence):
    """The images of some rows of a folder, decoded on access: reads as an array of what the model sees
    (model_zoo.decode_for_card for the reader's card); a slice or index array of equal-sized images comes
    back stacked, of different sizes (a crop card's whole images) as a list."""

    def __init__(self, reader: FolderReader, rows: np.ndarray):
        self.reader, self.rows = reader, np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, index) -> FolderImages:
        return FolderImages(self.reader, self.rows[index])

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self._decode(int(self.rows[key]))
        rows = self.rows[key]
        with ThreadPoolExecutor(max_workers=min(SCAN_WORKERS, os.cpu_count() or 1)) as pool:
            images = list(pool.map(self._decode, rows.tolist()))
        if images and all(image.shape == images[0].shape for image in images):
            return np.stack(images)
        return images

    def _decode(self, row: int) -> np.ndarray:
        try:
            return self.reader.decode(row)
        except (ImageError, OSError) as exc:
            raise DatasetError(f"{self.reader.source / self.reader.names[row]}: {exc}") from None


@dataclass
class FolderSplit(Split):
    """A Split whose images stay on disk (FolderImages); subsets are views, never copies."""

    def subset(self, index: np.ndarray) -> FolderSplit:
        index = np.asarray(index)
        return FolderSplit(self.images.take(index), self.labels[index], [self.paths[i] for i in index],
                           None if self.digests is None else self.digests[index])


@dataclass
class FolderDataset(Dataset):
    """A labelled folder: `train` holds train and validation rows (`validation` indexes the latter),
    `split` says how the split was made (for the card), `sizes` the (height, width) of every usable file."""

    validation: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    split: dict = field(default_factory=dict)
    reader: FolderReader | None = None
    sizes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))

    def summary(self) -> str:
        n_val = len(self.validation)
        lines = [f"images at {self.source} ({self.split.get('how')})"]
        train_labels = np.delete(self.train.labels, self.validation)
        for name, labels in (("train", train_labels), ("validation", self.train.labels[self.validation]),
                             ("test", self.test.labels)):
            lines.append(f"  {name}: " + ", ".join(f"{c} {int((labels == i).sum()):,}" for i, c in enumerate(CLASS_NAMES)))
        if n_val and self.split.get("duplicates_grouped"):
            lines.append(f"  {self.split['duplicates_grouped']:,} file(s) share their bytes with another; "
                         "each group is kept on one side of the split")
        heights, widths = self.sizes[:, 0], self.sizes[:, 1]
        lines.append(f"  sizes {widths.min()}x{heights.min()} to {widths.max()}x{heights.max()} pixels")
        return "\n".join(lines + skipped_lines(self.skipped))


def class_of(parts: Sequence[str]) -> int | None:
    """0 (REAL) or 1 (FAKE) from the nearest class folder in a file's path parts (file name last), else None."""
    for part in reversed(parts[:-1]):
        label = CLASS_ALIASES.get(part.lower())
        if label is not None:
            return label
    return None


def split_of(parts: Sequence[str]) -> str | None:
    """"train", "val" or "test" from the nearest split folder in a file's path parts, else None."""
    for part in reversed(parts[:-1]):
        split = SPLIT_ALIASES.get(part.lower())
        if split is not None:
            return split
    return None


def dataset_attributes(dataset: Dataset, progress: Progress = stderr_progress) -> pd.DataFrame:
    """Every train and test image's attributes (training.lib.data.load_attributes): CIFAKE's content class from
    its file names, a folder's from its sub-folders (folder_content_class)."""
    folder = isinstance(dataset, FolderDataset)
    return load_attributes(dataset, content=folder_content_class if folder else None, progress=progress)


def _hidden(parts: Sequence[str]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def labelled_members(source: str | os.PathLike) -> list[tuple[str, int, str | None]]:
    """(name in the folder or zip, label, split or None) of every non-hidden file under a class folder, sorted."""
    source = Path(source)
    if source.is_file():
        with _open_zip(source) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
    elif source.is_dir():
        names = [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]
    else:
        raise DatasetError(f"{source}: no such folder or zip (give one with {LAYOUT_HINT})")
    members = []
    for name in sorted(names):
        parts = name.replace("\\", "/").split("/")
        label = None if _hidden(parts) else class_of(parts)
        if label is not None:
            members.append((name, label, split_of(parts)))
    return members


@dataclass(frozen=True)
class _Scanned:
    digest: str  # SHA-1 of the bytes; "" when unreadable
    size: tuple[int, int] | None  # (height, width) as displayed, None when unusable
    problem: str | None


def _scan_one(reader: FolderReader, row: int) -> _Scanned:
    name = reader.names[row]
    try:
        data = reader.read(row)
    except OSError as exc:
        return _Scanned("", None, f"{name}: cannot read ({exc})")
    digest = hashlib.sha1(data).hexdigest()
    try:
        # A draft decode (JPEG at 1/8 scale) still reads every byte: it finds truncated and corrupt files cheaply.
        decode_image(data, name=name, min_size=(1, 1))
        from model_zoo.input_check import original_size

        width, height = original_size(data, name=name)
    except ImageError as exc:
        return _Scanned(digest, None, str(exc))
    return _Scanned(digest, (height, width), None)


def grouped_split(labels: np.ndarray, groups: Sequence[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held) indices: about `fraction` of each class held out, whole groups at a time (files with the
    same bytes stay together), chosen with `seed`. Both in ascending order."""
    labels = np.asarray(labels)
    group_label: dict[str, int] = {}
    members: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        group_label.setdefault(group, int(labels[i]))  # a group that spans both classes follows its first file
        members.setdefault(group, []).append(i)
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for label in (0, 1):
        class_groups = sorted(g for g, lab in group_label.items() if lab == label)
        want = round(fraction * sum(len(members[g]) for g in class_groups))
        taken = 0
        for position in rng.permutation(len(class_groups)):
            group = class_groups[position]
            size = len(members[group])
            if abs(taken + size - want) < abs(taken - want):  # only groups that bring the count closer
                held += members[group]
                taken += size
    held_index = np.array(sorted(held), dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), held_index)
    return kept, held_index


def _class_folders(names: Sequence[str], labels: np.ndarray, label: int, limit: int = 3) -> str:
    folders = sorted({str(Path(n).parent) for n, lab in zip(names, labels, strict=True) if lab == label})
    shown = ", ".join(folders[:limit]) + (f" and {len(folders) - limit} more" if len(folders) > limit else "")
    return shown or f"(no {CLASS_NAMES[label]} folder)"


def _check_counts(source: Path, names: list[str], labels: np.ndarray, where: str) -> None:
    for label, class_name in enumerate(CLASS_NAMES):
        count = int((labels == label).sum())
        if count < MIN_PER_CLASS:
            raise DatasetError(
                f"{source}: {_class_folders(names, labels, label)}: only {count} usable {class_name} image(s){where}; "
                f"at least {MIN_PER_CLASS} per class are needed to train, validate and test (expected {LAYOUT_HINT})")


def load_image_folder(path: str | os.PathLike, *, validation_fraction: float | None = None, test_fraction: float = TEST_FRACTION,
                      split_seed: int = SPLIT_SEED, progress: Progress = stderr_progress,
                      workers: int | None = None) -> FolderDataset:
    """Open a labelled folder or zip (see the module docstring); raises DatasetError naming what is wrong."""
    source = resolve_data_path(path)
    members = labelled_members(source)
    if not members:
        raise DatasetError(f"{source}: no images found (expected {LAYOUT_HINT})")
    given = {split for _, _, split in members if split}
    if given and any(split is None for _, _, split in members):
        stray = next(name for name, _, split in members if split is None)
        raise DatasetError(f"{source}: {stray} is in no train/, val/ or test/ folder while other files are; put "
                           "every class folder under one of them, or none")
    reader = FolderReader(source, [m[0] for m in members])
    progress(f"reading {len(members):,} files under {source} (checksums, sizes, a quick decode)")
    with ThreadPoolExecutor(max_workers=workers or min(SCAN_WORKERS, os.cpu_count() or 1)) as pool:
        scanned = list(pool.map(lambda row: _scan_one(reader, row), range(len(members))))
    skipped = [s.problem for s in scanned if s.problem]
    for reason in skipped:
        progress(f"skipped {reason}")
    usable = [i for i, s in enumerate(scanned) if not s.problem]
    names = [members[i][0] for i in usable]
    labels = np.array([members[i][1] for i in usable], dtype=np.uint8)
    splits = [members[i][2] or "pool" for i in usable]
    digests = np.array([scanned[i].digest for i in usable], dtype="<U40")
    sizes = np.array([scanned[i].size for i in usable], dtype=np.int64).reshape(-1, 2)
    reader.names = names

    pool_rows = np.array([i for i, s in enumerate(splits) if s in ("pool", "train")], dtype=np.int64)
    _check_counts(source, [names[i] for i in pool_rows], labels[pool_rows],
                  " in train/" if "train" in given else "")
    how = []
    test_rows = np.array([i for i, s in enumerate(splits) if s == "test"], dtype=np.int64)
    if not len(test_rows):
        kept, held = grouped_split(labels[pool_rows], digests[pool_rows], test_fraction, split_seed)
        pool_rows, test_rows = pool_rows[kept], pool_rows[held]
        how.append(f"test: {test_fraction:g} of each class, seed {split_seed}")
    else:
        how.append("test: the test/ folder")
    val_rows = np.array([i for i, s in enumerate(splits) if s == "val"], dtype=np.int64)
    if not len(val_rows):
        if "test" not in given:  # the fraction is of the whole folder, before the test split
            smallest = int(np.bincount(labels[np.concatenate([pool_rows, test_rows])], minlength=2).min())
        else:
            smallest = int(np.bincount(labels[pool_rows], minlength=2).min())
        if validation_fraction is None:  # not asked for: the default, or more for a small folder
            asked = DEFAULT_VALIDATION_FRACTION
            validation_fraction = validation_fraction_for(asked, smallest)
        else:
            asked = validation_fraction
        if validation_fraction > asked:
            progress(f"validation: {validation_fraction:g} of each class instead of {asked:g}, so the UNCERTAIN band "
                     f"has about {MIN_VALIDATION_PER_CLASS} images a class to be fitted on (a val/ folder overrides this)")
        share = validation_fraction / (1 - test_fraction) if "test" not in given else validation_fraction
        kept, held = grouped_split(labels[pool_rows], digests[pool_rows], share, split_seed + 1)
        pool_rows, val_rows = pool_rows[kept], pool_rows[held]
        how.append(f"validation: {validation_fraction:g} of each class, seed {split_seed + 1}")
    else:
        how.append("validation: the val/ folder")
    fewest = int(np.bincount(labels[val_rows], minlength=2).min()) if len(val_rows) else 0
    if fewest < BAND_MINIMUM:
        progress(f"warning: validation has {fewest} images of its smaller class; a REAL or FAKE verdict needs "
                 f"{BAND_MINIMUM} validation images of its side at 99% precision, so with fewer that verdict is "
                 "never given (UNCERTAIN instead): add images, or bring a val/ folder with more")
    for rows, where in ((val_rows, "validation"), (test_rows, "test")):
        for label, class_name in enumerate(CLASS_NAMES):
            if not (labels[rows] == label).any():
                raise DatasetError(f"{source}: no {class_name} image in the {where} split; add {class_name} images "
                                   f"(or a {where} folder with both classes)")
    # Shuffled once (seeded): training batches are drawn from the rows, and folders come sorted by class.
    train_rows = np.concatenate([pool_rows, val_rows])
    order = np.random.default_rng(split_seed).permutation(len(train_rows))
    train_rows = train_rows[order]
    validation = np.flatnonzero(order >= len(pool_rows))
    counts = Counter(digests.tolist())
    split_info = {
        "how": "; ".join(how),
        "given": sorted(given),
        "seed": split_seed,
        "validation_fraction": validation_fraction,
        "test_fraction": test_fraction,
        "grouped_by": "SHA-1 of the file bytes (exact duplicates stay on one side)",
        "duplicates_grouped": int(sum(c for c in counts.values() if c > 1)),
        "n_train": int(len(pool_rows)), "n_validation": int(len(val_rows)), "n_test": int(len(test_rows)),
    }

    def split(rows: np.ndarray) -> FolderSplit:
        return FolderSplit(FolderImages(reader, rows), labels[rows], [names[i] for i in rows], digests[rows])

    return FolderDataset(source=source, train=split(train_rows), test=split(test_rows), skipped=skipped,
                         validation=validation, split=split_info, reader=reader, sizes=sizes)


def _looks_like_cifake(source: Path, sample: int = 8) -> bool:
    """CIFAKE's layout (train|test / REAL|FAKE, all four there) with 32x32 images: decoded and cached as arrays."""
    try:
        members = _list_members(source)
    except DatasetError:
        return False
    if {(m[1], m[2]) for m in members} != {(s, c) for s in ("train", "test") for c in (0, 1)}:
        return False
    reader = FolderReader(source, [m[0] for m in members[:: max(1, len(members) // sample)][:sample]])
    for row in range(len(reader.names)):
        try:
            from model_zoo.input_check import original_size

            if original_size(reader.read(row)) != (IMAGE_SIZE, IMAGE_SIZE):
                return False
        except (ImageError, OSError):
            continue
    return True


def load_labelled_data(path: str | os.PathLike | None = None, *, validation_fraction: float | None = None,
                       split: dict | None = None, progress: Progress = stderr_progress) -> Dataset:
    """CIFAKE (training.lib.data.load_cifake, cached arrays) or any other labelled folder or zip (load_image_folder).

    `split`: a card's train.split block, to rebuild the split a model was trained on."""
    source = resolve_data_path(path)
    if _looks_like_cifake(source):
        return load_cifake(source, progress=progress)
    split = split or {}
    return load_image_folder(source, validation_fraction=split.get("validation_fraction", validation_fraction),
                             test_fraction=float(split.get("test_fraction", TEST_FRACTION)),
                             split_seed=int(split.get("seed", SPLIT_SEED)), progress=progress)


def check_trained_on(card: Card, dataset: Dataset) -> None:
    """Raise ZooError (one line naming the entry) unless `dataset` is what the card's model was trained on: CIFAKE
    for a CIFAKE model; for a folder model (model_zoo.zoo.trained_on_folder) a folder whose split, rebuilt from the
    card, has the card's split settings and numbers of train, validation and test images (another folder almost never
    does)."""
    name, folder = card.name, isinstance(dataset, FolderDataset)
    trained = card.train
    if card.trained_on_folder != folder:
        raise ZooError(f"{name} was trained on {'a labelled folder' if not folder else 'CIFAKE'} "
                       f"({trained.dataset}), not on {dataset.source}; pass --data {trained.dataset}")
    if folder:
        recorded = trained.split or {}
        # The settings too: another seed gives the same counts but other test images, some of them trained on.
        differ = [key for key in ("seed", "validation_fraction", "test_fraction", "n_train", "n_validation", "n_test")
                  if key in recorded and recorded[key] != dataset.split.get(key)]
        if differ:
            raise ZooError(f"{name} was trained on {trained.dataset}, whose split differs from {dataset.source}'s "
                           f"({', '.join(f'{k} {recorded[k]} vs {dataset.split.get(k)}' for k in differ)}); "
                           "pass the folder it was trained on")


def stored_images(split: Split) -> Split:
    """The split with its images decoded whole, as stored (no card's resizing or padding), still read on access: for
    changes that must act at an image's own resolution. CIFAKE's arrays already are that; the caller's split (and
    any card bound to it) is left as it is."""
    if not isinstance(split.images, FolderImages):
        return split
    reader = FolderReader(split.images.reader.source, split.images.reader.names)
    return FolderSplit(FolderImages(reader, split.images.rows), split.labels, split.paths, split.digests)


def train_validation_indices(dataset: Dataset, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train_index, validation_index) into dataset.train: a folder's own split, else CIFAKE's stratified one."""
    if isinstance(dataset, FolderDataset):
        return np.setdiff1d(np.arange(len(dataset.train)), dataset.validation), dataset.validation
    return train_validation_split(dataset.train.labels, fraction, seed)


SPLIT_RECORD_KEYS = ("how", "given", "seed", "validation_fraction", "test_fraction", "n_train", "n_validation", "n_test")


def validation_fraction_used(dataset: Dataset, requested: float) -> float:
    """The share of each class a run validates on: a folder's own (a small folder's is raised, see
    validation_fraction_for; a val/ folder has none, and `requested` stands), else `requested` (CIFAKE)."""
    if isinstance(dataset, FolderDataset) and dataset.split.get("validation_fraction") is not None:
        return float(dataset.split["validation_fraction"])
    return requested


def split_record(dataset: Dataset, train_index: np.ndarray, val_index: np.ndarray, fraction: float,
                 seed: int) -> dict:
    """How `dataset` is split for a run, as used: fractions, seeds and counts (a run's state records it, so a
    resume on differently split data is refused). A folder's is its own split (FolderDataset.split); CIFAKE's is
    the stratified validation share of its train/ folder (train_validation_indices) beside its test/ folder."""
    if isinstance(dataset, FolderDataset):
        return {key: dataset.split.get(key) for key in SPLIT_RECORD_KEYS}
    return {"how": f"test: the test/ folder; validation: {fraction:g} of each class, seed {seed}", "given": ["test", "train"],
            "seed": seed, "validation_fraction": fraction, "test_fraction": None, "n_train": int(len(train_index)),
            "n_validation": int(len(val_index)), "n_test": len(dataset.test)}


def card_split_indices(card: Card, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(train_index, validation_index) the card's model was trained with (its "train" block's seed and validation
    fraction, or the folder's own split); ZooError when this data gives another number of validation images."""
    trained = card.train
    fraction = 0.1 if trained.validation_fraction is None else float(trained.validation_fraction)
    train_index, val_index = train_validation_indices(dataset, fraction, int(trained.seed or 0))
    expected = trained.n_validation
    if expected is not None and expected != len(val_index):
        raise ZooError(f"{card.name}: trained with {expected:,} validation images, but this data gives "
                       f"{len(val_index):,}; pass the dataset it was trained on (card train.dataset: "
                       f"{trained.dataset})")
    return train_index, val_index


def all_small(dataset: Dataset, side: int = IMAGE_SIZE) -> bool:
    """True when every image is at most side x side (CIFAKE-like data): such data is resized, not cropped."""
    if not isinstance(dataset, FolderDataset):
        return True
    return bool(len(dataset.sizes)) and int(dataset.sizes.max()) <= side


def train_image_sizes(dataset: Dataset, index: np.ndarray) -> np.ndarray | None:
    """(height, width) of the files at `index` into dataset.train, as stored (before any resizing); None for
    CIFAKE, whose images are all 32x32."""
    if not isinstance(dataset, FolderDataset):
        return None
    return dataset.sizes[dataset.train.images.rows[np.asarray(index, np.int64)]]


def bind_card(dataset: Dataset, card: Card) -> None:
    """From now on the folder's images decode as `card`'s model sees them (no-op for CIFAKE's arrays)."""
    if isinstance(dataset, FolderDataset) and dataset.reader is not None:
        dataset.reader.card = card


def model_input_map(card: Card, augmentation: str) -> Callable:
    """tf.data map: a uint8 batch -> (optionally augmented) float32 model input, with the card's own
    normalisation constants (model_zoo.normalization, what normalize_for_card applies when serving)."""
    import tensorflow as tf

    from training.lib.augment import augment

    to_bgr, mean, std = normalization(card)

    def convert(images, labels):
        x = tf.cast(augment(images, augmentation), tf.float32)
        if to_bgr:
            x = x[..., ::-1]
        return (x - mean) / std, labels

    return convert


def stream(split: FolderSplit, card: Card, *, training: bool, batch_size: int, seed: int = 0,
           augmentation: str = "none", shuffle_buffer: int | None = None) -> Any:
    """A tf.data pipeline of (model input, label) batches, decoding files in parallel as it goes.

    Training examples are what the card's policy trains on: a random crop at the image's own resolution
    (crop cards), or the whole image resized (decode_for_card). Validation examples of a crop card are
    the centre crop (the validation loss only picks the best epoch; calibration later scores whole images
    as served). A file that fails to decode is skipped and remembered (reader.failed).
    """
    import tensorflow as tf

    reader: FolderReader = split.images.reader
    crop = card.crop_spec
    height, width = card.input_size

    def load(row, element_seed):
        row = int(row)
        try:
            if crop is None:
                image = decode_for_card(reader.read(row), card, name=reader.names[row])
            else:
                rgb = decode_image(reader.read(row), name=reader.names[row])
                image = (random_crop(rgb, crop[0], np.random.default_rng(int(element_seed) & 0x7FFFFFFF)) if training
                         else center_crop(rgb, crop[0]))
            return np.ascontiguousarray(image, dtype=np.uint8), True
        except (ImageError, OSError) as exc:
            reader.note_failure(row, str(exc))
            return np.zeros((height, width, 3), np.uint8), False

    def load_tf(row, label, element_seed):
        image, ok = tf.numpy_function(load, [row, element_seed], [tf.uint8, tf.bool])
        image.set_shape((height, width, 3))
        ok.set_shape(())
        return image, label, ok

    rows = split.images.rows
    data = tf.data.Dataset.from_tensor_slices((rows, split.labels.astype(np.float32)))
    if training:
        data = data.shuffle(min(shuffle_buffer or len(rows), len(rows)), seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    def load_pair(pair, element_seed):
        return load_tf(pair[0], pair[1], element_seed)

    def decoded(image, label, ok):
        return ok

    def without_flag(image, label, ok):
        return image, label

    data = tf.data.Dataset.zip((data, seeds)).map(load_pair, num_parallel_calls=tf.data.AUTOTUNE,
                                                   deterministic=not training)
    data = data.filter(decoded).map(without_flag)
    data = data.batch(batch_size).map(model_input_map(card, augmentation if training else "none"),
                                      num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(2)


def decode_failures(dataset: Dataset) -> list[str]:
    """'file: why' for every file that failed to decode while streaming (after passing the opening check)."""
    if not isinstance(dataset, FolderDataset) or dataset.reader is None:
        return []
    return [f"{name}: {why.removeprefix(name + ': ')}" for name, why in sorted(dataset.reader.failed.items())]

