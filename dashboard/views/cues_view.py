"""Studies page: "What the models look at", laid out from the stored cue study (dashboard/cue_figures.py has the logic)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.charts import spectrum_figure
from dashboard.cue_figures import (
    HINT,
    band_profile_figure,
    band_profiles,
    cue_findings,
    cue_groups,
    cue_spectra,
    cues_figure,
    cues_long,
    gradient_log_power,
    same_size,
    sample_note,
    spectrum_findings,
)
from model_zoo import ZooEntry

_FORMATS = {
    **{key: st.column_config.NumberColumn(key.replace("_", " "), format="%.3f")
       for key in ("accuracy", "accuracy_min", "accuracy_max", "roc_auc", "mean_p_fake_real", "mean_p_fake_fake")},
}


def _finding(finding, key: str) -> None:
    st.markdown(f"- {finding.text}")
    with st.expander("The numbers behind it"):
        st.dataframe(finding.evidence, hide_index=True, width="stretch", column_config=_FORMATS, key=key)


def show_cue_study(entries: Sequence[ZooEntry]) -> None:
    """The detectors' accuracy after each controlled change, the spectra, and the answers they give: one section per
    set of test images the detectors were measured on (CIFAKE's, a labelled folder's), never pooled across them."""
    st.header("What the models look at")
    groups = cue_groups(entries)
    if not groups:
        st.info(HINT, icon=":material/info:")
        return
    for index, (test_set, members) in enumerate(groups):
        if len(groups) > 1:
            st.subheader(f"On the {test_set} test images")
        _show_group(members, suffix=f"_{index}" if index else "")  # the first keeps the keys it always had


def _show_group(entries: Sequence[ZooEntry], suffix: str) -> None:
    long = cues_long(entries)
    st.caption(sample_note(entries))
    spectra = cue_spectra(entries)
    for index, finding in enumerate(cue_findings(long) + spectrum_findings(spectra)):
        _finding(finding, key=f"cue_evidence{suffix}_{index}")
    st.plotly_chart(cues_figure(long), width="stretch", key=f"cues_small_multiples{suffix}")
    st.caption("Frequency bands: 16 rings of the 2-D Fourier transform, band b from b to b + 1 cycles per image "
               "(the diagonal corners beyond the Nyquist radius in band 15). High-pass: the residual on mid-grey. "
               "Amplitude / phase: each image keeps its phase and takes another image's amplitude, scored as its "
               "phase's class. Centre vs border and Grad-CAM: that share of the pixels set to mid-grey. Channels: "
               "one channel copied into all three. JPEG grid: re-encoded at quality 75 after a diagonal shift.")
    if spectra:
        left, right = st.columns(2)
        first = next(iter(spectra.values()))
        left.plotly_chart(spectrum_figure(first["class_difference"], "Test images: FAKE − REAL mean log-amplitude",
                                          diverging=True), width="stretch", key=f"cues_class_spectrum{suffix}")
        right.plotly_chart(spectrum_figure(gradient_log_power(spectra), "Models' input gradients: log10 mean power"),
                           width="stretch", key=f"cues_gradient_spectrum{suffix}")
        other = [model for model in spectra if model not in same_size(spectra)]
        if other:
            st.caption(f"The two spectra are at {next(iter(spectra))}'s input size; {', '.join(other)} "
                       f"{'sees' if len(other) == 1 else 'see'} the images at another size, so "
                       f"{'its' if len(other) == 1 else 'their'} gradients are in the band profile below only.")
        st.plotly_chart(band_profile_figure(band_profiles(spectra)), width="stretch", key=f"cues_band_profile{suffix}")
