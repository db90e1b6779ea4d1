"""Heatmaps on one scale: every explanation method's maps are min-max scaled to [0, 1] the same way, so Grad-CAM,
occlusion and the rest can be compared, averaged (a consensus) and blended (a crop grid)."""

from __future__ import annotations

import numpy as np


def unit_range(heatmaps: np.ndarray) -> np.ndarray:
    """Min-max each map of (N, H, W) to [0, 1]; a flat map becomes 0 (no evidence) or 1 (flat positive)."""
    heatmaps = np.nan_to_num(np.asarray(heatmaps, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low = heatmaps.min(axis=(1, 2), keepdims=True)
    high = heatmaps.max(axis=(1, 2), keepdims=True)
    span = high - low
    flat = span < 1e-12
    scaled = np.clip((heatmaps - low) / np.where(flat, 1.0, span), 0.0, 1.0)
    return np.where(flat, (high > 0).astype(np.float32), scaled).astype(np.float32)
