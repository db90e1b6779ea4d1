"""Leaderboard & compare: every model's test metrics, size and speed; 2 to 4 models side by side."""

import streamlit as st

from dashboard import charts
from dashboard.comparison import (
    TEST_SET,
    compare_by_test_set,
    comparison_note,
    metrics_long,
    operating_point_frame,
    panel_titles,
    robustness_long,
    with_test_set_column,
)
from dashboard.generalisation_matrix import DEFAULT_RANKING, board_ranked_by, ranking_choices
from dashboard.views.resources import PAGES, measured_latency_ms, require_models, zoo_entries
from model_zoo.leaderboard_table import PARETO_LEGEND, leaderboard_frame
from model_zoo.test_sets import other_set_column_names

entries, _ = zoo_entries()
st.title("Leaderboard & compare")
if not require_models(entries):
    st.stop()

# Timing every model here loads them all and runs each 30+ times: seconds to a minute on a busy CPU. The cards'
# recorded latency (python -m training.latency) is shown without it; live timing is on request.
time_now = st.toggle("Also time each model on this machine now", key="time_models_now",
                     help="Loads every model and times single-image predictions here; the recorded latency "
                          "in the cards comes from `python -m training.latency`.")
board = leaderboard_frame(entries, measured_latency_ms(entries) if time_now else None)
# Ranking on another set (ROC-AUC there, then accuracy) shows which model carries best to those images.
rank_by = st.selectbox("Rank by", ranking_choices(entries), key="leaderboard_rank_by",
                       format_func=lambda c: c if c == DEFAULT_RANKING else f"ROC-AUC on {c}",
                       help="Sets are each model's own test set and the named sets of `python -m training.evaluate "
                            "all --folder DIR --set NAME`; models not measured on the chosen set go to the bottom.")
board = with_test_set_column(board_ranked_by(board, entries, rank_by), entries)
if rank_by != DEFAULT_RANKING:
    st.caption(f"Ranked by ROC-AUC on **{rank_by}**, then accuracy there (not the default order below, so the top "
               "row need not be `--model best`).")
st.caption("Test-set metrics, each model at its own decision threshold (the `threshold` column, fitted on the "
           "validation split; FAKE is the positive class). Ranked by test accuracy, then ROC-AUC, fewer parameters, "
           "name: the top single model is what `python -m training.predict --model best` uses; `zoo_consensus`, the "
           "detectors combined (fitted on validation), is the default answer everywhere (`--model zoo`). "
           "Click a column header to sort. "
           + (f"`{TEST_SET}`: the images each row's figures are on (CIFAKE's test split, or that of the folder a "
              "model was trained on, `python -m training.train --data FOLDER`): rows on different sets are not "
              "measured on the same images, so models are ranked within their set, CIFAKE's first, and `--model "
              "best` is the best on CIFAKE. " if TEST_SET in board else "")
           + ("Unseen: only the test images whose file bytes occur nowhere in the training split (n of them). "
              if "unseen_accuracy" in board else "")
           + ("Latency: one image, one forward pass, median on this machine's CPU, timed now." if time_now else "")
           + (" Recorded latency and images/s (batches of 256): the card's, from `python -m training.latency` "
              "(all models timed together); " + PARETO_LEGEND + "; "
              "*not timed*: no recorded latency yet, so not compared."
              if "pareto" in board else "")
           + (" Robust acc.: mean accuracy over the corrupted test sets of `python -m training.robustness`."
              if "robust_accuracy" in board else "")
           + (" Train time: wall-clock minutes of the training run, on the machine named in the card."
              if "train_minutes" in board else "")
           + (" `<set> accuracy` / `<set> ROC-AUC`: other test sets, your own labelled folders "
              "(`python -m training.evaluate NAME --folder DIR`)." if other_set_column_names(entries) else ""))
st.dataframe(
    board,
    hide_index=True,
    width="stretch",
    column_config={
        **{k: st.column_config.NumberColumn(k, format="%.4f") for k in ("accuracy", "precision", "recall", "f1", "roc_auc")},
        "unseen_accuracy": st.column_config.NumberColumn("unseen accuracy", format="%.4f"),
        "unseen_roc_auc": st.column_config.NumberColumn("unseen ROC-AUC", format="%.4f"),
        "unseen_n": st.column_config.NumberColumn("unseen n", format="localized"),
        "threshold": st.column_config.NumberColumn("threshold", format="%.3f"),
        "params": st.column_config.NumberColumn("params", format="localized"),
        "size_mb": st.column_config.NumberColumn("size (MB)", format="%.2f"),
        "measured_latency_ms": st.column_config.NumberColumn("latency now (ms)", format="%.1f"),
        "recorded_latency_ms": st.column_config.NumberColumn("recorded latency (ms)", format="%.2f"),
        "images_per_second": st.column_config.NumberColumn("images/s (batch 256)", format="localized"),
        "pareto": st.column_config.TextColumn("Pareto", width=90),
        TEST_SET: st.column_config.TextColumn(TEST_SET),
        "train_minutes": st.column_config.NumberColumn("train time (min)", format="%.1f"),
        "robust_accuracy": st.column_config.NumberColumn("robust acc. (mean)", format="%.4f"),
        **{c: st.column_config.NumberColumn(c, format="%.4f") for c in other_set_column_names(entries)},
    },
)
if "metrics_on" in board:
    st.caption("Models marked `validation` have not been evaluated yet: `python -m training.evaluate NAME`.")

st.header("Operating point: a maximum false-positive rate")
rate = st.number_input("Maximum share of REAL images called FAKE", 0.0005, 0.5, 0.01, 0.005, format="%.4f",
                       key="leaderboard_max_fpr",
                       help="Each model's threshold is chosen on its validation predictions so that at most this share "
                            "of REAL validation images is called FAKE; test precision and recall are what to expect.")
points = operating_point_frame(entries, rate)
if points.empty:
    st.caption("No model has stored validation predictions yet (`python -m training.evaluate NAME --validation-only`).")
else:
    st.dataframe(points, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(c, format="%.4f") for c in points.columns
                                if c not in ("model", TEST_SET, "REAL validation images")})
    st.caption("Thresholds chosen on the validation split only; the test columns are what that threshold gave on "
               + ("each model's own test set (the `test set` column). " if TEST_SET in points else
                  "the 20,000 CIFAKE test images. ")
               + "The rate is measured on CIFAKE's REAL photos: on images unlike CIFAKE "
               "(other cameras, sizes, generators, compression) nothing is guaranteed. CLI: `python -m "
               "training.predict --max-fpr 0.01`; API: form field `max_fpr`.")

st.header("Compare models")
names = [e.name for e in entries]
chosen = st.multiselect("Models to compare (2 to 4)", names, default=list(board["model"][:3]), max_selections=4,
                        key="compare_models")
if len(chosen) < 2:
    st.info("Pick at least two models to compare them." if len(names) > 1 else
            "The zoo holds a single model; train another to compare (see the About page).")
    st.stop()
selected = [e for e in entries if e.name in chosen]

st.plotly_chart(charts.metric_bars(metrics_long(selected)), width="stretch")
titles = panel_titles(entries, chosen)
columns = st.columns(len(selected))
for column, entry in zip(columns, selected, strict=True):
    with column:
        metrics = entry.test_metrics
        if metrics:
            st.plotly_chart(charts.confusion_figure(metrics["confusion_matrix"], title=titles[entry.name]),
                            width="stretch",
                            key=f"cm_{entry.name}")
        else:
            st.caption(f"{entry.name}: not evaluated yet")

# Curves and disagreements join models image by image: only models evaluated on the same test images, one set at a
# time (dashboard.comparison.compare_by_test_set); the note says which models were compared on which set.
comparisons = compare_by_test_set(entries, chosen)
note = comparison_note(chosen, comparisons)
if note:
    st.info(note, icon=":material/join_inner:")
for number, comparison in enumerate(comparisons):
    if len(comparisons) > 1:
        st.subheader(f"On {comparison.test_set.label}: {', '.join(comparison.models)}")
    curves = comparison.curves()
    left, right = st.columns(2)
    left.plotly_chart(charts.roc_figure(curves), width="stretch", key=f"compare_roc_{number}")
    right.plotly_chart(charts.pr_figure(curves), width="stretch", key=f"compare_pr_{number}")
    compared = comparison.disagreement()
    if compared is None:
        continue
    matrix, mixed = compared
    table, evaluated, thresholds = comparison.table, comparison.models, comparison.thresholds
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.disagreement_figure(matrix), width="stretch", key=f"compare_disagree_{number}")
    with right:
        st.metric("Test images where they do not all agree", f"{len(mixed):,}")
        st.caption(f"{len(mixed) / max(1, len(table)):.1%} of {len(table):,} {comparison.test_set.label} images, "
                   "each model at its own threshold (" + ", ".join(f"{m} {thresholds[m]:.3f}" for m in evaluated)
                   + ")")
        if len(mixed) and st.button("Browse these images on the errors page", icon=":material/grid_view:",
                                    key=f"compare_browse_{number}"):
            st.session_state["errors_subset"] = {"models": evaluated, "paths": mixed["path"].tolist()}
            st.session_state["errors_mode"] = "disagreements"
            st.switch_page(PAGES["errors"])

robustness = robustness_long(selected)
if not robustness.empty:
    st.plotly_chart(charts.robustness_figure(robustness), width="stretch")
