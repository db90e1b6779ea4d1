"""Studies: the pooling comparison, the augmentation comparison (clean and corrupted), when the zoo holds their models,
the seed variance of the best recipe (from the zoo's seed_runs.csv), and what the models look at (cues.csv)."""

import streamlit as st

from dashboard import charts
from dashboard.comparison import robustness_long
from dashboard.study_figures import (
    AUGMENTATION_HINT,
    POOLING_HINT,
    SEED_VARIANCE_HINT,
    augmentation_answer,
    augmentation_study,
    display_table,
    history_long,
    pooling_answer,
    pooling_study,
    seed_variance_answer,
)
from dashboard.views import cues_view, faithfulness_view
from dashboard.views.resources import require_models, zoo_entries
from model_zoo import ZooError
from model_zoo.seed_runs import read_seed_runs, seed_summary

entries, _ = zoo_entries()
st.title("Studies")
if not require_models(entries):
    st.stop()
by_name = {e.name: e for e in entries}
FORMATS = {
    **{k: st.column_config.NumberColumn(k, format="%.4f")
       for k in ("accuracy", "f1", "roc_auc", "best_val_loss", "robust_accuracy", "roc_auc_jpeg_40", "roc_auc_blur_1")},
    "params": st.column_config.NumberColumn("params", format="localized"),
    "seconds_per_epoch": st.column_config.NumberColumn("s / epoch", format="%.1f"),
}


def show_study(study, column: str, title: str, key: str) -> None:
    """Table, metric bars, validation curves (and robustness) for the models of one study."""
    shown = display_table(study)
    st.dataframe(shown, hide_index=True, width="stretch", column_config=FORMATS)
    if shown.isna().any().any():
        st.caption("None: not measured for that model (ROC-AUC under corruption is missing from a robustness.csv "
                   "written before it was recorded; `python -m training.robustness NAME` measures it again).")
    st.plotly_chart(charts.study_bars(study, column, title), width="stretch")
    models = [by_name[m] for m in study["model"]]
    curves = history_long(models)
    if not curves.empty:
        st.plotly_chart(charts.validation_curves_figure(curves), width="stretch", key=f"{key}_curves")
    robustness = robustness_long(models)
    if not robustness.empty:
        st.plotly_chart(charts.robustness_figure(robustness), width="stretch", key=f"{key}_robustness")


st.header("Pooling: how should a small CNN downsample?")
st.caption("cnn_maxpool, cnn_avgpool and cnn_strided are identical except for how they halve the resolution.")
pooling = pooling_study(entries)
if pooling is None:
    st.info("The zoo does not hold at least two evaluated pooling variants yet.\n\n" + POOLING_HINT)
else:
    st.markdown(pooling_answer(pooling))
    show_study(pooling, "architecture", "Test metrics by downsampling", "pooling")

st.header("Augmentation")
augmentation = augmentation_study(entries)
if augmentation is None:
    st.info("The zoo has no architecture trained with two different augmentation settings yet.\n\n" + AUGMENTATION_HINT)
else:
    st.markdown(augmentation_answer(augmentation))
    st.caption("robust_accuracy: mean accuracy over the corruptions of `training.robustness`; "
               "roc_auc_jpeg_40 / roc_auc_blur_1: ROC-AUC after JPEG re-compression at quality 40 / a Gaussian blur of sigma 1.")
    show_study(augmentation, "augmentation", "Test metrics by augmentation", "augmentation")

st.header("Seed variance: how much of a gap is luck?")
try:
    seed_runs = read_seed_runs()
except ZooError as exc:  # a hand-edited results file: say which and how to fix it, keep the page up
    seed_runs = None
    st.warning(str(exc), icon=":material/warning:")
if seed_runs is None or seed_runs.empty:
    st.info(SEED_VARIANCE_HINT)
else:
    accuracies = {e.name: e.test_metrics["accuracy"] for e in entries if e.test_metrics}
    st.markdown(seed_variance_answer(seed_summary(seed_runs), accuracies))
    st.dataframe(display_table(seed_runs), hide_index=True, width="stretch", column_config=FORMATS | {
        "unseen_accuracy": st.column_config.NumberColumn("unseen accuracy", format="%.4f"),
        "train_minutes": st.column_config.NumberColumn("train min", format="%.1f")})
    st.caption("One row per training run of the same recipe, differing only in the seed; test split figures. "
               "`python -m training.seed_variance MODEL` records them in the zoo's seed_runs.csv.")

cues_view.show_cue_study(entries)  # which cues: accuracy after controlled changes, spectra, sentences
faithfulness_view.show_method_ranking(entries)  # explanation methods ranked per model, sanity failures flagged
