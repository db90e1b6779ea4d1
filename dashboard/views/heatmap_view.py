"""The heatmap panel shared by the Inspect and Errors pages: method/colour controls and one overlay per model.

Maps are computed only for the models and method the user asked for, and kept
per session, so moving the opacity slider or switching colour maps never reruns a model.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import streamlit as st

from dashboard.faithfulness_tables import report_for
from dashboard.overlays import COLORMAPS, enlarge, overlay, png_bytes
from dashboard.views.faithfulness_view import caption_flag, heatmap_note
from model_zoo import LoadedModel
from model_zoo.card import Card
from model_zoo.decision import CLASS_NAMES, label_name
from model_zoo.saliency import METHODS, explanation_map

_CACHE_KEY = "_heatmap_cache"
_CACHE_SIZE = 128


@dataclass(frozen=True)
class HeatmapSettings:
    method: str
    target: str  # "FAKE", "REAL" or "verdict" (explain each model's own verdict)
    colormap: str
    alpha: float


def controls(key: str) -> HeatmapSettings:
    """Method, explained class, colour map and opacity selectors (widget keys prefixed by `key`)."""
    cols = st.columns([3, 2, 1, 2])
    method = cols[0].radio("Method", METHODS, horizontal=True, key=f"{key}_method",
                           help="Grad-CAM/Grad-CAM++: gradients at the last conv layer. Score-CAM: masks the input with "
                                "each feature map (slower). SmoothGrad: pixel gradients averaged over noisy copies. "
                                "Occlusion: how much the verdict's probability drops where a grey patch hides the "
                                "image (no gradients; a crop model's patch slides over the whole image).")
    target = cols[1].radio("Explain", ("verdict", "FAKE", "REAL"), horizontal=True, key=f"{key}_target",
                           help="Evidence for each model's own verdict, or for one class in every model.")
    colormap = cols[2].selectbox("Colour map", list(COLORMAPS), key=f"{key}_cmap")
    alpha = cols[3].slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key=f"{key}_alpha")
    return HeatmapSettings(method, target, colormap, alpha)


def cached_map(model, card: Card, model_key: str, seen: np.ndarray, method: str, target: str) -> np.ndarray:
    """explanation_map, remembered per session for (model, image, method, class)."""
    cache: OrderedDict = st.session_state.setdefault(_CACHE_KEY, OrderedDict())
    digest = hashlib.sha1(np.ascontiguousarray(seen).tobytes()).hexdigest()
    key = (model_key, digest, seen.shape, method, target)
    if key not in cache:
        cache[key] = explanation_map(model, card, seen, method, target)
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return cache[key]


def verdict_caption(name: str, prob: float | None, verdict: str | None, decision: str | None = None) -> str:
    """'name: FAKE (P(FAKE) 0.912)'; an UNCERTAIN decision says so and which side the map explains."""
    if prob is None:
        return name
    if decision is not None and decision != verdict:  # inside the abstain band: the map shows the side it leans to
        return f"{name}: {decision}, leaning {verdict} (P(FAKE) {prob:.3f})"
    return f"{name}: {verdict} (P(FAKE) {prob:.3f})"


def show(image_name: str, seen: Mapping[str, np.ndarray], models: Mapping[str, LoadedModel],
         prob_fake: Mapping[str, float], settings: HeatmapSettings, key: str, override: float | None = None,
         decisions: Mapping[str, str] | None = None) -> None:
    """One column per model: its input enlarged, the overlay, its verdict (at its card's threshold, or
    `override` for every model; `decisions` adds UNCERTAIN where the judge abstained), and a PNG download.
    """
    names = [m for m in models if m in seen]
    if not names:
        return
    columns = st.columns(max(3, min(4, len(names))))  # at least 3 columns keeps a lone overlay screen-sized
    for index, name in enumerate(names):
        model, card = models[name].model, models[name].card
        prob = prob_fake.get(name)
        verdict = None if prob is None else label_name(prob, card if override is None else override)
        target = settings.target if settings.target != "verdict" else (verdict or CLASS_NAMES[1])
        with st.spinner(f"{settings.method} for {name}…"):
            heat = cached_map(model, card, f"{name}@{card.created or ''}", seen[name], settings.method, target)
        picture = overlay(seen[name], heat, settings.alpha, settings.colormap)
        with columns[index % len(columns)]:
            caption = verdict_caption(name, prob, verdict, (decisions or {}).get(name))
            report = report_for(name)  # the method's measured faithfulness for this model, flagged if it fails
            st.image(picture, caption=f"{caption} · {settings.method} for {target}"
                     f"{caption_flag(settings.method, report)}", width="stretch")
            if float(heat.max()) == 0.0:
                st.caption(f"No positive {settings.method} evidence for {target} in this image.")
            heatmap_note(name, settings.method, report, consensus=card.is_consensus, card=card)
            st.download_button("Download overlay", png_bytes(picture), file_name=f"{_stem(image_name)}_{name}_"
                               f"{settings.method.lower().replace(' ', '')}_{target.lower()}.png", mime="image/png",
                               key=f"{key}_dl_{index}", icon=":material/download:")


def model_input_strip(seen: Mapping[str, np.ndarray], size: int = 128) -> None:
    """The exact input each model receives, enlarged with nearest-neighbour so its pixels stay visible."""
    names = list(seen)
    if not names:
        return
    columns = st.columns(min(6, len(names)))
    for index, name in enumerate(names):
        height, width = seen[name].shape[:2]
        columns[index % len(columns)].image(enlarge(seen[name], size), caption=f"{name} sees {width}x{height}")


def _stem(name: str) -> str:
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem) or "image"
