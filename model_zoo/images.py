"""Decode any image a user may hand us into an RGB uint8 array, or fail clearly.

Every entry point that accepts an image (dataset loader, predict CLI, HTTP API,
dashboard upload) goes through `decode_image`, so they all accept and reject
the same things with the same messages.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# A 32x32 detector never needs more than this; larger files are refused before
# their pixels are decoded (decompression bombs are tiny files with huge sizes).
MAX_PIXELS = 60_000_000
MAX_BYTES = 50 * 1024 * 1024

# Pillow's own bomb check raises at 2x its limit; ours is explicit and lower.
Image.MAX_IMAGE_PIXELS = None


class ImageError(ValueError):
    """An input that is not a usable image; the message says why."""


def _open(source: bytes | str | os.PathLike, name: str) -> Image.Image:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{name}: no such file")
        if path.stat().st_size > MAX_BYTES:
            raise ImageError(f"{name}: file is larger than {MAX_BYTES // 2**20} MB")
        data = path.read_bytes()
    if not data:
        raise ImageError(f"{name}: file is empty")
    if len(data) > MAX_BYTES:
        raise ImageError(f"{name}: file is larger than {MAX_BYTES // 2**20} MB")
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image Pillow can read (JPEG, PNG, WebP, BMP, GIF)") from None
    except Exception as exc:  # Pillow raises many types for broken headers
        raise ImageError(f"{name}: unreadable image header ({exc})") from None


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is flattened onto white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit / 32-bit grayscale: rescale to 0..255 instead of clipping.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr, mode="L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def decode_image(
    source: bytes | str | os.PathLike,
    *,
    name: str | None = None,
    min_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Return the image as an (H, W, 3) uint8 RGB array.

    `min_size` (height, width) lets JPEG decoding skip detail a small model
    will never see (Pillow's draft mode decodes at 1/2, 1/4 or 1/8 scale while
    staying at least this big), which makes multi-megapixel photos cheap.
    Animated images give their first frame; EXIF orientation is applied.
    Raises ImageError with a message naming `name` for anything unusable.
    """
    name = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "upload")
    img = _open(source, name)
    width, height = img.size
    if width < 1 or height < 1:
        raise ImageError(f"{name}: image has no pixels")
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name}: {width}x{height} pixels is over the limit of {MAX_PIXELS // 1_000_000} megapixels"
        )
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)  # animated GIF/WebP/PNG: judge the first frame
        if min_size is not None and img.format == "JPEG":
            # EXIF rotation may swap the axes, so ask for the larger side on both.
            side = max(min_size)
            img.draft("RGB", (side, side))
        img.load()
        img = ImageOps.exif_transpose(img)
        rgb = _to_rgb(img)
        array = np.asarray(rgb, dtype=np.uint8)
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{name}: image data is truncated or corrupt ({exc})") from None
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageError(f"{name}: could not convert to RGB (got shape {array.shape})")
    return array
