"""One model: its card, training curves, test-set confusion, ROC/PR, calibration and a live threshold."""

import json

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.evaluation import threshold_metrics
from dashboard.leaderboard import read_robustness
from dashboard.resources import require_models, zoo_entries

entries, _ = zoo_entries()
st.title("Model")
if not require_models(entries):
    st.stop()

names = [e.name for e in entries]
name = st.selectbox("Model", names, key="model_page_model")
entry = next(e for e in entries if e.name == name)
card = entry.card

st.subheader(f"{name}: {card.get('description', card['architecture'])}")
train = card.get("train", {})
test = card["metrics"].get("test") or {}
cols = st.columns(5)
cols[0].metric("Test accuracy", f"{test['accuracy']:.4f}" if test else "not evaluated")
cols[1].metric("ROC-AUC", f"{test['roc_auc']:.4f}" if test.get("roc_auc") is not None else "n/a")
cols[2].metric("Parameters", f"{card['params']:,}")
cols[3].metric("Size", f"{card['size_bytes'] / 2**20:.2f} MB")
cols[4].metric("Epochs (best)", f"{train.get('epochs_run', '?')} ({train.get('best_epoch', '?')})")

with st.expander("Model card", expanded=False):
    facts = {
        "architecture": card["architecture"],
        "input": "x".join(map(str, card["input_shape"])),
        "preprocessing": json.dumps(card["preprocessing"]),
        "Grad-CAM layer": (card.get("explain") or {}).get("gradcam_layer", "(last 4-D layer)"),
        **{f"train.{k}": str(v) for k, v in train.items()},
        "created": card.get("created", ""),
    }
    st.table(pd.DataFrame({"field": list(facts), "value": [str(v) for v in facts.values()]}).set_index("field"))
    st.json(card, expanded=False)

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
threshold = st.slider("Decision threshold: P(FAKE) at or above it is called FAKE", 0.0, 1.0, 0.5, 0.01,
                      key="model_threshold")
live = threshold_metrics(predictions, threshold)
cols = st.columns(4)
for col, key in zip(cols, ("accuracy", "precision", "recall", "f1"), strict=True):
    base = test.get(key)
    changed = base is not None and abs(threshold - 0.5) > 1e-9
    col.metric(key, f"{live[key]:.4f}", f"{live[key] - base:+.4f} vs threshold 0.5" if changed else None)
left, right = st.columns(2)
left.plotly_chart(charts.confusion_figure(live["confusion_matrix"], f"Counts at threshold {threshold:.2f}"),
                  width="stretch")
right.plotly_chart(charts.confusion_figure(live["confusion_matrix"], "Normalised by true class", normalized=True),
                   width="stretch")

labels, probs = predictions["label"].to_numpy(), predictions["prob_fake"].to_numpy()
left, right = st.columns(2)
left.plotly_chart(charts.roc_figure({name: (labels, probs)}), width="stretch")
right.plotly_chart(charts.pr_figure({name: (labels, probs)}), width="stretch")
st.plotly_chart(charts.reliability_figure(labels, probs), width="stretch")
st.caption("A calibrated model's points lie on the diagonal: of the images it gives P(FAKE) = 0.8, 80% are FAKE. "
           "ECE is the image-weighted mean distance from it.")

robustness = read_robustness(entry)
if robustness is not None:
    st.header("Robustness")
    st.plotly_chart(charts.robustness_figure(robustness), width="stretch")
    with st.expander("Accuracy per corruption and level"):
        st.dataframe(robustness.pivot_table(index="corruption", columns="level", values="accuracy"), width="stretch")
