"""How far each heatmap method can be trusted, per model: tables, notes and figures from the entries'
faithfulness.json and class_heatmaps.npz (written by `python -m training.faithfulness`). No Streamlit here.

Each model is measured on its own test images: CIFAKE's, or (a folder model's report names them in "test_set") those
of the labelled folder it was trained on; the notes and sentences say which.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from model_zoo import ZooEntry, ZooError, read_entry
from model_zoo.card import Card
from model_zoo.zoo import study_test_set

FLAG = "⚠ fails the sanity check"
COMMAND = "python -m training.faithfulness {name} --data /path/to/cifake.zip"
_MARGIN = dict(l=10, r=10, t=60, b=10)
_METHOD_COLORS = {"Grad-CAM": "#1f77b4", "Grad-CAM++": "#ff7f0e", "Score-CAM": "#2ca02c", "SmoothGrad": "#9467bd",
                  "random order": "#7f7f7f"}
GROUP_TITLES = {"REAL_correct": "REAL, called REAL", "REAL_wrong": "REAL, called FAKE",
                "FAKE_correct": "FAKE, called FAKE", "FAKE_wrong": "FAKE, called REAL"}


def command_for(name: str, card: Card | None = None) -> str:
    """The command that measures `name`: on CIFAKE, or (a folder model's card) on the folder it was trained on."""
    if card is not None and card.trained_on_folder and card.train.dataset:
        return f"python -m training.faithfulness {name} --data {card.train.dataset}"
    return COMMAND.format(name=name)


def report_for(name: str, zoo: str | os.PathLike | None = None) -> dict | None:
    """The entry's faithfulness report, or None when the entry or its report is missing."""
    try:
        return read_entry(name, zoo).faithfulness()
    except ZooError:
        return None


def fails_sanity(report: dict | None, method: str) -> bool:
    """True when `method` was measured for this model and failed the model-randomisation check."""
    result = (report or {}).get("methods", {}).get(method)
    return bool(result) and result.get("passes_sanity") is False


def borderline(report: dict, method: str) -> bool:
    """True when the method's mean rho lies within two standard errors of the cut-off: the verdict could flip."""
    r = report["methods"][method]
    rho, se = r.get("randomisation_rho"), r.get("randomisation_rho_se")
    cutoff = report.get("sanity", {}).get("fails_at", 0.5)
    return rho is not None and se is not None and abs(rho - cutoff) < 2 * se


def _sanity_text(report: dict, method: str) -> str:
    verdict = "passes" if report["methods"][method].get("passes_sanity") else FLAG
    return f"{verdict} (borderline)" if borderline(report, method) else verdict


def method_table(report: dict) -> pd.DataFrame:
    """One row per method in the report's ranking order: AUCs against random order, rho, sanity verdict."""
    random = report.get("random", {})
    rows = []
    for rank, method in enumerate(report.get("ranking") or list(report["methods"]), 1):
        r = report["methods"][method]
        rows.append({
            "rank": rank, "method": method,
            "deletion AUC": r.get("deletion_auc"), "random deletion": random.get("deletion_auc"),
            "insertion AUC": r.get("insertion_auc"), "random insertion": random.get("insertion_auc"),
            "gain over random": r.get("score"), "beats random": bool(r.get("beats_random")),
            "randomisation rho": r.get("randomisation_rho"), "rho SE": r.get("randomisation_rho_se"),
            "sanity check": _sanity_text(report, method),
        })
    return pd.DataFrame(rows)


def ranking_table(entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """method_table of every entry that has a report, with a model column; empty when none has one."""
    frames = [method_table(report).assign(model=entry.name) for entry in entries
              if (report := entry.faithfulness()) is not None]
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    return table[["model", *[c for c in table.columns if c != "model"]]]


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _rho(result: dict) -> str:
    se = result.get("randomisation_rho_se")
    return f"{result.get('randomisation_rho') or 0.0:.2f}" + (f" ± {se:.2f}" if se is not None else "")


def map_note(name: str, method: str, report: dict | None, consensus: bool = False, card: Card | None = None) -> str:
    """One line beside a heatmap: how this method fared for this model (on whose test images), or how to measure it
    (`card`: the model's, so a folder model is pointed at its own folder)."""
    if consensus and (report is None or method not in report.get("methods", {})):  # not measured as itself yet
        if method == "Occlusion":
            return f"{name}'s occlusion map: the consensus itself scored with each patch of the image hidden."
        return (f"{name}'s map is the mean of its members' normalised {method} maps; how far each member's maps can "
                "be trusted is noted beside that member's map.")
    if report is None or method not in report.get("methods", {}):
        return f"Faithfulness of {method} not measured for {name} yet: `{command_for(name, card)}`."
    r, random = report["methods"][method], report.get("random", {})
    ranking = report.get("ranking") or list(report["methods"])
    text = (f"{method} for {name}, on {report.get('sample', {}).get('n', '?')} {study_test_set(report)} test images: "
            f"rank {ranking.index(method) + 1} of {len(ranking)}; deletion AUC {_points(r.get('deletion_auc'))} "
            f"(random order {_points(random.get('deletion_auc'))}, lower is better), insertion AUC "
            f"{_points(r.get('insertion_auc'))} (random {_points(random.get('insertion_auc'))}, higher is better)")
    if r.get("passes_sanity") is False:
        return (f"{FLAG}: {text}. Its maps keep a rank correlation of {_rho(r)} with the "
                f"maps of the same network with random weights, so they may show the image more than what "
                f"{name} learned.")
    close = ", within two standard errors of the 0.5 cut-off" if borderline(report, method) else ""
    return f"{text}; sanity check passed (rank correlation {_rho(r)} with random weights{close})."


def ranking_sentence(name: str, report: dict) -> str:
    """The per-model answer in words: the most faithful method, and methods that fail or do not beat random."""
    methods, ranking = report["methods"], report.get("ranking") or list(report["methods"])
    best = ranking[0]
    own = f" (on its own {report['test_set']} test images)" if report.get("test_set") else ""  # a folder model
    parts = [f"**{name}**{own}: {best} is the most faithful "
             f"(AUC gained over random order {_points(methods[best].get('score'))})"]
    failing = [m for m in ranking if methods[m].get("passes_sanity") is False]
    if failing:
        parts.append(f"{', '.join(failing)} {'fails' if len(failing) == 1 else 'fail'} the randomisation check")
    no_better = [m for m in ranking if not methods[m].get("beats_random")]
    if no_better:
        parts.append(f"{', '.join(no_better)} {'does' if len(no_better) == 1 else 'do'} no better than random order")
    worse_deleting = [m for m in ranking if (methods[m].get("deletion_gain") or 0.0) <= 0.0]
    if worse_deleting and len(worse_deleting) == len(ranking):
        parts.append("no method beats random order at deletion")
    return "; ".join(parts) + "."


def curves_figure(name: str, report: dict) -> go.Figure:
    """Mean deletion and insertion curves of every method, with random order dashed."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("deletion (lower is better)", "insertion (higher is better)"))
    series = {**{m: report["methods"][m] for m in report.get("ranking") or report["methods"]},
              "random order": report.get("random", {})}
    for label, result in series.items():
        for col, key in ((1, "deletion_curve"), (2, "insertion_curve")):
            curve = result.get(key)
            if not curve:
                continue
            flagged = fails_sanity(report, label)
            figure.add_trace(go.Scatter(
                x=np.linspace(0, 100, len(curve)), y=curve, mode="lines+markers", legendgroup=label,
                name=f"{label} ({FLAG})" if flagged else label, showlegend=col == 1,
                line=dict(color=_METHOD_COLORS.get(label), dash="dash" if label == "random order" else
                          "dot" if flagged else "solid")), row=1, col=col)
    figure.update_xaxes(title_text="% of pixels blurred (deletion) / sharp (insertion), most salient first")
    figure.update_yaxes(title_text="P(predicted class)", range=[0, 1.02], col=1)
    figure.update_yaxes(range=[0, 1.02], col=2)
    figure.update_layout(title=f"{name}: deletion and insertion curves, mean over {report.get('sample', {}).get('n', '?')}"
                         " test images", height=380, margin=_MARGIN)
    return figure


def class_heatmaps_figure(name: str, arrays: dict) -> go.Figure:
    """The four class-mean maps (true class x verdict) side by side on one 0-1 colour scale."""
    groups = [str(g) for g in arrays["groups"]]
    counts, totals = arrays.get("counts"), arrays.get("totals")
    titles = []
    for i, group in enumerate(groups):
        title = GROUP_TITLES.get(group, group)
        if counts is not None and totals is not None:
            title += f" ({int(counts[i]):,} of {int(totals[i]):,})" if counts[i] else " (none)"
        empty = arrays.get("empty")
        if empty is not None and counts is not None and counts[i]:
            title += f"<br>{int(empty[i]) / int(counts[i]):.0%} of maps empty"
        titles.append(title)
    figure = make_subplots(rows=1, cols=len(groups), subplot_titles=titles, horizontal_spacing=0.03)
    for i, heat in enumerate(np.asarray(arrays["maps"], np.float32)):
        figure.add_trace(go.Heatmap(z=heat, zmin=0, zmax=1, colorscale="Inferno", showscale=i == len(groups) - 1,
                                    hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra></extra>"), row=1, col=i + 1)
        figure.update_yaxes(autorange="reversed", scaleanchor=f"x{i + 1 if i else ''}", showticklabels=False,
                            ticks="", showgrid=False, zeroline=False, row=1, col=i + 1)
        figure.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False, row=1, col=i + 1)
    figure.update_annotations(font_size=12)  # the two-line panel titles
    method = str(arrays.get("method", "Grad-CAM"))
    # A taller top margin: the panel titles take two lines and would run into the figure's title.
    own = f", on its {study_test_set(arrays)} test images" if "test_set" in arrays else ""  # a folder model's own
    figure.update_layout(title=f"{name}: mean {method} for the predicted class, by true class and verdict{own}",
                         height=380, margin={**_MARGIN, "t": 110})
    return figure
