"""Generalisation: every model (rows, with what it was trained on) on every set it was measured on (columns)."""

import streamlit as st

from dashboard.generalisation_matrix import (
    EVALUATE_COMMAND,
    OWN_MARK,
    fingerprint_conflicts,
    generalisation_long,
    matrix_figure,
    other_sets_measured,
    roc_auc_matrix,
    sentences,
)
from dashboard.views.resources import require_models, zoo_entries

entries, _ = zoo_entries()
st.title("Generalisation")
if not require_models(entries):
    st.stop()
st.caption("How far each model carries beyond the images it was trained on: ROC-AUC (0.5 is chance, 1 is perfect) "
           f"on its own test set ({OWN_MARK}, held-out images of what it was trained on) and on every named set "
           "of labelled images it was measured on. Hover a cell for accuracy at the model's threshold, n and the "
           "shares UNCERTAIN and out of distribution.")

if not other_sets_measured(entries):
    st.info("No model has been measured on a set beyond its own test split yet, so this page cannot show how far "
            "any of them carries. Put real photos in `DIR/REAL/` and AI-generated images in `DIR/FAKE/` (any size or "
            "format), then name the set and score every model on it:", icon=":material/info:")
    st.code(EVALUATE_COMMAND, language="bash")

st.plotly_chart(matrix_figure(entries), width="stretch")
for conflicted, count in fingerprint_conflicts(entries).items():
    st.warning(f"'{conflicted}' holds results on {count} different image sets (the same name given to different "
               f"folders, or the folder changed between runs), so its cells do not compare models on the same images. "
               f"Re-run `{EVALUATE_COMMAND.replace('NAME', repr(conflicted))}` on one folder for all models.",
               icon=":material/warning:")

st.subheader("In one sentence each")
st.markdown("\n".join(f"- **{model}**: {sentence}" for model, sentence in sentences(entries)))

matrix = roc_auc_matrix(entries)
st.subheader("The numbers")
st.dataframe(matrix, width="stretch",
             column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in matrix.columns
                            if c != "trained on"})
with st.expander("Every result in detail"):
    st.dataframe(generalisation_long(entries), hide_index=True, width="stretch",
                 column_config={"roc_auc": st.column_config.NumberColumn("ROC-AUC", format="%.4f"),
                                "accuracy": st.column_config.NumberColumn("accuracy", format="%.4f"),
                                "n": st.column_config.NumberColumn("n", format="localized"),
                                "share_uncertain": st.column_config.NumberColumn("UNCERTAIN", format="percent"),
                                "share_out_of_distribution": st.column_config.NumberColumn("out of distribution",
                                                                                           format="percent")})
    st.caption("Accuracy is at each model's own threshold; UNCERTAIN is the share its band around the threshold "
               "does not decide; out of distribution is the share above its novelty cut-off (empty: no novelty "
               "check believed; on the own test set, from the calibration's sample of it). The fingerprint "
               "identifies the images measured: equal fingerprints, same images.")
