"""Generate small CIFAKE-shaped datasets for tests and benchmarks (never for the zoo).

Same layout and file format as the Kaggle download (32x32 JPEGs under
train/REAL, train/FAKE, test/REAL, test/FAKE). REAL images are smooth colour
fields; FAKE ones add a faint periodic high-frequency pattern, a stand-in for
the upsampling artefacts of diffusion models, so a CNN can learn the difference.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from training.lib.data import IMAGE_SIZE


def synthetic_image(rng: np.random.Generator, fake: bool, size: int = IMAGE_SIZE) -> np.ndarray:
    coarse = rng.uniform(0, 255, size=(4, 4, 3)).astype(np.float32)
    smooth = np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize((size, size), Image.BICUBIC), np.float32)
    image = smooth + rng.normal(0, 4, size=smooth.shape)
    if fake:
        y, x = np.mgrid[0:size, 0:size]
        pattern = np.where((x + y) % 2 == 0, 1.0, -1.0) * rng.uniform(14, 22)
        image = image + pattern[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)


def _jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _file_name(index: int, fake: bool) -> str:
    # Kaggle's CIFAKE names look like "1234.jpg" (REAL) and "1234 (7).jpg" (FAKE).
    return f"{index // 10} ({index % 10 + 1}).jpg" if fake else f"{index:04d}.jpg"


def make_synthetic_cifake(
    root: str | Path,
    train_per_class: int = 200,
    test_per_class: int = 50,
    *,
    as_zip: bool = False,
    seed: int = 0,
) -> Path:
    """Write a synthetic dataset to `root` (a folder, or `root` itself as a .zip). Returns its path."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    files: dict[str, bytes] = {}
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for class_name in ("REAL", "FAKE"):
            fake = class_name == "FAKE"
            for i in range(count):
                files[f"{split}/{class_name}/{_file_name(i, fake)}"] = _jpeg(synthetic_image(rng, fake))
    if as_zip:
        root.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(root, "w", zipfile.ZIP_STORED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
    else:
        for name, data in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return root


def upsampling_trace_image(rng: np.random.Generator, fake: bool, size: int = 256, amplitude: float = 12.0) -> np.ndarray:
    """A size x size image: a smooth colour field with sensor-like noise; FAKE adds a faint period-2 checkerboard
    (about +-`amplitude` grey levels), the trace a 2x upsampling layer leaves. Averaging 2x2 blocks or more
    (any shrink to 32x32 of a 256x256 image) cancels it exactly: only a model that sees the pixels can find it."""
    # Mid-tones only: where a clipped highlight or shadow swallowed the trace, a crop would carry no evidence.
    coarse = rng.uniform(48, 208, size=(4, 4, 3)).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC), np.float32)
    image = smooth + rng.normal(0, 3, size=smooth.shape)
    if fake:
        y, x = np.mgrid[0:size, 0:size]
        image += (np.where((x + y) % 2 == 0, 1.0, -1.0) * amplitude * rng.uniform(0.75, 1.25))[..., None]
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# Where each class goes in the layouts training.lib.image_folders reads (train/test splits are added by `splits`).
FOLDER_LAYOUTS = {
    "plain": ("REAL", "FAKE"),
    "lower": ("real", "fake"),
    "genimage": ("nature", "ai"),
    "cnndetection": ("{group}/0_real", "{group}/1_fake"),
}


def make_image_folder(root: str | Path, per_class: int = 100, size: int = 256, *, layout: str = "plain",
                      splits: bool = False, fmt: str = "PNG", seed: int = 0, amplitude: float = 12.0) -> Path:
    """Write a labelled folder of upsampling_trace_image files (PNG keeps the faint trace; JPEG would blur it).

    With `splits`, 80% of each class goes under train/ and the rest under test/; "cnndetection" spreads
    each class over two object folders (car/, cat/)."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    real_dir, fake_dir = FOLDER_LAYOUTS[layout]
    for fake, pattern in ((False, real_dir), (True, fake_dir)):
        for i in range(per_class):
            split = ("train/" if i < 0.8 * per_class else "test/") if splits else ""
            folder = root / (split + pattern.format(group=("car", "cat")[i % 2]))
            folder.mkdir(parents=True, exist_ok=True)
            image = Image.fromarray(upsampling_trace_image(rng, fake, size, amplitude))
            image.save(folder / f"{i:05d}.{fmt.lower().replace('jpeg', 'jpg')}", format=fmt,
                       **({"quality": 95} if fmt == "JPEG" else {"compress_level": 1} if fmt == "PNG" else {}))
    return root
