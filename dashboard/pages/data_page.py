"""Data: class balance, sample images, content classes, and the per-class mean image and Fourier spectrum the project studies."""

import streamlit as st

from dashboard import charts
from dashboard.overlays import enlarge
from dashboard.spectra import CLASS_NAMES, class_counts, class_cues, sample_indices
from dashboard.views.resources import dataset, dataset_path
from dashboard.views.slices_view import show_data_slices

SAMPLES_PER_CLASS = 12

st.title("Data")
data = dataset()
if data is None:
    st.stop()


@st.cache_resource(show_spinner="Computing class statistics (once per dataset)…", max_entries=2)
def _cues(path: str):
    return class_cues(data.train.images, data.train.labels)


st.caption(f"CIFAKE at `{data.source}`" + (f"; {len(data.skipped)} unreadable file(s) skipped" if data.skipped else ""))
counts = class_counts({"train": data.train.labels, "test": data.test.labels})
st.plotly_chart(charts.class_counts_figure(counts), width="stretch")

st.header("Samples")
for label, name in enumerate(CLASS_NAMES):
    st.markdown(f"**{name}** (test split)")
    picks = sample_indices(data.test.labels, label, SAMPLES_PER_CLASS, seed=1)
    cols = st.columns(SAMPLES_PER_CLASS)
    for col, i in zip(cols, picks, strict=False):
        col.image(enlarge(data.test.images[i], 96), caption=data.test.paths[i].rsplit("/", 1)[-1], width="stretch")

show_data_slices(data, SAMPLES_PER_CLASS)  # images per content class, duplicates, a sample grid per class

cues = _cues(dataset_path())
st.header("Mean image per class")
cols = st.columns(4)
for label, (col, name) in enumerate(zip(cols, CLASS_NAMES, strict=False)):
    total = int((data.train.labels == label).sum())
    sample = f"{cues.n_used[name]:,} train images" if cues.n_used[name] == total else \
        f"a random {cues.n_used[name]:,} of {total:,} train images"
    col.image(enlarge(cues.mean_images[name], 192), caption=f"mean {name} ({sample})")

st.header("Mean log-amplitude Fourier spectrum")
st.caption("Mean of log(1 + |FFT|) of each image's luminance; the centre is the lowest frequency. Periodic "
           "upsampling artefacts of image generators show up as bright points or lines away from the centre.")
cols = st.columns(3)
cols[0].plotly_chart(charts.spectrum_figure(cues.spectra["REAL"], "REAL"), width="stretch")
cols[1].plotly_chart(charts.spectrum_figure(cues.spectra["FAKE"], "FAKE"), width="stretch")
cols[2].plotly_chart(charts.spectrum_figure(cues.difference, "FAKE minus REAL", diverging=True), width="stretch")
