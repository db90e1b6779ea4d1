"""Turn a [0, 1] heatmap into a coloured overlay on the image the model saw, for display and download.

Model inputs are tiny (32x32), so everything is enlarged for the screen: the
image with nearest-neighbour (its pixels stay visible), the heatmap bilinearly.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

COLORMAPS: dict[str, int] = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "magma": cv2.COLORMAP_MAGMA,
    "hot": cv2.COLORMAP_HOT,
    "plasma": cv2.COLORMAP_PLASMA,
}
DISPLAY_SIZE = 256


def enlarge(image: np.ndarray, size: int = DISPLAY_SIZE) -> np.ndarray:
    """Nearest-neighbour upscale of an (H, W[, 3]) uint8 image so its longer side is `size`."""
    height, width = image.shape[:2]
    scale = size / max(height, width)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, target, interpolation=cv2.INTER_NEAREST)


def colorize(heatmap: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 RGB through an OpenCV colour map."""
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colour map {colormap!r}; choose one of {', '.join(COLORMAPS)}")
    levels = np.clip(np.nan_to_num(heatmap, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    bgr = cv2.applyColorMap(levels, COLORMAPS[colormap])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5, colormap: str = "jet",
            size: int = DISPLAY_SIZE) -> np.ndarray:
    """Blend the coloured heatmap over the enlarged image: alpha 0 = image only, 1 = heatmap only."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    base = enlarge(image, size)
    height, width = base.shape[:2]
    heat = cv2.resize(np.asarray(heatmap, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    colour = colorize(heat, colormap)
    blended = (1.0 - alpha) * base.astype(np.float32) + alpha * colour.astype(np.float32)
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """PNG encoding of a uint8 RGB image, for download buttons."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()
