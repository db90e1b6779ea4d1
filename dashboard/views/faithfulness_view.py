"""Streamlit panels for explanation faithfulness: the studies page's method ranking, the model page's
class-mean heatmaps, and the note beside each heatmap (dashboard/faithfulness_tables.py has the logic).
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.faithfulness_tables import (
    COMMAND,
    FLAG,
    class_heatmaps_figure,
    command_for,
    curves_figure,
    fails_sanity,
    map_note,
    method_table,
    ranking_sentence,
)
from model_zoo import ZooEntry
from model_zoo.card import Card
from model_zoo.zoo import study_test_set

_FORMATS = {
    **{key: st.column_config.NumberColumn(key, format="%.3f") for key in (
        "deletion AUC", "random deletion", "insertion AUC", "random insertion", "gain over random")},
    "randomisation rho": st.column_config.NumberColumn("randomisation ρ", format="%.2f",
                                                       help="Spearman rank correlation with the maps of the same "
                                                            "network with random weights; 0.5 or more fails"),
    "rho SE": st.column_config.NumberColumn("ρ SE", format="%.2f", help="standard error of the mean ρ over the images"),
    "sanity check": st.column_config.TextColumn("sanity check", width=250),  # "⚠ fails the sanity check (borderline)"
}
# The verdicts first, so a laptop-width table shows them without scrolling; the raw AUCs after.
ORDER = ("rank", "method", "sanity check", "gain over random", "beats random", "deletion AUC", "random deletion",
         "insertion AUC", "random insertion", "randomisation rho", "rho SE")
HOW = ("Each method explains the class the model predicts for a fixed sample of the model's own test images (CIFAKE's, "
       "or those of the labelled folder it was trained on, each as the model sees it). **Deletion**: "
       "pixels are blurred away, most salient first, and the probability of the predicted class should fall fast "
       "(small area); **insertion**: the pixels are restored on the blurred image and it should rise fast (large "
       "area). Both are compared with the same curves in random pixel order; *gain over random* adds the two "
       "differences. **Sanity check** (Adebayo et al. 2018): the maps are recomputed with the network's weights "
       "re-initialised; a method whose maps stay rank-correlated (ρ ≥ 0.5) shows the image rather than what the "
       "model learned, and is flagged wherever its maps appear.")


def show_method_ranking(entries: Sequence[ZooEntry]) -> None:
    """Studies page: per model, the explanation methods ranked by faithfulness, with their curves."""
    st.header("Explanations: which heatmaps can be trusted?")
    measured = [(entry, report) for entry in entries if (report := entry.faithfulness()) is not None]
    if not measured:
        # one command per data set the models were trained on (CIFAKE's, a labelled folder's)
        commands = dict.fromkeys(command_for("all", e.card) for e in entries) or [COMMAND.format(name="all")]
        st.info("No model's explanations have been measured yet:\n\n    " + "\n\n    ".join(commands),
                icon=":material/info:")
        return
    st.caption(HOW)
    for entry, report in measured:
        st.markdown(ranking_sentence(entry.name, report))
        st.dataframe(method_table(report), hide_index=True, width="stretch", column_config=_FORMATS,
                     column_order=ORDER, key=f"faithfulness_table_{entry.name}")
        with st.expander(f"{entry.name}: deletion and insertion curves"):
            st.plotly_chart(curves_figure(entry.name, report), width="stretch", key=f"faithfulness_curves_{entry.name}")
    missing = [entry for entry in entries if entry.faithfulness() is None]
    if missing:  # one command per data set: a folder model is measured on the folder it was trained on
        commands = dict.fromkeys(command_for("all", entry.card) for entry in missing)
        st.caption(f"Not measured yet: {', '.join(e.name for e in missing)} "
                   f"({'; '.join(f'`{c}`' for c in commands)}).")


def show_model_explanations(entry: ZooEntry) -> None:
    """Model page: where the model looks (class-mean heatmaps) and how faithful each method is for it."""
    st.header("Where the model looks")
    arrays = entry.class_heatmaps()
    if arrays is None:
        st.info(f"No class-mean heatmaps for `{entry.name}` yet: `{command_for(entry.name, entry.card)}`.",
                icon=":material/info:")
    else:
        st.plotly_chart(class_heatmaps_figure(entry.name, arrays), width="stretch", key="class_heatmaps")
        crop = entry.card.crop_spec
        seen = (f" (each image's {crop[0]}x{crop[0]} crop of its judging grid nearest the centre: one tile of the "
                "heatmap stitched over a whole image)") if crop else ""
        st.caption(f"Each panel averages the Grad-CAM maps (each scaled to 0-1) of {study_test_set(arrays)} test images"
                   f"{seen} of one true class with one verdict, explaining the class the model predicted; brighter = "
                   "more often where the evidence is. Counts: images averaged, of all test images in that group; an "
                   "empty map (Grad-CAM found no positive evidence for the verdict) counts as zero everywhere.")
    report = entry.faithfulness()
    if report is not None:
        st.markdown(ranking_sentence(entry.name, report))
        st.dataframe(method_table(report), hide_index=True, width="stretch", column_config=_FORMATS,
                     column_order=ORDER, key="model_faithfulness_table")


def heatmap_note(name: str, method: str, report: dict | None, consensus: bool = False,
                 card: Card | None = None) -> None:
    """Beside one heatmap: this method's measured faithfulness for this model (report_for(name)); a warning
    when it fails the sanity check. `card` points an unmeasured folder model at its own folder."""
    note = map_note(name, method, report, consensus, card)
    if fails_sanity(report, method):
        st.warning(note, icon=":material/warning:")
    else:
        st.caption(note)


def caption_flag(method: str, report: dict | None) -> str:
    """A short suffix for a heatmap's caption: the sanity flag, or nothing."""
    return f" · {FLAG}" if fails_sanity(report, method) else ""
