"""Explanation maps for the dashboard: the computation lives in model_zoo.saliency (training measures the same maps).

Kept as the dashboard's import point: `from dashboard.explain import METHODS, explanation_map`.
"""

from __future__ import annotations

from model_zoo.saliency import (
    METHODS,
    SCORE_CAM_CHANNELS,
    SMOOTH_SAMPLES,
    TARGETS,
    explanation_map,
    explanation_maps,
    gradcam_layer,
)

__all__ = ["METHODS", "SCORE_CAM_CHANNELS", "SMOOTH_SAMPLES", "TARGETS", "explanation_map", "explanation_maps",
           "gradcam_layer"]
