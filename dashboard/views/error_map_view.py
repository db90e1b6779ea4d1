"""Errors page panels: the map of the test set with its box/lasso selection, the error clusters, and the three lists
(dashboard/scatter_map.py and dashboard/error_clusters.py have the logic)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import error_clusters, scatter_map
from dashboard.overlays import colorize, enlarge
from model_zoo.decision import CLASS_NAMES
from model_zoo.zoo import PREDICTIONS_FILE

THUMBS = 24
THUMB_COLUMNS = 8
CLUSTER_KEY = "errors_cluster"
SELECTED_KEY = "errors_selected"


def open_heatmaps(path: str) -> None:
    """Open one image's heatmaps at the top of the page (the page's heatmap panel reads this)."""
    st.session_state[SELECTED_KEY] = path


def thumbnails(rows: pd.DataFrame, picture: Callable[[str], np.ndarray | None] | None, model: str,
               thresholds: Mapping[str, float], key: str, answer: str | None = None,
               inspect: Callable[[str], None] | None = None) -> None:
    """A grid of images with the model's verdict (and the zoo's answer), each with a button to its heatmaps here and
    `inspect(path)`'s link to the inspect page."""
    grid = st.columns(THUMB_COLUMNS)
    for position, (_, row) in enumerate(rows.head(THUMBS).iterrows()):
        path = str(row["path"])
        with grid[position % THUMB_COLUMNS]:
            image = picture(path) if picture else None
            if image is not None:
                st.image(enlarge(image, 96), width="stretch")
            verdict = CLASS_NAMES[int(float(row[model]) >= thresholds[model])] if model in row else "?"
            lines = [f"true {CLASS_NAMES[int(row['label'])]}", f"{model}: {verdict} {float(row[model]):.2f}"]
            if answer and answer != model and answer in row:
                lines.append(f"{answer}: {CLASS_NAMES[int(float(row[answer]) >= thresholds[answer])]}")
            st.caption("  \n".join(lines))
            if image is not None:
                st.button("Heatmaps", key=f"{key}_{path}", on_click=open_heatmaps, args=(path,),
                          icon=":material/local_fire_department:")
                if inspect is not None:
                    inspect(path)


def show_map(frame: pd.DataFrame, arrays: Mapping[str, np.ndarray], model: str, table: pd.DataFrame,
             thresholds: Mapping[str, float], picture: Callable[[str], np.ndarray | None] | None,
             answer: str | None, inspect: Callable[[str], None] | None = None) -> None:
    """The scatter, coloured as chosen; a box or lasso selection shows its images below it (thumbnails)."""
    st.header("Map of the test set")
    st.caption(scatter_map.map_caption(arrays, model))
    colour = st.selectbox("Colour by", scatter_map.colour_options(frame), key="errors_map_colour")
    event = st.plotly_chart(scatter_map.map_figure(frame, colour), key="errors_map", on_select="rerun",
                            selection_mode=("box", "lasso"), width="stretch",
                            config={"displaylogo": False})
    selection = getattr(event, "selection", None) or (event or {}).get("selection")
    chosen = scatter_map.selected_rows(selection, scatter_map.trace_rows(frame, colour))
    if not chosen:
        st.caption("Draw a box or a lasso around points (the tools above the map) to see their images.")
        return
    picked = frame.iloc[chosen]
    wrong = int((picked["right or wrong"] == "wrong").sum())
    st.markdown(f"**{len(picked):,} images selected**, {wrong:,} of them wrong for {model}"
                f"{f'; the first {THUMBS} shown' if len(picked) > THUMBS else ''}.")
    rows = table.set_index("path").loc[picked["path"]].reset_index()
    thumbnails(rows, picture, model, thresholds, "errors_map_pick", answer, inspect)


def show_clusters(frame: pd.DataFrame, arrays: Mapping[str, np.ndarray], model: str,
                  picture: Callable[[str], np.ndarray | None] | None) -> None:
    """Each error cluster: its sentence, prototypes, the prototypes' mean Grad-CAM, and a link to the grid."""
    st.header("Error clusters")
    total = int((frame["cluster"] >= 0).sum())
    summary = error_clusters.cluster_summary(frame)
    st.markdown(error_clusters.clusters_overview(model, summary, total, np.asarray(arrays["silhouettes"]),
                                                 str(arrays.get("source", model))))
    paths = frame["path"].to_numpy()
    for row in summary.to_dict("records"):
        index = int(row["cluster"]) - 1
        with st.container(border=True):
            st.markdown(error_clusters.cluster_sentence(model, row, total))
            cols = st.columns([1] + [1] * 8)
            heatmaps = np.asarray(arrays["heatmaps"], np.float32)
            if index < len(heatmaps) and heatmaps[index].size > 1 and heatmaps[index].max() > 0:
                cols[0].image(enlarge(colorize(heatmaps[index]), 96), caption="mean Grad-CAM", width="stretch")
            elif index < len(heatmaps):
                cols[0].caption("Grad-CAM found no positive evidence for these verdicts")
            prototypes = [int(r) for r in np.asarray(arrays["prototypes"])[index] if r >= 0]
            for col, row_index in zip(cols[1:], prototypes, strict=False):
                image = picture(str(paths[row_index])) if picture else None
                if image is not None:
                    col.image(enlarge(image, 96), width="stretch")
                else:
                    col.caption(str(paths[row_index]).rsplit("/", 1)[-1])
            st.button("Show this cluster in the grid", key=f"errors_cluster_link_{index}", on_click=_set_cluster,
                      args=(index + 1,), icon=":material/filter_alt:")


def _set_cluster(cluster: int) -> None:
    st.session_state[CLUSTER_KEY] = cluster


LIST_KEY = "errors_list"
LISTS = ("hardest", "ambiguous", "likely label or leak issues")


def three_lists(table: pd.DataFrame, detectors: Sequence[str], thresholds: Mapping[str, float],
                attributes: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """The three lists of dashboard.error_clusters over the test set's detectors, by name (LISTS)."""
    return dict(zip(LISTS, (error_clusters.hardest(table, detectors, thresholds),
                            error_clusters.ambiguous(table, detectors, thresholds),
                            error_clusters.likely_label_issues(table, detectors, thresholds, attributes)), strict=True))


def _set_list(name: str) -> None:
    st.session_state[LIST_KEY] = name


def show_lists(lists: Mapping[str, pd.DataFrame], n_images: int, n_detectors: int) -> None:
    """Hardest, ambiguous and likely label or leak issues: a sentence, a table each, and a link to the grid."""
    st.header("Hard for every detector")
    if not n_detectors:
        st.caption("No detector in this test set.")
        return
    st.markdown(error_clusters.lists_sentence(*(len(v) for v in lists.values()), n_images, n_detectors))
    for tab, (name, rows) in zip(st.tabs(list(lists)), lists.items(), strict=True):
        with tab:
            if rows.empty:
                st.caption("None.")
                continue
            shown = [c for c in ("path", "label", "mean_confidence", "right_share", "why") if c in rows.columns]
            st.dataframe(rows[shown].head(500), hide_index=True, width="stretch", height=210)
            st.button("Show these in the grid", key=f"errors_list_link_{name}", on_click=_set_list, args=(name,),
                      icon=":material/filter_alt:")


SLICE_BY_KEY, SLICE_VALUE_KEY = "errors_slice_by", "errors_slice_value"
WEAK_SHOWN = 4


def _set_slice(by: str, value: str) -> None:
    st.session_state[SLICE_BY_KEY], st.session_state[SLICE_VALUE_KEY] = by, value


def show_weak_slices(model: str, table: pd.DataFrame | None, choices: Sequence[str]) -> None:
    """The model's weakest slices (its stored slices.csv, model_zoo.slice_errors), each a link to the grid filtered
    to it; nothing when it has none stored."""
    from dashboard.slice_figures import attribute_label
    from model_zoo.slice_errors import weak_slices, weakest_sentence

    if table is None:
        return
    st.header("Weakest slices")
    st.markdown(weakest_sentence(model, table))
    weak = pd.concat([weak_slices(table, true_class) for true_class in CLASS_NAMES])
    weak = weak[weak["by"].isin(choices)].sort_values("rate", ascending=False).head(WEAK_SHOWN)
    for row in weak.itertuples():
        st.button(f"{row.true_class} images, {attribute_label(row.by)} {row.value}: {row.rate:.1%} wrong "
                  f"({row.errors:,} of {row.n:,}) - show in the grid",
                  key=f"errors_slice_link_{row.true_class}_{row.by}_{row.value}",
                  on_click=_set_slice, args=(row.by, row.value), icon=":material/filter_alt:")


@st.cache_data(max_entries=8, show_spinner=False)
def _predictions_table(key: tuple[tuple[str, str, int], ...]) -> pd.DataFrame:
    from dashboard.misclassified import predictions_table
    from model_zoo import read_entry

    return predictions_table([read_entry(name, str(Path(path).parent)) for name, path, _ in key])


def predictions_table_cached(entries: Sequence) -> pd.DataFrame:
    """dashboard.misclassified.predictions_table, worked out once per version of the entries' predictions files."""
    key = tuple((e.name, str(e.path), (e.path / PREDICTIONS_FILE).stat().st_mtime_ns if e.has_test_predictions else 0)
                for e in entries)
    return _predictions_table(key)
