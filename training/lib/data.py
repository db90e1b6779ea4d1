"""Load CIFAKE (Kaggle zip or unpacked folder) into uint8 arrays, with a decode cache.

Layout expected under the root (any leading folders allowed, names case-insensitive):
    train/REAL/*.jpg  train/FAKE/*.jpg  test/REAL/*.jpg  test/FAKE/*.jpg
FAKE is the positive class (label 1). Files that do not decode, or are not
32x32, are reported by name and skipped. Decoded arrays are cached as .npy files in one folder (memory-mapped
when read) keyed by a fingerprint of the source, so a changed source is decoded again.
`load_attributes(dataset)` gives every train and test image's attributes (model_zoo.image_attributes: content
class, brightness, ..., JPEG quality, duplicates), measured once and cached beside the arrays by the same
fingerprint; it takes CIFAKE's Dataset or a labelled folder's (training.lib.image_folders.dataset_attributes).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
import sys
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from model_zoo import image_attributes
from model_zoo.decision import CLASS_NAMES
from model_zoo.images import ImageError, decode_image

DATA_ENV = "CIFAKE_PATH"
CACHE_ENV = "CIFAKE_CACHE_DIR"
SPLITS = ("train", "test")
CLASSES = {"real": 0, "fake": 1}
IMAGE_SIZE = 32
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CACHE_VERSION = "v3"  # bump when the cache changes (v2: SHA-1 digests; v3: a folder of .npy, images memory-mapped)
KAGGLE_DATASET = "birdy654/cifake-real-and-ai-generated-synthetic-images"
LAYOUT_HINT = "train/REAL, train/FAKE, test/REAL, test/FAKE with 32x32 images"
DECODE_CHUNK = 2000  # files per worker task: a progress line at most every chunk

Progress = Callable[[str], None]


class DatasetError(Exception):
    """A missing or malformed dataset; the message says what was expected where."""


@dataclass
class Split:
    images: np.ndarray  # (N, 32, 32, 3) uint8 RGB
    labels: np.ndarray  # (N,) uint8, 1 = FAKE
    paths: list[str]  # relative to the dataset root, e.g. "test/FAKE/0 (10).jpg"
    digests: np.ndarray | None = None  # (N,) SHA-1 of each file's bytes: finds exact copies across splits

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> Split:
        digests = None if self.digests is None else self.digests[index]
        return Split(take_rows(self.images, index), self.labels[index], [self.paths[i] for i in index], digests)

    def unseen_in(self, other: Split) -> np.ndarray:
        """Boolean mask: images whose file bytes occur nowhere in `other` (e.g. test images not in train)."""
        if self.digests is None or other.digests is None:
            raise DatasetError("file digests are unknown for this dataset; load it with load_cifake")
        seen = set(other.digests.tolist())  # a set, not np.isin: that sorts copies of 100,000 40-character strings
        return np.array([digest not in seen for digest in self.digests.tolist()], dtype=bool)

    def counts(self) -> dict[str, int]:
        return {name: int((self.labels == label).sum()) for name, label in zip(CLASS_NAMES, (0, 1), strict=False)}


PAGED_ROWS = 256  # rows of a memory-mapped array copied between releases of its pages (take_rows)


def take_rows(images: np.ndarray, index: np.ndarray) -> np.ndarray:
    """images[index] as a copy. From a memory-mapped cache (_read_cache) the rows are copied a few at a time and the
    mapping's pages released after each few: the kernel maps the neighbours of every page it faults in, so a 10%
    sample of CIFAKE's training images would otherwise leave all 300 MB of them resident (counted in a process's
    memory) for as long as the dataset lives. The file stays in the page cache: reading the rows again costs no I/O."""
    if getattr(images, "_mmap", None) is None:  # an array in memory (np.memmap and its views share _mmap)
        return images[index]
    index = np.asarray(index)
    index = np.flatnonzero(index) if index.dtype == bool else index
    rows = np.empty((len(index), *images.shape[1:]), images.dtype)
    for start in range(0, len(index), PAGED_ROWS):
        rows[start : start + PAGED_ROWS] = images[index[start : start + PAGED_ROWS]]
        release_pages(images)
    return rows


def release_pages(images: np.ndarray) -> None:
    """Let go of the resident pages of a memory-mapped array (the cache's images) once it has been read through:
    they stop counting in this process's memory, and stay in the page cache for the next read. No-op in memory."""
    mapped = getattr(images, "_mmap", None)
    if mapped is not None:
        mapped.madvise(mmap.MADV_DONTNEED)


@dataclass
class Dataset:
    source: Path
    train: Split
    test: Split
    skipped: list[str] = field(default_factory=list)  # "path: reason"
    source_key: str | None = None  # fingerprint(source), when the loader has already worked it out

    def source_fingerprint(self) -> str:
        """fingerprint(source): which data this is, whatever its path (worked out once per dataset)."""
        if self.source_key is None:
            self.source_key = fingerprint(self.source)
        return self.source_key

    def content_fingerprint(self) -> str:
        """"sha1:<16 hex>" of which files (the SHA-1 of their bytes, Split.digests) are in which split with which label:
        the same data zipped or unpacked, at any path, gives the same; adding, removing, changing or relabelling a
        file changes it. (source_fingerprint, the decode cache's key, is of the container: names, CRCs or mtimes.)"""
        rows = []
        for name in SPLITS:
            split = getattr(self, name)
            if split.digests is None:
                raise DatasetError(f"{self.source}: file digests are unknown for this dataset; load it with load_cifake")
            rows += [f"{name}:{int(label)}:{digest}\n" for label, digest in zip(split.labels, split.digests, strict=True)]
        return "sha1:" + hashlib.sha1("".join(sorted(rows)).encode()).hexdigest()[:16]

    def summary(self) -> str:
        lines = [f"CIFAKE at {self.source}"]
        for name in SPLITS:
            counts = getattr(self, name).counts()
            lines.append(f"  {name}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        return "\n".join(lines + skipped_lines(self.skipped))


def skipped_lines(skipped: list[str], shown: int = 20) -> list[str]:
    """A dataset summary's lines for the files it skipped: the first `shown` reasons, then a count."""
    if not skipped:
        return []
    more = [f"    ... and {len(skipped) - shown} more"] if len(skipped) > shown else []
    return [f"  skipped {len(skipped)} file(s):", *(f"    {reason}" for reason in skipped[:shown]), *more]


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve_data_path(path: str | os.PathLike | None) -> Path:
    """--data, else $CIFAKE_PATH; a clear DatasetError when neither points at something."""
    if path is None:
        path = os.environ.get(DATA_ENV)
    if not path:
        raise DatasetError(
            f"no dataset given: pass --data PATH or set {DATA_ENV} to the CIFAKE zip or folder "
            f"(get it with `python -m training.download`)"
        )
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError(f"{path}: does not exist (expected the CIFAKE zip or a folder with {LAYOUT_HINT})")
    return path


def _member_info(relpath: str) -> tuple[str, int, str] | None:
    """(split, label, canonical relative path) for a dataset file, else None."""
    parts = relpath.replace("\\", "/").split("/")
    if len(parts) < 3 or not parts[-1].lower().endswith(IMAGE_SUFFIXES) or parts[-1].startswith("."):
        return None
    split, label = parts[-3].lower(), parts[-2].lower()
    if split not in SPLITS or label not in CLASSES:
        return None
    return split, CLASSES[label], "/".join(parts[-3:])


def _list_members(source: Path) -> list[tuple[str, str, int, str]]:
    """(member name in source, split, label, relative path) for every image file."""
    members = []
    if source.is_file():
        with _open_zip(source) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
    else:
        names = [str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()]
    for name in names:
        info = _member_info(name)
        if info is not None:
            members.append((name, *info))
    members.sort(key=lambda m: m[3])
    return members


def _open_zip(source: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise DatasetError(f"{source}: not a zip file (expected the CIFAKE zip or a folder with {LAYOUT_HINT})") from None


def fingerprint(source: Path) -> str:
    """Changes whenever the source's files change (zip: CRCs; folder: names, sizes, mtimes)."""
    digest = hashlib.sha1()
    if source.is_file():
        with _open_zip(source) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                digest.update(f"{info.filename}\0{info.CRC}\0{info.file_size}\n".encode())
    else:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path.relative_to(source)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _decode_chunk(source: str, names: list[str], relpaths: list[str]) -> tuple[np.ndarray, list[bool], list[str], list[str]]:
    """Decode some members; returns images, a kept-flag per member, skip reasons, SHA-1 per member."""
    images = np.zeros((len(names), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    kept, reasons, digests = [], [], []
    archive = zipfile.ZipFile(source) if Path(source).is_file() else None
    try:
        for i, (name, relpath) in enumerate(zip(names, relpaths, strict=False)):
            try:
                data = archive.read(name) if archive else (Path(source) / name).read_bytes()
                digests.append(hashlib.sha1(data).hexdigest())
                rgb = decode_image(data, name=relpath)
                if rgb.shape[:2] != (IMAGE_SIZE, IMAGE_SIZE):
                    raise ImageError(f"{relpath}: {rgb.shape[1]}x{rgb.shape[0]} pixels, expected {IMAGE_SIZE}x{IMAGE_SIZE}")
                images[i] = rgb
                kept.append(True)
            except (ImageError, OSError) as exc:
                kept.append(False)
                reasons.append(str(exc))
                digests += [""] * (len(kept) - len(digests))  # unreadable: no digest
    finally:
        if archive:
            archive.close()
    return images, kept, reasons, digests


def _decode_all(source: Path, members: list, progress: Progress, workers: int) -> tuple[dict, list[str]]:
    start, total = time.time(), len(members)
    chunk = DECODE_CHUNK
    chunks = [members[i : i + chunk] for i in range(0, total, chunk)]
    images = np.zeros((total, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    kept = np.zeros(total, bool)
    digests = np.zeros(total, dtype="<U40")
    skipped: list[str] = []
    done, last_report = 0, 0.0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = [pool.submit(_decode_chunk, str(source), [m[0] for m in c], [m[3] for m in c]) for c in chunks]
        for offset, job in zip(range(0, total, chunk), jobs, strict=False):
            chunk_images, chunk_kept, reasons, chunk_digests = job.result()
            images[offset : offset + len(chunk_kept)] = chunk_images
            kept[offset : offset + len(chunk_kept)] = chunk_kept
            digests[offset : offset + len(chunk_kept)] = chunk_digests
            skipped += reasons
            done += len(chunk_kept)
            if time.time() - last_report > 2 or done == total:  # a line every few seconds, not per chunk
                last_report = time.time()
                rate = done / max(last_report - start, 1e-9)
                progress(f"decoding {done:,}/{total:,} images ({100 * done // total}%), {rate:,.0f} images/s")
    arrays = {}
    for split in SPLITS:
        index = np.array([i for i, m in enumerate(members) if m[1] == split and kept[i]], dtype=np.int64)
        arrays[f"{split}_images"] = images[index] if len(index) else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
        arrays[f"{split}_labels"] = np.array([members[i][2] for i in index], np.uint8)
        arrays[f"{split}_paths"] = np.array([members[i][3] for i in index], dtype=str)
        arrays[f"{split}_digests"] = digests[index]
    return arrays, skipped


def default_cache_dir(source: Path) -> Path:
    """$CIFAKE_CACHE_DIR, else next to the data, else ~/.cache (for read-only data folders)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    beside = source.resolve().parent / ".cifake_cache"
    if os.access(beside if beside.exists() else beside.parent, os.W_OK):
        return beside
    return Path.home() / ".cache" / "cifake-detector"


def load_cifake(
    path: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: Progress = stderr_progress,
    workers: int | None = None,
) -> Dataset:
    """Decode (or read from cache) the whole dataset; raises DatasetError when malformed."""
    source = resolve_data_path(path)
    cache = Path(cache_dir) if cache_dir else default_cache_dir(source)
    key = fingerprint(source)
    cache_folder = cache / f"cifake-{source.stem}-{key}-{CACHE_VERSION}"
    if cache_folder.is_dir():
        progress(f"reading decoded images from cache {cache_folder}")
        arrays = _read_cache(cache_folder)
        skipped = [str(s) for s in arrays.pop("skipped")]
    else:
        members = _list_members(source)
        if not members:
            raise DatasetError(f"{source}: no images found (expected {LAYOUT_HINT})")
        progress(f"decoding {len(members):,} images from {source} (cached afterwards in {cache})")
        arrays, skipped = _decode_all(source, members, progress, workers or min(2, os.cpu_count() or 1))
        _check_complete(source, arrays)
        _save_cache(cache_folder, arrays, skipped, progress)
    _check_complete(source, arrays)
    splits = {
        split: Split(arrays[f"{split}_images"], arrays[f"{split}_labels"], [str(p) for p in arrays[f"{split}_paths"]],
                     arrays[f"{split}_digests"])
        for split in SPLITS
    }
    for reason in skipped:
        progress(f"skipped {reason}")
    return Dataset(source=source, train=splits["train"], test=splits["test"], skipped=skipped, source_key=key)


def _check_complete(source: Path, arrays: dict) -> None:
    for split in SPLITS:
        labels = arrays[f"{split}_labels"]
        for name, label in zip(CLASS_NAMES, (0, 1), strict=False):
            if not (labels == label).any():
                raise DatasetError(f"{source}: no usable images in {split}/{name} (expected {LAYOUT_HINT})")


def _save_cache(cache_folder: Path, arrays: dict, skipped: list[str], progress: Progress) -> None:
    """One .npy per array, written to a partial folder and renamed: a reader never sees half a cache."""
    partial = cache_folder.with_name(f"{cache_folder.name}.partial-{os.getpid()}")
    try:
        partial.mkdir(parents=True, exist_ok=True)
        for name, array in {**arrays, "skipped": np.array(skipped, dtype=str)}.items():
            np.save(partial / f"{name}.npy", array)
        partial.rename(cache_folder)
    except OSError as exc:  # a cache we cannot write only costs time
        shutil.rmtree(partial, ignore_errors=True)
        progress(f"could not write cache {cache_folder}: {exc}")


def _read_cache(cache_folder: Path) -> dict[str, np.ndarray]:
    """The cached arrays; images are memory-mapped, so a split nobody looks at costs no memory."""
    return {path.stem: np.load(path, mmap_mode="r" if path.stem.endswith("_images") else None)
            for path in cache_folder.glob("*.npy")}


def train_validation_split(labels: np.ndarray, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, deterministic, disjoint (train_index, validation_index), each in shuffled order.

    CIFAKE's arrays are ordered by class; returning indices in that order would hand
    training long single-class runs whenever the shuffle buffer is smaller than the split.
    """
    index = np.arange(len(labels))
    train_index, val_index = train_test_split(index, test_size=fraction, stratify=labels, random_state=seed)
    return np.asarray(train_index), np.asarray(val_index)


def stratified_sample(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_class` images of each class (all of a smaller class), drawn with `seed`, REAL first."""
    rng = np.random.default_rng(seed)
    picked = []
    for label in range(len(CLASS_NAMES)):
        members = np.flatnonzero(np.asarray(labels) == label)
        picked.append(np.sort(rng.choice(members, min(per_class, len(members)), replace=False)))
    return np.concatenate(picked)


ATTRIBUTES_VERSION = "a2"  # bump when model_zoo.image_attributes measures differently
_PER_FILE = ("label", "content", "brightness", "contrast", "colourfulness", "high_freq", "jpeg_quality", "sha1",
             "phash")


def load_attributes(dataset: Dataset, *, content: Callable[[str], str] | None = None,
                    cache_dir: str | os.PathLike | None = None, progress: Progress = stderr_progress) -> pd.DataFrame:
    """Every train and test image's attributes (model_zoo.image_attributes.attribute_table), measured once per
    dataset fingerprint and cached beside the decoded arrays. `content` gives a path's content class (default:
    CIFAKE's file-name convention); a folder's rows are its own files, read again for their bytes."""
    source = dataset.source
    cache = Path(cache_dir) if cache_dir else default_cache_dir(source)
    cached = cache / f"attributes-{source.stem}-{fingerprint(source)}-{ATTRIBUTES_VERSION}.npz"
    splits = [(name, getattr(dataset, name)) for name in SPLITS]
    paths = [path for _, split in splits for path in split.paths]
    per_file, shifted = _read_attributes(cached, paths)
    if per_file is None:
        start = time.time()
        progress(f"measuring attributes of {len(paths):,} images (cached afterwards in {cache})")
        measured = [_measure_split(source, split, content or image_attributes.cifake_content, progress)
                    for _, split in splits]
        per_file = pd.concat([frame for frame, _ in measured], ignore_index=True)
        per_file.index = pd.Index(paths, name="path")
        shifted = np.concatenate([hashes for _, hashes in measured])
        progress(f"measured {len(paths):,} images in {time.time() - start:.0f} s")
        _write_attributes(cached, per_file, shifted, progress)
    split_names = [name for name, split in splits for _ in split.paths]
    return image_attributes.attribute_table(
        split_names, paths, per_file["label"], per_file["content"].tolist(),
        per_file[["brightness", "contrast", "colourfulness", "high_freq"]], per_file["jpeg_quality"],
        per_file["sha1"], per_file["phash"], shifted)


def _measure_split(source: Path, split: Split, content: Callable[[str], str],
                   progress: Progress) -> tuple[pd.DataFrame, np.ndarray]:
    """A split's per-file attributes, and its images' shifted perceptual hashes."""
    members = {m[3]: m[0] for m in _list_members(source)}  # CIFAKE's canonical paths; a folder's are its names
    archive = zipfile.ZipFile(source) if source.is_file() else None
    arrays = isinstance(split.images, np.ndarray)
    parts, qualities, digests, hashes, shifted = [], [], [], [], []
    try:
        for start in range(0, len(split), DECODE_CHUNK):
            index = range(start, min(start + DECODE_CHUNK, len(split)))
            blobs = []
            for i in index:
                name = members.get(split.paths[i], split.paths[i])
                blobs.append(archive.read(name) if archive else (source / name).read_bytes())
            qualities += [image_attributes.jpeg_quality(blob) for blob in blobs]
            digests += [hashlib.sha1(blob).hexdigest() for blob in blobs]
            if arrays:
                batches = [np.asarray(split.images[index.start:index.stop])]
            else:  # a folder's images at their own sizes, one at a time
                batches = [decode_image(blob, name=split.paths[i], min_size=(1, 1))[None] for i, blob in zip(index, blobs,
                                                                                                             strict=True)]
            for batch in batches:
                parts.append(image_attributes.measure(batch))
                hashes.append(image_attributes.perceptual_hash(batch))
                shifted.append(image_attributes.shifted_hashes(batch))
            progress(f"  attributes: {index.stop:,}/{len(split):,} of this split")
    finally:
        if archive:
            archive.close()
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "label", np.asarray(split.labels, dtype=np.int64))
    frame.insert(1, "content", [content(path) for path in split.paths])
    frame["jpeg_quality"], frame["sha1"], frame["phash"] = qualities, digests, np.concatenate(hashes)
    return frame, np.concatenate(shifted)


def _read_attributes(cached: Path, paths: list[str]) -> tuple[pd.DataFrame | None, np.ndarray | None]:
    """The cached per-file attributes of `paths` and their shifted hashes, or Nones when absent, unreadable or
    missing one of them."""
    try:
        with np.load(cached, allow_pickle=False) as archive:
            frame = pd.DataFrame({key: archive[key] for key in ("path", *_PER_FILE)}).set_index("path")
            shifted = archive["phash_shifted"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None, None
    if not frame.index.is_unique or not set(paths) <= set(frame.index):
        return None, None
    rows = frame.index.get_indexer(paths)
    return frame.iloc[rows], shifted[rows]


def _write_attributes(cached: Path, frame: pd.DataFrame, shifted: np.ndarray, progress: Progress) -> None:
    partial = cached.with_name(f"{cached.stem}.partial-{os.getpid()}.npz")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        columns = {key: frame[key].to_numpy() for key in _PER_FILE}
        columns["content"] = columns["content"].astype(str)
        columns["sha1"] = columns["sha1"].astype(str)
        np.savez(partial, path=np.asarray(frame.index, dtype=str), phash_shifted=shifted, **columns)
        partial.rename(cached)
    except OSError as exc:  # a cache we cannot write only costs time
        partial.unlink(missing_ok=True)
        progress(f"could not write cache {cached}: {exc}")
