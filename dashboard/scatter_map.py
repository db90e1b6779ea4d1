"""The map of the test set on the Errors page: one row per test image with its map position, the chosen model's
verdict and the colourings, the WebGL scatter, and what a box or lasso selection picked.

The coordinates and clusters are the entry's map.npz (model_zoo.zoo.ZooEntry.test_map, written by
`python -m training.error_map`), in the entry's test_predictions.csv row order; everything else here is worked out
on the fly from the stored predictions, so a map draws without any image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from model_zoo.decision import CLASS_NAMES, labels_for

# Colourings every map offers; attribute columns (content class, measured properties) are added when known.
BASE_COLOURS = ("right or wrong", "true class", "verdict", "confidence", "cluster")
CATEGORY_COLOURS = {"right": "#9aa5b1", "wrong": "#d62728", "REAL": "#1f77b4", "FAKE": "#ff7f0e"}
MAX_CATEGORIES = 12  # a column with more values than this is coloured as a number


def map_frame(predictions: pd.DataFrame, arrays: Mapping[str, np.ndarray], threshold: float) -> pd.DataFrame:
    """One row per test image of the map's model, in its predictions' order: path, label, prob_fake, x, y, verdict,
    right or wrong, confidence (in the class it chose), cluster (-1: right)."""
    coords = np.asarray(arrays["coords"], np.float32)
    predicted = labels_for(predictions["prob_fake"].to_numpy(float), threshold)
    labels = predictions["label"].to_numpy(int)
    prob = predictions["prob_fake"].to_numpy(float)
    return pd.DataFrame({
        "path": predictions["path"].to_numpy(),
        "label": labels,
        "prob_fake": prob,
        "x": coords[:, 0],
        "y": coords[:, 1],
        "true class": [CLASS_NAMES[v] for v in labels],
        "verdict": [CLASS_NAMES[v] for v in predicted],
        "right or wrong": np.where(predicted == labels, "right", "wrong"),
        "confidence": np.where(predicted == 1, prob, 1 - prob),
        "cluster": np.asarray(arrays["cluster"], int),
    })


def with_attributes(frame: pd.DataFrame, attributes: pd.DataFrame | None) -> pd.DataFrame:
    """The frame with the images' attributes it can be coloured and sliced by (model_zoo.image_attributes, indexed by
    path as test_rows gives them): content class (when the data has one), the measured properties, and the duplicate
    kind (model_zoo.slice_errors)."""
    from model_zoo.image_attributes import PROPERTIES
    from model_zoo.slice_errors import CONTENT, DUPLICATES, slice_values

    if attributes is None or attributes.empty:
        return frame
    rows = attributes.reindex(frame["path"])
    extra = {}
    if CONTENT in rows.columns and (rows[CONTENT].fillna("") != "").any():
        extra[CONTENT] = rows[CONTENT].fillna("").to_numpy()
    for name in PROPERTIES:
        if name in rows.columns and rows[name].notna().any():
            extra[name] = rows[name].to_numpy(float)
    if {"exact_other_split", "near_other_split"} <= set(rows.columns):
        extra[DUPLICATES] = slice_values(rows.fillna({"exact_other_split": False, "near_other_split": False}),
                                         DUPLICATES).to_numpy()
    return frame.assign(**extra)


def colour_options(frame: pd.DataFrame) -> list[str]:
    """What the map can be coloured by: the base colourings, then any attribute column joined on."""
    base = [c for c in BASE_COLOURS if c in frame.columns]
    known = {"path", "label", "prob_fake", "x", "y", *BASE_COLOURS}
    return base + [c for c in frame.columns if c not in known]


def is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or series.name == "cluster" or series.nunique() <= 2


def _category_label(column: str, value: Any) -> str:
    if column == "cluster":
        return "right (no cluster)" if int(value) < 0 else f"cluster {int(value) + 1}"
    return str(value)


def _custom(rows: np.ndarray, prob_fake: np.ndarray) -> np.ndarray:
    """Each point's customdata: [row, P(FAKE)] as one float array (sent to the browser as a compact typed array)."""
    return np.stack([rows.astype(np.float64), np.round(prob_fake.astype(np.float64), 3)], axis=1)


def trace_rows(frame: pd.DataFrame, colour: str) -> list[tuple[str, np.ndarray]]:
    """The map's traces for a colouring, in drawing order: (legend label, rows of `frame`) each; one trace of every
    row when the colouring is a number. Errors come last, so they are drawn on top."""
    if not is_categorical(frame[colour]):
        return [(colour, np.arange(len(frame)))]
    values = frame[colour].to_numpy()
    order = sorted(pd.unique(values), key=int) if colour == "cluster" else sorted(
        pd.unique(values), key=lambda v: (str(v) in ("wrong",), str(v)))
    return [(_category_label(colour, value), np.flatnonzero(values == value)) for value in order[:MAX_CATEGORIES]]


def map_figure(frame: pd.DataFrame, colour: str, title: str = "", height: int = 560) -> go.Figure:
    """A WebGL scatter (Scattergl) of the map, one trace per trace_rows entry; each point's customdata is its row in
    `frame` and its P(FAKE) (selected_rows reads a selection back by trace and point index)."""
    figure = go.Figure()
    hover = "test image %{customdata[0]}<br>P(FAKE) %{customdata[1]:.3f}<extra></extra>"
    x, y, prob = frame["x"].to_numpy(), frame["y"].to_numpy(), frame["prob_fake"].to_numpy()
    numeric = not is_categorical(frame[colour])
    for label, rows in trace_rows(frame, colour):
        if numeric:
            marker = {"size": 4, "opacity": 0.75, "color": frame[colour].to_numpy(float), "colorscale": "Viridis",
                      "colorbar": {"title": colour}}
        else:
            marker = {"size": 5 if label == "wrong" or label.startswith("cluster") else 4, "opacity": 0.7}
            if label in CATEGORY_COLOURS:
                marker["color"] = CATEGORY_COLOURS[label]
        figure.add_trace(go.Scattergl(x=x[rows], y=y[rows], mode="markers", marker=marker,
                                      name=label if numeric else f"{label} ({len(rows):,})",
                                      customdata=_custom(rows, prob[rows]), hovertemplate=hover))
    figure.update_layout(title=title, height=height, dragmode="lasso", margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         legend={"itemsizing": "constant"}, xaxis={"visible": False}, yaxis={"visible": False})
    return figure


def selected_rows(selection: Mapping[str, Any] | None, traces: Sequence[tuple[str, np.ndarray]]) -> list[int]:
    """Rows of the map's frame a box or lasso selection picked (st.plotly_chart's event.selection), in order: each
    point by its trace and index in it (trace_rows), or by its customdata where the event carries no index."""
    n_rows = sum(len(rows) for _, rows in traces)
    picked = []
    for point in (selection or {}).get("points") or []:
        curve, index = point.get("curve_number"), point.get("point_index", point.get("point_number"))
        if isinstance(curve, int) and isinstance(index, int) and 0 <= curve < len(traces) and \
                0 <= index < len(traces[curve][1]):
            picked.append(int(traces[curve][1][index]))
            continue
        custom = point.get("customdata")
        value = custom[0] if isinstance(custom, (list, tuple)) and custom else custom
        try:
            row = int(float(value))
        except (TypeError, ValueError):
            continue
        if 0 <= row < n_rows:
            picked.append(row)
    return list(dict.fromkeys(picked))


def map_caption(arrays: Mapping[str, np.ndarray], model: str) -> str:
    """Where the map comes from, in words built from the stored facts."""
    source = str(arrays.get("source", model))
    method = str(arrays.get("method", "?"))
    layer = str(arrays.get("layer", "?"))
    whose = f"{model}'s own features" if source == model else f"its best member {source}'s features"
    recall, trust = arrays.get("knn_recall"), arrays.get("trustworthiness")
    kept = (f"; on the map {float(recall):.0%} of each image's 10 nearest neighbours in feature space stay among its "
            f"10 nearest (trustworthiness {float(trust):.3f})" if recall is not None and trust is not None else "")
    return (f"{len(arrays['coords']):,} test images placed by {whose} (layer `{layer}`), reduced to 2-D by "
            f"{method}{kept}. Near points look alike to the model; the axes have no units.")


def content_from_names(paths: pd.Series) -> pd.DataFrame:
    """CIFAKE's content class of each test path from its file name alone (model_zoo.image_attributes.cifake_content),
    indexed by path like model_zoo.image_attributes.test_rows: what the page knows without the images."""
    from model_zoo.image_attributes import cifake_content

    unique = pd.Index(pd.unique(paths), name="path")
    return pd.DataFrame({"content": [cifake_content(str(p)) for p in unique]}, index=unique)


def slice_choices(attributes: pd.DataFrame | None) -> list[str]:
    """The slice dimensions (model_zoo.slice_errors.ATTRIBUTES) these attributes can cut the test set by."""
    from model_zoo.slice_errors import ATTRIBUTES, DUPLICATES

    if attributes is None:
        return []
    needed = {DUPLICATES: "exact_other_split"}
    return [by for by in ATTRIBUTES if needed.get(by, by) in attributes.columns]
