"""Where models fail and what the data holds, per slice: tables, figures and the sentence from slices.csv and the
image attributes (model_zoo.slice_errors, model_zoo.image_attributes); plain functions, no Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from model_zoo.decision import CLASS_NAMES
from model_zoo.image_attributes import PROPERTY_LABELS
from model_zoo.slice_errors import ALL, CONTENT, overall_rate, rates_by_value, sliced_by, weakest_sentence

RATE_NAMES = {"REAL": "REAL called FAKE", "FAKE": "FAKE missed"}
CLASS_COLOURS = {"REAL": "#2ca02c", "FAKE": "#d62728"}  # as the Data page's class counts (dashboard.charts)
SPLIT_COLOURS = {"train REAL": "#2ca02c", "train FAKE": "#d62728", "test REAL": "#98df8a", "test FAKE": "#ff9896"}


def attribute_label(by: str) -> str:
    """How an attribute is named on the pages."""
    return "content class" if by == CONTENT else PROPERTY_LABELS.get(by, by)


def slice_choices(table: pd.DataFrame) -> list[str]:
    """The attributes the stored table has slices of, content class first."""
    return sliced_by(table)


def slice_sentence(name: str, table: pd.DataFrame) -> str:
    """The model's weakest-slice sentence (model_zoo.slice_errors.weakest_sentence)."""
    return weakest_sentence(name, table)


def _cell(rate: float, low: float, high: float) -> str:
    return "" if pd.isna(rate) else f"{rate:.1%} ({low:.1%}-{high:.1%})"


def slice_rows(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """The page's table for one attribute: per value, REAL's false-positive rate and FAKE's miss rate with their 95%
    intervals and image counts, the whole test split first."""
    frames = []
    for name in (ALL, by):
        wide = rates_by_value(table, name)
        for true_class in CLASS_NAMES:
            if f"{true_class} rate" not in wide:
                wide[f"{true_class} rate"] = wide[f"{true_class} ci_low"] = wide[f"{true_class} ci_high"] = np.nan
                wide[f"{true_class} n"] = 0
        frames.append(pd.DataFrame({
            attribute_label(by): ["all test images" if name == ALL else value for value in wide.index],
            **{f"{RATE_NAMES[c]} (95% interval)": [_cell(r, lo, hi) for r, lo, hi in zip(
                wide[f"{c} rate"], wide[f"{c} ci_low"], wide[f"{c} ci_high"], strict=True)] for c in CLASS_NAMES},
            **{f"{c} images": wide[f"{c} n"].fillna(0).astype(int).to_numpy() for c in CLASS_NAMES},
        }))
    return pd.concat(frames, ignore_index=True)


def slice_figure(table: pd.DataFrame, by: str, title: str | None = None) -> go.Figure:
    """Error rate per value of `by`, one bar per true class with its Wilson 95% interval, over dashed lines at the
    model's overall rates."""
    wide = rates_by_value(table, by)
    figure = go.Figure()
    for true_class in CLASS_NAMES:
        if f"{true_class} rate" not in wide:
            continue
        rate = wide[f"{true_class} rate"]
        figure.add_trace(go.Bar(
            x=list(wide.index), y=rate, name=RATE_NAMES[true_class], marker_color=CLASS_COLOURS[true_class],
            error_y=dict(type="data", symmetric=False, array=wide[f"{true_class} ci_high"] - rate,
                         arrayminus=rate - wide[f"{true_class} ci_low"]),
            hovertemplate="%{x}: %{y:.1%}<extra>" + RATE_NAMES[true_class] + "</extra>"))
        overall = overall_rate(table, true_class)
        if not np.isnan(overall):  # a dashed line across the slices, named in the legend
            figure.add_trace(go.Scatter(
                x=list(wide.index), y=[overall] * len(wide), mode="lines", name=f"all {true_class} images: {overall:.1%}",
                line=dict(dash="dash", color=CLASS_COLOURS[true_class], width=1.5), hoverinfo="skip"))
    figure.update_layout(title=title or f"Errors per {attribute_label(by)} (95% intervals)", barmode="group",
                         yaxis_tickformat=".0%", yaxis_title="error rate", height=380, margin=dict(l=10, r=10, t=50, b=10),
                         legend=dict(orientation="h", y=-0.2))
    return figure


# ---- the Data page --------------------------------------------------------------------------------------

def content_balance(attributes: pd.DataFrame) -> pd.DataFrame:
    """Images per content class (rows) and split and class (columns "train REAL", ...); empty without classes."""
    named = attributes[attributes["content"] != ""]
    if named.empty:
        return pd.DataFrame()
    counts = named.groupby(["content", "split", "label"]).size().unstack(["split", "label"], fill_value=0)
    columns = [(split, label) for split in ("train", "test") for label in (0, 1) if (split, label) in counts.columns]
    counts = counts[columns]
    counts.columns = [f"{split} {CLASS_NAMES[label]}" for split, label in columns]
    return counts


def content_balance_figure(balance: pd.DataFrame) -> go.Figure:
    """Grouped bars of content_balance: one bar per split and class for each content class."""
    figure = go.Figure([go.Bar(x=list(balance.index), y=balance[column], name=column,
                               marker_color=SPLIT_COLOURS.get(column)) for column in balance.columns])
    figure.update_layout(title="Images per content class", barmode="group", height=340, yaxis_title="images",
                         margin=dict(l=10, r=10, t=50, b=10))
    return figure


def content_samples(attributes: pd.DataFrame, split: str, label: int, count: int,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """For each content class, up to `count` positions (into that split's images, seeded) of images of `label`."""
    rows = attributes[attributes["split"] == split].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    picked = {}
    for content in sorted(c for c in rows["content"].unique() if c):
        members = np.flatnonzero((rows["content"] == content).to_numpy() & (rows["label"] == label).to_numpy())
        if len(members):
            picked[content] = np.sort(rng.choice(members, min(count, len(members)), replace=False))
    return picked


def duplicate_summary(facts: dict[str, int]) -> str:
    """One sentence of the dataset's duplicate facts (model_zoo.image_attributes.duplicate_facts)."""
    parts = [f"{facts.get(f'test/{c} in train', 0):,} test {c} image(s) are byte-identical to a train image"
             for c in CLASS_NAMES]
    within = [f"{facts[key]:,} extra exact copies in {key.removesuffix(' extra copies')}"
              for key in sorted(facts) if key.endswith("extra copies") and facts[key]]
    near = [f"{facts[key]:,} {key.removesuffix(' near copies')} images have a near copy in their split"
            for key in sorted(facts) if key.endswith("near copies")]
    return "; ".join(parts + within + near) + "."
