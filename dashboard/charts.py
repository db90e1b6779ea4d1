"""Plotly figures for the dashboard pages; plain functions of data frames and arrays, no Streamlit."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.evaluation import (
    normalized_confusion,
    pr_points,
    reliability_bins,
    roc_points,
)
from model_zoo.decision import CLASS_NAMES, ECE_BINS, expected_calibration_error

_MARGIN = dict(l=10, r=10, t=50, b=10)
_PALETTE = px.colors.qualitative.Plotly


def model_colors(names) -> dict[str, str]:
    """A fixed colour per model name (by sorted order), so every chart on a page agrees."""
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(sorted(set(names)))}


def confusion_figure(confusion: list[list[int]] | np.ndarray, title: str = "Confusion matrix",
                     normalized: bool = False) -> go.Figure:
    """Rows = true class, columns = predicted class; counts or row-normalised rates."""
    counts = np.asarray(confusion, dtype=float)
    values = normalized_confusion(counts) if normalized else counts
    text = [[f"{v:.1%}" if normalized else f"{int(v):,}" for v in row] for row in values]
    figure = go.Figure(go.Heatmap(
        z=values, x=[f"pred {c}" for c in CLASS_NAMES], y=[f"true {c}" for c in CLASS_NAMES],
        text=text, texttemplate="%{text}", colorscale="Blues", showscale=False,
        zmin=0, zmax=1 if normalized else max(1.0, float(values.max())),
    ))
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(title=title, height=300, margin=_MARGIN)
    return figure


def roc_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """ROC curves of several models (name -> (labels, P(FAKE))) over the chance diagonal."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color="grey"), name="chance"))
    colors = model_colors(curves)
    for name, (labels, probs) in curves.items():
        points = roc_points(labels, probs)
        if points.empty:
            continue
        auc = float(np.trapezoid(points["tpr"], points["fpr"]))
        figure.add_trace(go.Scatter(x=points["fpr"], y=points["tpr"], mode="lines", name=f"{name} (AUC {auc:.3f})",
                                    line=dict(color=colors[name])))
    figure.update_layout(title="ROC curve", xaxis_title="false positive rate (REAL called FAKE)",
                         yaxis_title="true positive rate (FAKE caught)", height=380, margin=_MARGIN,
                         xaxis=dict(range=[0, 1]), yaxis=dict(range=[0, 1.02]))
    return figure


def pr_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Precision-recall curves (FAKE is the positive class) of several models."""
    figure = go.Figure()
    colors = model_colors(curves)
    for name, (labels, probs) in curves.items():
        points = pr_points(labels, probs)
        if points.empty:
            continue
        figure.add_trace(go.Scatter(x=points["recall"], y=points["precision"], mode="lines",
                                    name=f"{name} (AP {points.attrs['ap']:.3f})", line=dict(color=colors[name])))
    figure.update_layout(title="Precision-recall curve", xaxis_title="recall", yaxis_title="precision",
                         height=380, margin=_MARGIN, xaxis=dict(range=[0, 1]), yaxis=dict(range=[0, 1.02]))
    return figure


def reliability_figure(labels: np.ndarray, prob_fake: np.ndarray, n_bins: int = ECE_BINS) -> go.Figure:
    """Reliability diagram: observed fraction FAKE per bin of predicted P(FAKE), with the ECE in the title."""
    bins = reliability_bins(labels, prob_fake, n_bins)
    ece = expected_calibration_error(labels, prob_fake, n_bins)
    used = bins[bins["count"] > 0]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    centres = (bins["bin_low"] + bins["bin_high"]) / 2
    figure.add_trace(go.Bar(x=centres, y=bins["count"], width=1 / n_bins * 0.9, name="images",
                            marker_color="rgba(150,150,150,0.35)"), secondary_y=True)
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color="grey"),
                                name="perfect calibration"))
    figure.add_trace(go.Scatter(x=used["mean_prob"], y=used["fraction_fake"], mode="lines+markers", name="model"))
    figure.update_layout(title=f"Reliability diagram (ECE {ece:.3f})", height=380, margin=_MARGIN,
                         xaxis=dict(title="predicted P(FAKE)", range=[0, 1]))
    figure.update_yaxes(title_text="observed fraction FAKE", range=[0, 1.02], secondary_y=False)
    # Counts stay in the lower third so they never hide the calibration curve. Ticks of their own ("auto"):
    # synced to the left axis they land on odd numbers such as 5267.
    figure.update_yaxes(title_text="images per bin", secondary_y=True, showgrid=False, tickformat="~s",
                        tickmode="auto", nticks=4, range=[0, 3 * max(1, int(bins["count"].max()))])
    return figure


def history_figure(history: pd.DataFrame) -> go.Figure:
    """Loss and accuracy per epoch, train vs validation, side by side."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    styles = {"": dict(name="train", color="#1f77b4"), "val_": dict(name="validation", color="#ff7f0e")}
    for prefix, style in styles.items():
        for col, metric in ((1, "loss"), (2, "accuracy")):
            key = f"{prefix}{metric}"
            if key in history:
                figure.add_trace(go.Scatter(x=history["epoch"], y=history[key], mode="lines+markers", name=style["name"],
                                            line=dict(color=style["color"]), legendgroup=style["name"],
                                            showlegend=col == 1), row=1, col=col)
    figure.update_xaxes(title_text="epoch", dtick=1)
    figure.update_layout(height=340, margin=_MARGIN)
    return figure


def metric_bars(metrics: pd.DataFrame) -> go.Figure:
    """Grouped bars of (model, metric, value) rows. With a `test set` column naming more than one set, each model's
    legend entry names the set its figures are on (they are not on the same images)."""
    sets = metrics.dropna(subset=["test set"]) if "test set" in metrics else pd.DataFrame(columns=["model", "test set"])
    on = dict(zip(sets["model"], sets["test set"], strict=True)) if sets["test set"].nunique() > 1 else {}
    figure = px.bar(metrics, x="metric", y="value", color="model", barmode="group", text_auto=".3f",
                    color_discrete_map=model_colors(metrics["model"]))
    figure.for_each_trace(lambda trace: trace.update(name=f"{trace.name} (on {on[trace.name]})")
                          if trace.name in on else ())
    figure.update_layout(title="Test metrics" + (", each model on its own test set" if on else ""),
                         yaxis=dict(range=_zoomed_range(metrics["value"])), height=360, margin=_MARGIN)
    return figure


def _zoomed_range(values: pd.Series) -> list[float]:
    """A y-range that starts just below the lowest bar: good models differ in the third decimal."""
    low = float(values.min()) if len(values) else 0.0
    return [max(0.0, np.floor((low - 0.02) * 50) / 50), 1.005]


def disagreement_figure(matrix: pd.DataFrame) -> go.Figure:
    """Pairwise fraction of test images on which two models' verdicts differ."""
    figure = go.Figure(go.Heatmap(z=matrix.to_numpy(), x=list(matrix.columns), y=list(matrix.index),
                                  text=[[f"{v:.1%}" for v in row] for row in matrix.to_numpy()],
                                  texttemplate="%{text}", colorscale="Oranges", zmin=0, showscale=False))
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(title="How often two models disagree", height=320, margin=_MARGIN)
    return figure


def class_counts_figure(counts: pd.DataFrame) -> go.Figure:
    """Images per class in each split, from (split, class, count) rows."""
    figure = px.bar(counts, x="split", y="count", color="class", barmode="group", text_auto=",",
                    color_discrete_map={"REAL": "#2ca02c", "FAKE": "#d62728"})
    figure.update_layout(title="Images per class and split", height=340, margin=_MARGIN)
    return figure


def spectrum_figure(spectrum: np.ndarray, title: str, diverging: bool = False) -> go.Figure:
    """A centred Fourier spectrum as a heatmap; diverging colours (0 = white) for differences."""
    extent = float(np.abs(spectrum).max()) or 1.0
    kwargs = dict(colorscale="RdBu_r", zmid=0, zmin=-extent, zmax=extent) if diverging else dict(colorscale="Viridis")
    height, width = spectrum.shape
    figure = go.Figure(go.Heatmap(z=spectrum, x=np.arange(width) - width // 2, y=np.arange(height) - height // 2, **kwargs))
    # constrain="domain": the square plot shrinks to the spectrum instead of padding its axes with empty range.
    figure.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", title_text="vertical frequency")
    figure.update_xaxes(constrain="domain", title_text="horizontal frequency")
    figure.update_layout(title=title, height=360, margin=_MARGIN)
    return figure


CLEAN = "none"  # robustness.csv's uncorrupted baseline row
PANELS_PER_ROW = 4


def small_multiples(titles: list[str], empty_title: str, vertical_spacing: float) -> go.Figure:
    """A grid of panels, up to PANELS_PER_ROW a row, one per title (one titled `empty_title` when there are none);
    panel i sits at panel_cell(i)."""
    columns = max(1, min(PANELS_PER_ROW, len(titles)))
    return make_subplots(rows=grid_rows(len(titles)), cols=columns, subplot_titles=titles or [empty_title],
                         horizontal_spacing=0.05, vertical_spacing=vertical_spacing)


def grid_rows(panels: int) -> int:
    """How many rows a small_multiples grid of `panels` panels has (for the figure's height)."""
    return max(1, -(-panels // max(1, min(PANELS_PER_ROW, panels))))


def panel_cell(index: int, panels: int) -> tuple[int, int]:
    """(row, col), 1-based, of panel `index` in a small_multiples grid of `panels` panels."""
    columns = max(1, min(PANELS_PER_ROW, panels))
    return index // columns + 1, index % columns + 1


def robustness_figure(robustness: pd.DataFrame) -> go.Figure:
    """One panel per corruption: accuracy at each level (in the stored order, mildest first), one line per model;
    the clean accuracy (corruption "none") is a dotted line in each panel.
    """
    frame = robustness.copy()
    if "model" not in frame:
        frame["model"] = "model"
    frame["step"] = frame.groupby(["model", "corruption"]).cumcount()
    corrupted = frame[frame["corruption"] != CLEAN].copy()
    corrupted["level"] = corrupted["level"].map(_level_label)
    corruptions = list(dict.fromkeys(corrupted["corruption"]))
    colors = model_colors(frame["model"])
    figure = small_multiples(corruptions, "(no corruptions)", vertical_spacing=0.18)
    for index, corruption in enumerate(corruptions):
        row, col = panel_cell(index, len(corruptions))
        for model, rows_of_model in corrupted[corrupted["corruption"] == corruption].groupby("model", sort=False):
            figure.add_trace(go.Scatter(x=rows_of_model["level"], y=rows_of_model["accuracy"], mode="lines+markers",
                                        name=model, legendgroup=model, showlegend=index == 0,
                                        line=dict(color=colors[model])), row=row, col=col)
        for model, clean in frame[frame["corruption"] == CLEAN].groupby("model", sort=False):
            figure.add_hline(y=float(clean["accuracy"].iloc[0]), line=dict(dash="dot", color=colors[model], width=1),
                             row=row, col=col)
        figure.update_xaxes(type="category", title_text="level", row=row, col=col,
                            categoryorder="array", categoryarray=level_order(robustness, corruption))
    figure.update_yaxes(range=[0, 1.02])
    figure.update_layout(title="Accuracy under corruptions (dotted: clean test accuracy)",
                         height=140 + 280 * grid_rows(len(corruptions)),
                         margin={**_MARGIN, "t": 90})
    return figure


def level_order(robustness: pd.DataFrame, corruption: str) -> list[str]:
    """Every level of one corruption, mildest first, as the x labels: models measured at different levels
    (one adds JPEG quality 40) share one axis. Numeric levels are sorted in the direction the stored order
    runs (quality falls, sigma rises); others keep their first appearance."""
    rows = robustness[robustness["corruption"] == corruption]
    levels = list(dict.fromkeys(rows["level"]))
    try:
        numbers = [float(v) for v in levels]
    except (TypeError, ValueError):
        return [_level_label(v) for v in levels]
    runs = (rows.groupby("model", sort=False)["level"] if "model" in rows else [(None, rows["level"])])
    falling = sum(float(s.iloc[0]) > float(s.iloc[-1]) for _, s in runs if len(s) > 1)
    rising = sum(float(s.iloc[0]) < float(s.iloc[-1]) for _, s in runs if len(s) > 1)
    ordered = sorted(zip(numbers, levels, strict=True), key=lambda pair: pair[0], reverse=falling > rising)
    return list(dict.fromkeys(_level_label(level) for _, level in ordered))


def _level_label(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float, np.number)) else str(value)


def study_bars(study: pd.DataFrame, group: str, title: str) -> go.Figure:
    """Test accuracy / F1 / ROC-AUC per model of a study, coloured by the studied setting."""
    long = study.melt(id_vars=["model", group], value_vars=["accuracy", "f1", "roc_auc"], var_name="metric")
    figure = px.bar(long, x="metric", y="value", color="model", barmode="group", text_auto=".3f",
                    hover_data=[group], color_discrete_map=model_colors(long["model"]))
    figure.update_layout(title=title, yaxis=dict(range=_zoomed_range(long["value"])), height=360, margin=_MARGIN)
    return figure


def validation_curves_figure(history: pd.DataFrame) -> go.Figure:
    """Validation loss and accuracy per epoch of several models, overlaid."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("validation loss", "validation accuracy"))
    colors = model_colors(history["model"])
    for name, rows in history.groupby("model", sort=False):
        colour = colors[name]
        figure.add_trace(go.Scatter(x=rows["epoch"], y=rows["val_loss"], mode="lines+markers", name=name,
                                    line=dict(color=colour), legendgroup=name), row=1, col=1)
        figure.add_trace(go.Scatter(x=rows["epoch"], y=rows["val_accuracy"], mode="lines+markers", name=name,
                                    line=dict(color=colour), legendgroup=name, showlegend=False), row=1, col=2)
    figure.update_xaxes(title_text="epoch", dtick=1)
    figure.update_layout(height=340, margin=_MARGIN)
    return figure
