"""How far each model carries beyond what it was trained on: the Generalisation page's tables, figure and sentences.

Models are rows (with what each was trained on), the sets they were measured on are columns: each model's own
test set (CIFAKE test for the zoo's models) and every named set of `training.evaluate --folder DIR --set NAME`.
Every number is read from the cards through model_zoo.test_sets; nothing is recomputed. Plain functions, no
Streamlit, so tests call them directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from model_zoo import ZooEntry, all_best_first
from model_zoo.card import Card
from model_zoo.test_sets import (
    measured_sets,
    rank_by_set,
    scope_sentence,
    set_names,
)

EVALUATE_COMMAND = ".venv/bin/python -m training.evaluate all --folder DIR --set NAME"
OWN_MARK = "◆"  # marks the cell of a model's own test set (held-out images of what it was trained on)
DEFAULT_RANKING = "test accuracy (default: what --model best picks)"
LONG_COLUMNS = ("model", "trained on", "set", "own test set", "roc_auc", "accuracy", "n", "share_uncertain",
                "share_out_of_distribution", "evaluated", "fingerprint")


def generalisation_long(entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """One row per (model, set measured): ROC-AUC, accuracy at the card's threshold, n, the shares UNCERTAIN and out
    of distribution, the date and fingerprint; `own test set` marks the model's own test split. Models in
    leaderboard order."""
    rows = []
    for entry in all_best_first(entries):
        own = entry.card.own_test_set_name
        for name, scores in measured_sets(entry.card).items():
            rows.append({"model": entry.name, "trained on": entry.card.training_set_name, "set": name,
                         "own test set": name == own, "roc_auc": scores.get("roc_auc"),
                         "accuracy": scores.get("accuracy"), "n": scores.get("n"),
                         "share_uncertain": scores.get("share_uncertain"),
                         "share_out_of_distribution": scores.get("share_out_of_distribution"),
                         "evaluated": scores.get("evaluated"), "fingerprint": scores.get("fingerprint")})
    return pd.DataFrame(rows, columns=list(LONG_COLUMNS))


def roc_auc_matrix(entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """Rows = models (leaderboard order), a `trained on` column, then one ROC-AUC column per set (NaN: not measured
    there, or one class only)."""
    long = generalisation_long(entries)
    models = [entry.name for entry in all_best_first(entries)]
    trained = {entry.name: entry.card.training_set_name for entry in entries}
    matrix = (long.pivot(index="model", columns="set", values="roc_auc") if len(long) else pd.DataFrame())
    matrix = matrix.reindex(index=models, columns=set_names(all_best_first(entries))).astype(float)
    matrix.insert(0, "trained on", [trained[name] for name in models])
    matrix.index.name, matrix.columns.name = "model", None
    return matrix


def other_sets_measured(entries: Sequence[ZooEntry]) -> bool:
    """Whether any model was measured on a set beyond its own test split."""
    long = generalisation_long(entries)
    return bool((~long["own test set"]).any())


def matrix_figure(entries: Sequence[ZooEntry]) -> go.Figure:
    """The ROC-AUC matrix as a heatmap: white at chance (0.5), blue above, red below; OWN_MARK on own test sets."""
    long = generalisation_long(entries)
    matrix = roc_auc_matrix(entries)
    sets = [c for c in matrix.columns if c != "trained on"]
    values = matrix[sets].to_numpy(dtype=float)
    details = {(row["model"], row["set"]): row for row in long.to_dict("records")}
    text, hover = [], []
    for model in matrix.index:
        text_row, hover_row = [], []
        for name, value in zip(sets, values[list(matrix.index).index(model)], strict=True):
            row = details.get((model, name))
            mark = f"{OWN_MARK} " if row is not None and row["own test set"] else ""
            if row is None:
                text_row.append("")
                hover_row.append(f"{model} was not measured on {name}")
                continue
            text_row.append(mark + (f"{value:.3f}" if not np.isnan(value) else "one class"))
            hover_row.append(_hover(model, name, row))
        text.append(text_row)
        hover.append(hover_row)
    labels = [f"{model} ({trained})" for model, trained in zip(matrix.index, matrix["trained on"], strict=True)]
    figure = go.Figure(go.Heatmap(
        z=values, x=sets, y=labels, text=text, texttemplate="%{text}", hovertext=hover, hoverinfo="text",
        colorscale="RdBu", zmid=0.5, zmin=0.0, zmax=1.0, colorbar=dict(title="ROC-AUC"),
    ))
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(title="ROC-AUC of each model (rows, trained on) on each set (columns)",
                         height=max(260, 60 + 34 * len(labels)), margin=dict(l=10, r=10, t=50, b=10))
    return figure


def _hover(model: str, name: str, row: Mapping) -> str:
    parts = [f"{model} on {name}" + (" (its own test set)" if row["own test set"] else "")]
    if row["roc_auc"] is not None and not pd.isna(row["roc_auc"]):
        parts.append(f"ROC-AUC {row['roc_auc']:.3f}")
    parts.append(f"accuracy {row['accuracy']:.3f} on {int(row['n']):,} images")
    for key, label in (("share_uncertain", "UNCERTAIN"), ("share_out_of_distribution", "out of distribution")):
        if row[key] is not None and not pd.isna(row[key]):
            parts.append(f"{row[key]:.1%} {label}")
    return "<br>".join(parts)


def sentences(entries: Sequence[ZooEntry]) -> list[tuple[str, str]]:
    """(model, one sentence from its numbers) in leaderboard order (model_zoo.test_sets.scope_sentence)."""
    return [(entry.name, scope_sentence(entry.card)) for entry in all_best_first(entries)]


def fingerprint_conflicts(entries: Sequence[ZooEntry]) -> dict[str, int]:
    """Set name -> how many different image sets its results are on, for sets measured on more than one (the same
    name given to different folders, or a folder changed between runs): those cells are not comparable."""
    long = generalisation_long(entries).dropna(subset=["fingerprint"])
    counts = long.groupby("set")["fingerprint"].nunique()
    return {name: int(count) for name, count in counts.items() if count > 1}


def scope_markdown(cards: Mapping[str, Card]) -> str:
    """A Markdown list, one line per model: what it was trained on and its ROC-AUC on every set it was measured on."""
    return "\n".join(f"- **{name}**: {scope_sentence(card)}" for name, card in cards.items())


def ranking_choices(entries: Sequence[ZooEntry]) -> list[str]:
    """The leaderboard's "Rank by" options: the default ranking, then every set measured (own test sets first)."""
    return [DEFAULT_RANKING, *set_names(all_best_first(entries))]


def board_ranked_by(board: pd.DataFrame, entries: Sequence[ZooEntry], choice: str) -> pd.DataFrame:
    """The leaderboard frame reordered best first on the chosen set (model_zoo.test_sets.rank_by_set: ROC-AUC, then
    accuracy); rows not measured there, or not zoo entries, keep their order at the bottom. DEFAULT_RANKING: as is."""
    if choice == DEFAULT_RANKING or board.empty:
        return board
    position = {entry.name: i for i, entry in enumerate(rank_by_set(entries, choice))
                if choice in measured_sets(entry.card)}
    key = board["model"].map(position).fillna(len(position))
    return board.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)
