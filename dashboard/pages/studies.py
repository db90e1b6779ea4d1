"""Studies: the pooling comparison and the augmentation comparison, when the zoo holds their models."""

import streamlit as st

from dashboard import charts
from dashboard.leaderboard import robustness_long
from dashboard.resources import require_models, zoo_entries
from dashboard.studies import AUGMENTATION_HINT, POOLING_HINT, augmentation_study, history_long, pooling_study

entries, _ = zoo_entries()
st.title("Studies")
if not require_models(entries):
    st.stop()
by_name = {e.name: e for e in entries}
FORMATS = {
    **{k: st.column_config.NumberColumn(k, format="%.4f") for k in ("accuracy", "f1", "roc_auc", "best_val_loss")},
    "params": st.column_config.NumberColumn("params", format="localized"),
    "seconds_per_epoch": st.column_config.NumberColumn("s / epoch", format="%.1f"),
}

st.header("Pooling: how should a small CNN downsample?")
st.caption("cnn_maxpool, cnn_avgpool and cnn_strided are identical except for how they halve the resolution.")
pooling = pooling_study(entries)
if pooling is None:
    st.info("The zoo does not hold at least two evaluated pooling variants yet.\n\n" + POOLING_HINT)
else:
    st.dataframe(pooling, hide_index=True, width="stretch", column_config=FORMATS)
    st.plotly_chart(charts.study_bars(pooling, "architecture", "Test metrics by downsampling"), width="stretch")
    curves = history_long([by_name[m] for m in pooling["model"]])
    if not curves.empty:
        st.plotly_chart(charts.validation_curves_figure(curves), width="stretch", key="pooling_curves")
    robustness = robustness_long([by_name[m] for m in pooling["model"]])
    if not robustness.empty:
        st.plotly_chart(charts.robustness_figure(robustness), width="stretch", key="pooling_robustness")

st.header("Augmentation")
augmentation = augmentation_study(entries)
if augmentation is None:
    st.info("The zoo has no architecture trained with two different augmentation settings yet.\n\n" + AUGMENTATION_HINT)
else:
    st.dataframe(augmentation, hide_index=True, width="stretch", column_config=FORMATS)
    st.plotly_chart(charts.study_bars(augmentation, "augmentation", "Test metrics by augmentation"), width="stretch")
    curves = history_long([by_name[m] for m in augmentation["model"]])
    if not curves.empty:
        st.plotly_chart(charts.validation_curves_figure(curves), width="stretch", key="augmentation_curves")
