"""Slice panels: the Model page's errors per slice (from the entry's slices.csv) and the Data page's content classes
(dashboard/slice_figures.py has the logic)."""

from __future__ import annotations

import streamlit as st

from dashboard import slice_figures
from dashboard.overlays import enlarge
from dashboard.views.resources import image_attributes
from model_zoo import ZooEntry
from model_zoo.decision import CLASS_NAMES
from model_zoo.image_attributes import duplicate_facts


def show_model_slices(entry: ZooEntry) -> None:
    """Where the model fails: its weakest-slice sentence, a chart and a table per chosen attribute."""
    table = entry.slices()
    st.header("Where it fails")
    if table is None:
        st.caption(f"No slices stored for `{entry.name}` yet: `python -m training.slices {entry.name}`.")
        return
    st.markdown(slice_figures.slice_sentence(entry.name, table))
    choices = slice_figures.slice_choices(table)
    by = st.selectbox("Slice the test images by", choices, format_func=slice_figures.attribute_label,
                      key=f"slices_by_{entry.name}")
    st.plotly_chart(slice_figures.slice_figure(table, by), width="stretch")
    rows = slice_figures.slice_rows(table, by)
    st.dataframe(rows, hide_index=True, width="stretch", height=35 * (len(rows) + 1) + 3,  # every row, no scrolling
                 column_config={c: st.column_config.NumberColumn(c, format="localized") for c in rows.columns
                                if c.endswith(" images")})
    st.caption("Error rates on the model's own test split at its threshold; bars show Wilson 95% intervals. The "
               "sentence names only slices whose interval lies wholly above the model's overall rate.")


def show_data_slices(data, samples_per_class: int) -> None:
    """The Data page's content classes: images per class and split, the duplicate facts, a sample grid per class."""
    attributes = image_attributes(data)
    st.header("Content classes")
    balance = slice_figures.content_balance(attributes)
    if balance.empty:
        st.caption("These images carry no content class (no sub-folders above the class folders).")
    else:
        st.plotly_chart(slice_figures.content_balance_figure(balance), width="stretch")
    st.caption("Duplicates: " + slice_figures.duplicate_summary(duplicate_facts(attributes)))
    if balance.empty:
        return
    label = st.radio("Samples of", CLASS_NAMES, horizontal=True, key="data_content_label")
    picks = slice_figures.content_samples(attributes, "test", CLASS_NAMES.index(label), samples_per_class, seed=1)
    for content, positions in picks.items():
        st.markdown(f"**{content}** ({label}, test split)")
        cols = st.columns(samples_per_class)
        for col, i in zip(cols, positions, strict=False):
            col.image(enlarge(data.test.images[i], 96), width="stretch")
