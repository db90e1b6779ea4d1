"""One model: its card, training curves, test-set confusion, ROC/PR, calibration and a live threshold."""

import json

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.evaluation import card_headline, threshold_metrics
from dashboard.misclassified import answer_model, default_model
from dashboard.views import faithfulness_view, model_card_view, slices_view
from dashboard.views.resources import require_models, zoo_entries
from model_zoo.decision import threshold as card_threshold

entries, _ = zoo_entries()
st.title("Model")
if not require_models(entries):
    st.stop()

names = [e.name for e in entries]
name = st.selectbox("Model", names, index=default_model(names, answer_model(entries, names)), key="model_page_model",
                    help="Opens on the zoo's answer (its consensus, else its best model).")
entry = next(e for e in entries if e.name == name)
card = entry.card

st.subheader(f"{name}: {card.description or card.architecture}")
st.caption(f"Weights: **{card.trained_from}**")
train = card.train
tiles = card_headline(card)
for row in range(0, len(tiles), 4):
    for col, (label, value, help_text) in zip(st.columns(4), tiles[row : row + 4], strict=False):
        col.metric(label, value, help=help_text)
cols = st.columns(4)
cols[0].metric("Parameters", f"{card.params:,}")
cols[1].metric("Size", f"{card.size_bytes / 2**20:.2f} MB")
epochs, best = ("?" if v is None else v for v in (train.epochs_run, train.best_epoch))
cols[2].metric("Epochs (best)", f"{epochs} ({best})")

model_card_view.show(entry)  # test sets (CIFAKE and the user's own), the Hugging Face model card, the HTML report

with st.expander("card.json fields", expanded=False):
    facts = {
        "architecture": card.architecture,
        "input": "x".join(map(str, card.input_shape)),
        "preprocessing": json.dumps(card.preprocessing.to_dict()),
        "Grad-CAM layer": (card.explain.gradcam_layer if card.explain else None) or "(last 4-D layer)",
        **{f"train.{k}": str(v) for k, v in train.to_dict().items()},
        "created": card.created or "",
    }
    st.table(pd.DataFrame({"field": list(facts), "value": [str(v) for v in facts.values()]}).set_index("field"))
    st.json(card.to_dict(), expanded=False)

history = entry.history()
if not history.empty:
    st.plotly_chart(charts.history_figure(history), width="stretch")
else:
    st.caption("No training history stored for this model.")

predictions = entry.test_predictions()
if predictions is None:
    st.info(f"`{name}` has not been evaluated on the test set yet: `python -m training.evaluate {name}`.")
    st.stop()

st.header("On the test set")
own = card_threshold(card)
# One slider per model (its key), so each starts at that model's own threshold.
threshold = st.slider("Decision threshold: P(FAKE) at or above it is called FAKE", 0.0, 1.0, own, 0.005,
                      format="%.3f", key=f"model_threshold_{name}",
                      help=f"Starts at the model's own threshold from its card, {own:.3f}.")
live, base = threshold_metrics(predictions, threshold), threshold_metrics(predictions, own)
changed = abs(threshold - own) > 1e-9
cols = st.columns(4)
for col, key in zip(cols, ("accuracy", "precision", "recall", "f1"), strict=True):
    col.metric(key, f"{live[key]:.4f}", f"{live[key] - base[key]:+.4f} vs its threshold {own:.3f}" if changed else None)
left, right = st.columns(2)
left.plotly_chart(charts.confusion_figure(live["confusion_matrix"], f"Counts at threshold {threshold:.3f}"),
                  width="stretch")
right.plotly_chart(charts.confusion_figure(live["confusion_matrix"], "Normalised by true class", normalized=True),
                   width="stretch")

labels, probs = predictions["label"].to_numpy(), predictions["prob_fake"].to_numpy()
left, right = st.columns(2)
left.plotly_chart(charts.roc_figure({name: (labels, probs)}), width="stretch")
right.plotly_chart(charts.pr_figure({name: (labels, probs)}), width="stretch")
st.plotly_chart(charts.reliability_figure(labels, probs), width="stretch")
st.caption("A calibrated model's points lie on the diagonal: of the images it gives P(FAKE) = 0.8, 80% are FAKE. "
           "ECE is the image-weighted mean distance from it. P(FAKE) here is after the card's temperature scaling.")

slices_view.show_model_slices(entry)  # the weakest slices' sentence, chart and table (slices.csv)

robustness = entry.robustness()
if robustness is not None:
    st.header("Robustness")
    st.plotly_chart(charts.robustness_figure(robustness.assign(model=name)), width="stretch")
    with st.expander("Accuracy per corruption and level"):
        st.dataframe(robustness.pivot_table(index="corruption", columns="level", values="accuracy"), width="stretch")

faithfulness_view.show_model_explanations(entry)  # class-mean heatmaps and each method's faithfulness
