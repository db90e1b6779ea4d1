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

from training.data import IMAGE_SIZE


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
