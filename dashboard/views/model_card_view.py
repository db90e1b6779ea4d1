"""Model page panels: every test set the model was measured on (CIFAKE and the user's own), and its model card."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.views.report_view import model_report_button
from model_zoo import ZooEntry
from model_zoo.card import Card
from model_zoo.card_markdown import README_FILE, model_card_markdown, split_front_matter
from model_zoo.test_sets import other_test_sets, rows_per_test_set


def test_sets_frame(card: Card) -> pd.DataFrame:
    """Its own test set (CIFAKE's or its folder's), the unseen subset, then each other test set: accuracy,
    ROC-AUC, precision, recall, F1, n, skipped."""
    frame = pd.DataFrame(rows_per_test_set(card))
    if frame.empty:
        return frame
    frame = frame.drop(columns="kind")
    return frame.drop(columns=[c for c in ("skipped", "evaluated") if frame[c].isna().all()])


def show_test_sets(entry: ZooEntry) -> None:
    frame = test_sets_frame(entry.card)
    if frame.empty:
        return
    own = entry.card.training_set_name  # CIFAKE, or the labelled folder it was trained on
    st.markdown(f"**Test sets**: {own} and other test sets, each at the model's own threshold")
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={**{k: st.column_config.NumberColumn(k, format="%.4f")
                                   for k in ("accuracy", "roc_auc", "precision", "recall", "f1")},
                                "n": st.column_config.NumberColumn("n", format="localized")})
    if not other_test_sets(entry.card):
        st.caption(f"Only {own} so far. Measure it on your own labelled images (REAL/ and FAKE/ subfolders, any "
                   f"size or format): `python -m training.evaluate {entry.name} --folder DIR`.")


def demote_headings(markdown: str, by: int = 2) -> str:
    """Markdown headings `by` levels smaller (never below ######), code blocks untouched: the card's own
    "# name" and "## Section" titles would otherwise dwarf the page's headers inside an expander."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            if line[level:level + 1] in (" ", ""):
                line = "#" * min(6, level + by) + line[level:]
        lines.append(line)
    return "\n".join(lines)


def show_model_card(entry: ZooEntry) -> None:
    """The Hugging Face-shaped model card generated from the entry, its YAML metadata and a README.md download."""
    text = model_card_markdown(entry)
    front, body = split_front_matter(text)
    with st.expander("Model card (Hugging Face format: intended use, limitations, data, metrics, factors)"):
        stored = entry.path / README_FILE
        if stored.is_file() and stored.read_text(encoding="utf-8") != text:
            st.caption(f"The entry's {README_FILE} predates its card's latest figures: "
                       f"`python -m training.model_card {entry.name}` rewrites it.")
        st.markdown(demote_headings(body))
        st.code(front, language="yaml")
        st.download_button(f"Download {README_FILE}", text, file_name=f"{entry.name}_{README_FILE}",
                           mime="text/markdown", key=f"model_card_{entry.name}", on_click="ignore",
                           icon=":material/download:")


def show(entry: ZooEntry) -> None:
    """Everything this module adds to the Model page, in order."""
    show_test_sets(entry)
    show_model_card(entry)
    model_report_button(entry)
