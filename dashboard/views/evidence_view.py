"""Inspect page: "Why, in words", the answering model's evidence tests as sentences, their table in an expander.

The smallest change that flips the verdict is shown in a second expander; dashboard/evidence_display.py has the logic."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import streamlit as st

from dashboard.evidence_display import counterfactual_caption, difference_picture, evidence_table
from dashboard.overlays import enlarge
from model_zoo import LoadedModel
from model_zoo.evidence import Evidence, evidence_for
from model_zoo.judge import JudgedImage

_CACHE_KEY = "_evidence_cache"


def cached_evidence(loaded: LoadedModel, result: JudgedImage) -> Evidence:
    """model_zoo.evidence.evidence_for, remembered per session for (model, image, its verdict)."""
    cache: OrderedDict = st.session_state.setdefault(_CACHE_KEY, OrderedDict())
    seen = result.seen[loaded.name]
    verdict = next(v for v in result.verdicts if v.model == loaded.name)
    key = (loaded.name, hashlib.sha1(seen.tobytes()).hexdigest(), seen.shape, verdict.prob_fake)
    if key not in cache:
        cache[key] = evidence_for(loaded, result)
        while len(cache) > 32:
            cache.popitem(last=False)
    return cache[key]


def show(loaded: LoadedModel, result: JudgedImage) -> Evidence:
    """The sentences, any stability note, and two expanders: the tests and the smallest flipping change."""
    st.subheader("Why, in words")
    with st.spinner(f"Testing what carries {loaded.name}'s verdict…"):
        evidence = cached_evidence(loaded, result)
    grid = f" on each of its {evidence.crops} crops, as it judges" if evidence.crops > 1 else ""
    verdict = next(v for v in result.verdicts if v.model == loaded.name)
    lean = (f" Its decision is {verdict.decision}: the tests explain the side it leans to, {evidence.verdict} at its "
            f"threshold {evidence.threshold:.3f}." if verdict.decision != evidence.verdict else "")
    st.caption(f"{loaded.name} scored this image again after each of {len(evidence.tests) - 1} controlled changes"
               f"{grid} ({evidence.seconds:.1f} s). Each sentence says only what its numbers show.{lean}")
    st.markdown("\n".join(f"- {sentence}" for sentence in evidence.sentences))
    for note in evidence.stability:
        st.warning(note, icon=":material/warning:")
    with st.expander("The tests behind these sentences", icon=":material/table:"):
        st.dataframe(evidence_table(evidence), hide_index=True, width="stretch",
                     column_config={"P(FAKE)": st.column_config.ProgressColumn("P(FAKE)", format="%.4f",
                                                                               min_value=0.0, max_value=1.0)})
    flip = evidence.counterfactual
    if flip is not None:
        with st.expander("The smallest change that flips the verdict", icon=":material/compare:"):
            columns = st.columns(3)
            columns[0].image(enlarge(flip.original, 192), caption=f"original (P(FAKE) {evidence.prob_fake:.3f})")
            columns[1].image(enlarge(flip.image, 192), caption=f"changed (P(FAKE) {flip.prob_fake:.3f})")
            columns[2].image(enlarge(difference_picture(flip.original, flip.image), 192), caption="difference")
            st.caption(counterfactual_caption(evidence))
    return evidence
