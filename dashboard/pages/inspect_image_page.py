"""Inspect an image: upload one or more, see every detector's verdict and where each one looks."""

import pandas as pd
import streamlit as st

from dashboard.generalisation_matrix import scope_markdown
from dashboard.verdict_display import (
    input_notes,
    study_arms_note,
    threshold_note,
    thresholds_for,
    training_data_note,
    unscored_note,
    verdict_rows,
    verdicts_json,
)
from dashboard.views import evidence_view, heatmap_view, provenance_view, report_view
from dashboard.views.resources import (
    PAGES,
    inspect_models,
    judged,
    preview,
    require_models,
    still_warming_up,
    upload_waiting,
    zoo_entries,
)
from dashboard.views.test_image_link import opened_test_image
from model_zoo import ImageError
from model_zoo.decision import DEFAULT_THRESHOLD
from model_zoo.operating_point import MaxFprError, operating_points, parse_max_fpr
from model_zoo.roles import detectors
from model_zoo.zoo import ZooError

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif"]

entries, _ = zoo_entries()
st.title("Inspect an image")
if not require_models(entries):
    st.stop()
# What the answering models learnt from: the consensus (its members' data) and every detector.
st.info(training_data_note([e for e in entries if e.card.is_consensus][:1] + detectors(entries)), icon=":material/info:")

uploads = st.file_uploader("Images (JPEG, PNG, WebP, BMP, GIF: first frame; any size)", type=UPLOAD_TYPES,
                           accept_multiple_files=True, key="inspect_uploads")
files = [(f.name, f.getvalue()) for f in uploads or []] or opened_test_image(entries)  # a link from the errors page
if not files:
    st.caption("Upload an image to see each model's verdict and heatmaps.")
    st.stop()
upload_waiting()

# The detectors answer here; the study arms (worse on purpose) are compared on the studies page.
if not detectors(entries):
    st.info("Every model in this zoo is a study arm, so none answers here; see them compared on the studies page.",
            icon=":material/info:")
    st.page_link(PAGES["studies"], label="Studies", icon=":material/arrow_forward:")
    st.stop()
answering, models = inspect_models(entries)
study_note = study_arms_note(len(entries) - len(detectors(entries)))
if not models:
    st.error("No model in the zoo could be loaded; see the warnings above.")
    st.stop()
# The zoo's consensus (model_zoo.consensus) is the answer on top (first in `answering`); its members are the detectors.
# By default each model decides at its own card threshold; the override sets one threshold for all of them,
# or the max-FPR control one per model, chosen on its validation predictions (model_zoo.operating_point).
own = thresholds_for(models)
override = None
max_fpr_points = None
if st.sidebar.toggle("Thresholds by false-positive rate", key="inspect_max_fpr_on",
                     help="Each model (and the consensus) decides at the threshold at which at most this share of "
                          "REAL validation images is called FAKE. Measured on CIFAKE: on images unlike it nothing "
                          "is guaranteed."):
    rate = st.sidebar.number_input("Maximum false-positive rate on REAL", 0.0005, 0.5, 0.01, 0.005, format="%.4f",
                                   key="inspect_max_fpr")
    try:
        max_fpr_points = operating_points([m.entry for m in answering.values()], parse_max_fpr(rate))
        override = {name: point.threshold for name, point in max_fpr_points.items()}
    except (MaxFprError, ZooError) as exc:
        st.sidebar.error(str(exc))
elif st.sidebar.toggle("One threshold for every model", key="inspect_override",
                     help="Off: each model decides at its own threshold, fitted on validation (" +
                          ", ".join(f"{m} {t:.3f}" for m, t in own.items()) + ")."):
    start = next(iter(own.values())) if len(set(own.values())) == 1 else DEFAULT_THRESHOLD
    override = st.sidebar.slider("Decision threshold P(FAKE)", 0.0, 1.0, start, 0.005, format="%.3f",
                                 key="inspect_threshold")
if still_warming_up():  # the first upload after the app started: say why it is slower than the next ones
    st.caption("The models are still loading and compiling, as they do once after the app starts: this image takes "
               "a few seconds longer than the next ones.")
results = [judged(name, data, answering, override) for name, data in files]
for result in results:
    if result.error:
        st.error(f"Cannot use this file. {result.error}", icon=":material/broken_image:")

good = [(r, data) for r, (_, data) in zip(results, files, strict=True) if not r.error]
if len(files) > 1:
    st.subheader("Verdicts")
    st.caption(f"P(FAKE) per model; a model calls an image FAKE at or above {threshold_note(own, override)}.")
    st.dataframe(pd.DataFrame(verdict_rows(results)), hide_index=True, width="stretch",
                 column_config={m: st.column_config.ProgressColumn(m, min_value=0.0, max_value=1.0, format="%.3f")
                                for m in models})
st.download_button("Download verdicts (JSON)", verdicts_json(results), file_name="verdicts.json",
                   mime="application/json", icon=":material/download:")
if not good:
    st.stop()

names = [r.name for r, _ in good]
chosen = st.selectbox("Image to explain", names, key="inspect_image") if len(good) > 1 else names[0]
result, data = next((r, d) for r, d in good if r.name == chosen)

left, right = st.columns([1, 3])  # a wide right column: the verdict table fits a laptop screen unscrolled
with left:
    try:
        original = preview(data, result.name)
        st.image(original, caption=f"{result.name} (original, shown downscaled)", width="stretch")
    except ImageError as exc:  # decoded fine for the models; only the preview failed
        st.caption(str(exc))
with right:
    top = next((v for v in result.verdicts if v.consensus is not None), None)
    if top is not None:
        st.markdown(f"### The zoo's answer: {top.decision}")
        cols = st.columns(3)
        cols[0].metric("P(FAKE)", f"{top.prob_fake:.3f}", help="Calibrated on validation, like every model's.")
        cols[1].metric("FAKE votes", f"{top.consensus['fake_votes']}/{top.consensus['members']}")
        cols[2].metric("Disagreement", f"{top.consensus['spread']:.2f}",
                       help="Spread of the detectors' calibrated logits; above "
                            f"{top.consensus['spread_cutoff']:.2f} (wider than on 99 in 100 validation images) "
                            "the answer is UNCERTAIN.")
        why = {None: f"{top.label} at threshold {top.threshold:.3f}."}.get(top.reason, f"UNCERTAIN: {top.reason}.")
        st.caption(f"{why} The {top.consensus['combiner']} of {top.consensus['members']} models' calibrated logits "
                   "(`zoo_consensus`, fitted on validation). " + " ".join(top.input_check.messages()))
    in_range = {True: "yes", False: "no", None: "unknown"}
    per_model = st.expander("Per-model verdicts", expanded=top is None)
    per_model.dataframe(pd.DataFrame([{"model": v.model, "decision": v.decision, "verdict": v.label, "P(FAKE)": v.prob_fake,
                                "threshold": v.threshold, "like training images": in_range[v.in_distribution]}
                               for v in result.verdicts if v.consensus is None]), hide_index=True, width="stretch",
                 column_config={"P(FAKE)": st.column_config.ProgressColumn("P(FAKE)", format="%.4f", min_value=0.0,
                                                                         max_value=1.0, width=130),
                                "decision": st.column_config.TextColumn(width=95),
                                "verdict": st.column_config.TextColumn(width=65),
                                "threshold": st.column_config.NumberColumn(format="%.3f", width=80)})
    took = f"{result.seconds:.1f} s" if result.seconds >= 1 else f"{result.seconds * 1000:.0f} ms"
    if max_fpr_points:
        per_model.caption(" ".join(point.describe() for point in max_fpr_points.values()))
    per_model.caption(f"{len(result.verdicts)} detector{'s' if len(result.verdicts) != 1 else ''} judged it in {took}. "
               "*verdict*: FAKE at or above the model's threshold, else REAL. *decision*: the same, except UNCERTAIN "
               "when P(FAKE) is inside the model's band around its threshold, where its validation verdicts were "
               "right less than 99% of the time" + (" (no band with your threshold override)." if override
                                                   is not None else ".") + study_note)
    notes = input_notes(result)
    if notes:
        st.warning("\n\n".join(notes), icon=":material/warning:")  # a paragraph per note: each names its models
    elif all(v.in_distribution for v in result.verdicts):
        st.caption("Input check: the image has the training images' size and looks like them to every model.")
    else:
        st.caption(unscored_note(result))
    # Each model's scope from its card: what it learnt from and how far that was measured to carry.
    with st.expander("What each model was trained on, and how it did elsewhere", icon=":material/grid_on:"):
        st.markdown(scope_markdown({name: loaded.card for name, loaded in models.items()}))
    provenance_view.show(data, result.name)
    st.markdown("**What each model sees** (its exact input, enlarged)")
    heatmap_view.model_input_strip(result.seen)

# Why, in words: the answering model's (the consensus's, else the first detector's) evidence tests, above the maps.
explainer = next((answering[v.model] for v in result.verdicts if v.consensus is not None), None) or next(
    (models[v.model] for v in result.verdicts if v.model in models), None)
evidence = evidence_view.show(explainer, result) if explainer is not None else None

st.subheader("Heatmaps")
selected = st.multiselect("Models", list(answering), default=list(answering)[:3], key="inspect_heatmap_models",
                          help="zoo_consensus: the mean of its detectors' normalised maps.")
settings = heatmap_view.controls("inspect")
heatmap_view.show(result.name, result.seen, {m: answering[m] for m in selected},
                  {v.model: v.prob_fake for v in result.verdicts}, settings, key="inspect",
                  override=override if not isinstance(override, dict) else None,
                  decisions={v.model: v.decision for v in result.verdicts})
# The verdicts, what each model saw, the heatmaps above and the provenance, as one self-contained HTML file.
report_view.image_report_button(report_view.image_report(result, data, answering, selected, settings,
                                                         override if not isinstance(override, dict) else None,
                                                         evidence))
