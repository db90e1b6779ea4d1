"""Image attributes as data: each image's content class, measured properties and duplicates, one table row per file.

The table (`attribute_table`; cached per dataset by training.lib.data.load_attributes) has one row per image of
the train and test splits, keyed by `split` and `path` (the dataset-relative path the entries' test_predictions.csv
`path` column uses, e.g. "test/FAKE/0 (10).jpg"), with the columns
    split, path, label       train|test, the path, 0 REAL / 1 FAKE
    content                  content class ("" when the data has none): CIFAKE's from the file name
                             (cifake_content), a labelled folder's from the sub-folder between the split and the
                             class folders (folder_content: CNNDetection's car/0_real gives "car")
    brightness               mean luma (Rec. 601), 0..1
    contrast                 RMS contrast: standard deviation of luma, 0..1
    colourfulness            Hasler and Suesstrunk (2003), on 0..255 channels (about 0 grey .. 100+ vivid)
    high_freq                share of the luma spectrum's power (DC excluded) above half the Nyquist frequency
    jpeg_quality             IJG quality 1..100 whose scaled standard tables best match the file's quantisation
                             tables (jpeg_quality); NaN for files that are not JPEG
    sha1, phash              SHA-1 of the file bytes; 64-bit DCT perceptual hash (as a signed int64)
    exact_copies             other files of the same split with the same bytes
    exact_other_split        a file with the same bytes is in the other split (a leak when this is a test row)
    near_copies              other files of the same split within NEAR_BITS bits of phash, or of the hash of the
                             image shifted by one pixel (shifted_hashes); exact copies included
    near_other_split         such a near copy is in the other split
    near_other_label         such a near copy (any split) carries the other label
PROPERTIES names the measured columns the slices bin (model_zoo.slice_errors). Everything here is a plain function of
pixels, bytes and paths; reading the files is the data loaders' job.
"""

from __future__ import annotations

import io
import re
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

PROPERTIES = ("brightness", "contrast", "colourfulness", "high_freq", "jpeg_quality")
PROPERTY_LABELS = {"brightness": "brightness", "contrast": "contrast", "colourfulness": "colourfulness",
                   "high_freq": "high-frequency share", "jpeg_quality": "JPEG quality"}
NEAR_BITS = 4  # perceptual hashes this close (of 64 bits) count as near copies
# A labelled folder's layout: class folders (name -> label) and split folders, matched case-insensitively. The loader
# (training.lib.image_folders) reads labels by them; content classes (folder_content_class) are the folders between.
CLASS_ALIASES = {"real": 0, "fake": 1, "nature": 0, "ai": 1, "0_real": 0, "1_fake": 1}
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                 "test": "test", "testing": "test"}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_CIFAKE_NUMBER = re.compile(r"\((\d+)\)\s*$")
HIGH_FREQ_CUT = 0.25  # cycles per pixel: half the Nyquist frequency

# The IJG standard quantisation tables (JPEG Annex K), natural (row-major) order, as Pillow reports them.
IJG_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)
IJG_CHROMINANCE = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, *([99] * 32)], dtype=np.float64)


# ---- content class ----------------------------------------------------------------------------------------

def cifake_content(path: str) -> str:
    """CIFAKE's content class from its file name: "123 (N).jpg" is CIFAR-10 class N (1-based), no number is 1."""
    stem = path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    match = _CIFAKE_NUMBER.search(stem)
    number = int(match.group(1)) if match else 1
    return CIFAR10_CLASSES[number - 1] if 1 <= number <= len(CIFAR10_CLASSES) else ""


def folder_content(path: str, class_folders: Collection[str], split_folders: Collection[str]) -> str:
    """A labelled folder's content class: the folder(s) between the nearest split folder and the class folder
    ("train/car/0_real/x.png" gives "car"), or without a split folder the one folder just above the class folder;
    "" when there is none. Folder names are matched case-insensitively against `class_folders` / `split_folders`."""
    parts = path.replace("\\", "/").split("/")[:-1]
    lowered = [part.lower() for part in parts]
    at = next((i for i in range(len(parts) - 1, -1, -1) if lowered[i] in class_folders), None)
    if at is None:
        return ""
    split_at = next((i for i in range(at - 1, -1, -1) if lowered[i] in split_folders), None)
    if split_at is not None:
        return "/".join(parts[split_at + 1 : at])
    return parts[at - 1] if at >= 1 else ""


def folder_content_class(path: str) -> str:
    """A labelled folder file's content class: the sub-folder between its split and class folders ("" when none)."""
    return folder_content(path, CLASS_ALIASES, SPLIT_ALIASES)


def informative(content: Sequence[str]) -> list[str]:
    """Content classes, or all "" when every file has the same one (a folder that only wraps the data)."""
    return list(content) if len({c for c in content if c}) > 1 else [""] * len(content)


# ---- measured properties ----------------------------------------------------------------------------------

def _luma(images: np.ndarray) -> np.ndarray:
    rgb = np.asarray(images, dtype=np.float64)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def measure(images: np.ndarray) -> pd.DataFrame:
    """brightness, contrast, colourfulness and high_freq of a batch of same-sized uint8 RGB images (N, H, W, 3)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected (N, H, W, 3) RGB images, got shape {images.shape}")
    luma = _luma(images) / 255.0
    rgb = images.astype(np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    axes = (1, 2)
    colourfulness = (np.sqrt(rg.std(axis=axes) ** 2 + yb.std(axis=axes) ** 2)
                     + 0.3 * np.sqrt(rg.mean(axis=axes) ** 2 + yb.mean(axis=axes) ** 2))
    return pd.DataFrame({
        "brightness": luma.mean(axis=axes),
        "contrast": luma.std(axis=axes),
        "colourfulness": colourfulness,
        "high_freq": high_frequency_share(luma),
    })


def high_frequency_share(luma: np.ndarray) -> np.ndarray:
    """Per image (N, H, W): the share of spectral power (mean removed) above HIGH_FREQ_CUT cycles per pixel; 0 when flat."""
    centred = luma - luma.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(centred)) ** 2
    fy = np.fft.fftfreq(luma.shape[1])[:, None]
    fx = np.fft.fftfreq(luma.shape[2])[None, :]
    high = np.sqrt(fy**2 + fx**2) > HIGH_FREQ_CUT
    total = power.sum(axis=(1, 2))
    return np.where(total > 0, (power * high).sum(axis=(1, 2)) / np.maximum(total, 1e-12), 0.0)


def ijg_table(base: np.ndarray, quality: int) -> np.ndarray:
    """The IJG library's `base` table scaled to `quality` (1..100), as libjpeg and Pillow write it."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((base * scale + 50) / 100), 1, 255)


_QUALITIES = np.arange(1, 101)
_SCALED = np.stack([np.concatenate([ijg_table(IJG_LUMINANCE, q), ijg_table(IJG_CHROMINANCE, q)]) for q in _QUALITIES])


def jpeg_quality(data: bytes) -> float:
    """The IJG quality (1..100) whose standard tables are nearest the file's own (summed absolute difference over the
    luminance and, when present, chrominance table); NaN when the bytes are not a JPEG with quantisation tables."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            tables = getattr(image, "quantization", None) or {}
    except (UnidentifiedImageError, OSError, ValueError):
        return float("nan")
    if 0 not in tables or len(tables[0]) != 64:
        return float("nan")
    own = np.asarray(tables[0], dtype=np.float64)
    width = 64
    if 1 in tables and len(tables[1]) == 64:
        own, width = np.concatenate([own, np.asarray(tables[1], dtype=np.float64)]), 128
    error = np.abs(_SCALED[:, :width] - own).sum(axis=1)
    return float(_QUALITIES[int(np.argmin(error))])


# ---- duplicates ---------------------------------------------------------------------------------------------

def _dct_matrix(size: int) -> np.ndarray:
    k = np.arange(size)
    return np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * size))


_DCT32 = _dct_matrix(32)


SHIFTS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))


def perceptual_hash(images: np.ndarray) -> np.ndarray:
    """64-bit DCT perceptual hash per image (N, H, W, 3), as int64: luma resized to 32x32, the 8x8 lowest DCT
    frequencies, each bit set where a coefficient is above their median (the DC term left out of the median)."""
    return _dct_hash(_luma32(images))


def shifted_hashes(images: np.ndarray) -> np.ndarray:
    """(N, 8) perceptual hashes of each image shifted by one pixel (of 32) in each of the 8 directions, edges
    repeated: a copy shifted by a pixel lies near one of them, where its own hash is ~12 bits away."""
    luma = _luma32(images)
    padded = np.pad(luma, ((0, 0), (1, 1), (1, 1)), mode="edge")
    return np.stack([_dct_hash(padded[:, 1 - dy : 33 - dy, 1 - dx : 33 - dx]) for dy, dx in SHIFTS], axis=1)


def _luma32(images: np.ndarray) -> np.ndarray:
    luma = _luma(images)
    if luma.shape[1:] == (32, 32):
        return luma
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(plane.astype(np.float32), mode="F").resize(
        (32, 32), Image.Resampling.BILINEAR)) for plane in luma]).astype(np.float64)


def _dct_hash(luma: np.ndarray) -> np.ndarray:
    coefficients = (_DCT32[:8] @ luma @ _DCT32[:8].T).reshape(len(luma), 64)
    bits = coefficients > np.median(coefficients[:, 1:], axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64).view(np.int64)


def _band_keys(values: np.ndarray, band: np.ndarray) -> np.ndarray:
    shift, width = 63 - int(band[-1]), len(band)  # bit 0 is the most significant
    return (values >> np.uint64(shift)) & np.uint64((1 << width) - 1)


def near_pairs(hashes: np.ndarray, shifted: np.ndarray | None = None, max_bits: int = NEAR_BITS) -> np.ndarray:
    """(i, j) index pairs, i < j, whose hashes differ in at most `max_bits` bits, or (with `shifted`, each image's
    shifted_hashes) where one image's shifted hash is that close to the other's own. Exact: the hash is cut into
    max_bits + 1 bands, and two hashes that close agree on one band entirely (only those are compared)."""
    own = np.asarray(hashes).astype(np.int64).view(np.uint64)
    query = own[:, None] if shifted is None else np.concatenate([own[:, None], np.asarray(shifted).astype(
        np.int64).view(np.uint64)], axis=1)
    query_owner = np.repeat(np.arange(len(own)), query.shape[1])
    query = query.ravel()
    found = []
    for band in np.array_split(np.arange(64), max_bits + 1):
        own_keys, query_keys = _band_keys(own, band), _band_keys(query, band)
        order = np.argsort(own_keys, kind="stable")
        sorted_keys = own_keys[order]
        query_order = np.argsort(query_keys, kind="stable")
        sorted_queries = query_keys[query_order]
        group_starts = np.flatnonzero(np.r_[True, sorted_queries[1:] != sorted_queries[:-1]])
        group_ends = np.r_[group_starts[1:], len(query_order)]
        low = np.searchsorted(sorted_keys, sorted_queries[group_starts], side="left")
        high = np.searchsorted(sorted_keys, sorted_queries[group_starts], side="right")
        for start, end, first, last in zip(group_starts, group_ends, low, high, strict=True):
            if last - first < (2 if shifted is None else 1):
                continue
            queries, members = query_order[start:end], order[first:last]
            close = np.bitwise_count(query[queries][:, None] ^ own[members][None, :]) <= max_bits
            a, b = np.nonzero(close)
            found.append(np.stack([query_owner[queries[a]], members[b]], axis=1))
    if not found:
        return np.zeros((0, 2), np.int64)
    pairs = np.sort(np.concatenate(found), axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0) if len(pairs) else np.zeros((0, 2), np.int64)


def duplicate_columns(split: np.ndarray, label: np.ndarray, sha1: np.ndarray, phash: np.ndarray,
                      shifted: np.ndarray | None = None, max_bits: int = NEAR_BITS) -> pd.DataFrame:
    """exact_copies, exact_other_split, near_copies, near_other_split, near_other_label per row (module docstring)."""
    split, label, sha1 = np.asarray(split), np.asarray(label), np.asarray(sha1)
    frame = pd.DataFrame({"split": split, "sha1": sha1})
    same = frame.groupby(["split", "sha1"])["sha1"].transform("size").to_numpy() - 1
    splits_per_digest = frame.groupby("sha1")["split"].transform("nunique").to_numpy()
    n = len(split)
    near_copies = np.zeros(n, np.int64)
    near_other_split = np.zeros(n, bool)
    near_other_label = np.zeros(n, bool)
    pairs = near_pairs(phash, shifted, max_bits)
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        within = split[i] == split[j]
        np.add.at(near_copies, i[within], 1)
        np.add.at(near_copies, j[within], 1)
        near_other_split[i[~within]] = near_other_split[j[~within]] = True
        crossed = label[i] != label[j]
        near_other_label[i[crossed]] = near_other_label[j[crossed]] = True
    return pd.DataFrame({"exact_copies": same, "exact_other_split": splits_per_digest > 1,
                         "near_copies": near_copies, "near_other_split": near_other_split,
                         "near_other_label": near_other_label})


def duplicate_facts(table: pd.DataFrame) -> dict[str, int]:
    """The leak facts of an attribute table, in the MANIFEST's terms: "<split>/<CLASS> extra copies" (files beyond the
    first of each byte-identical group, per split and class), "test/<CLASS> in train" (test files byte-identical to a
    train file of the same class) and "near copies" (near_copies > 0 per split, exact copies included)."""
    names = ("REAL", "FAKE")
    facts: dict[str, int] = {}
    for (split, label), rows in table.groupby(["split", "label"]):
        facts[f"{split}/{names[int(label)]} extra copies"] = int(len(rows) - rows["sha1"].nunique())
    train = table[table["split"] == "train"]
    for label, name in enumerate(names):
        test = table[(table["split"] == "test") & (table["label"] == label)]
        facts[f"test/{name} in train"] = int(test["sha1"].isin(train.loc[train["label"] == label, "sha1"]).sum())
    for split, rows in table.groupby("split"):
        facts[f"{split} near copies"] = int((rows["near_copies"] > 0).sum())
    return facts


def attribute_table(split: Sequence[str], paths: Sequence[str], labels: Sequence[int], content: Sequence[str],
                    measured: pd.DataFrame, quality: Sequence[float], sha1: Sequence[str],
                    phash: Sequence[int], shifted: np.ndarray | None = None) -> pd.DataFrame:
    """The table of the module docstring from its per-file parts (the duplicate columns are derived here; `shifted`,
    the images' shifted_hashes, lets a copy shifted by a pixel count as near)."""
    split_array, label_array = np.asarray(split, dtype=str), np.asarray(labels, dtype=np.int64)
    sha1_array, phash_array = np.asarray(sha1, dtype=str), np.asarray(phash, dtype=np.int64)
    table = pd.DataFrame({"split": split_array, "path": list(paths), "label": label_array,
                          "content": informative(content)})
    table = pd.concat([table, measured.reset_index(drop=True)], axis=1)
    table["jpeg_quality"] = np.asarray(quality, dtype=np.float64)
    table["sha1"], table["phash"] = sha1_array, phash_array
    duplicates = duplicate_columns(split_array, label_array, sha1_array, phash_array, shifted)
    return pd.concat([table, duplicates], axis=1)


def test_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The test split's rows, indexed by path (how they join a test_predictions.csv)."""
    return table[table["split"] == "test"].set_index("path")
