"""Test-set errors: where the models fail (a map of the test set, error clusters, the images every detector finds
hard) and a paged grid of one model's misclassified images, filterable by slice and cluster, with heatmaps on click."""

import streamlit as st

from dashboard import scatter_map
from dashboard.misclassified import (
    OTHERS_CHOICES,
    CifakeTestImages,
    FolderTestImages,
    answer_model,
    card_lines,
    default_model,
    errors_listing,
    filter_errors,
    model_columns,
    model_thresholds,
    paginate,
    restrict,
    set_holding,
    test_sets,
)
from dashboard.overlays import enlarge
from dashboard.views import error_map_view, heatmap_view
from dashboard.views.resources import (
    dataset,
    folder_test_attributes,
    image_attributes,
    loaded_models,
    require_models,
    test_images_by_path,
    zoo_entries,
)
from dashboard.views.test_image_link import inspect_link
from model_zoo.decision import CLASS_NAMES
from model_zoo.image_attributes import test_rows
from model_zoo.roles import is_detector
from model_zoo.slice_errors import ATTRIBUTES, slice_values

PER_PAGE = 24
GRID_COLUMNS = 6

entries, _ = zoo_entries()
st.title("Test-set errors")
if not require_models(entries):
    st.stop()
sets = test_sets(entries)
if not sets:
    st.info("No model has been evaluated on the test set yet: `python -m training.evaluate NAME --data PATH`.")
    st.stop()

subset = st.session_state.get("errors_subset")
held = set_holding(sets, subset["models"]) if subset else None
test_set = sets[0]
if len(sets) > 1:
    labels = [s.label for s in sets]
    chosen = st.selectbox("Test set", labels, index=held or 0, key="errors_set",
                          help="Models evaluated on different test images (CIFAKE's, or those of the folder a model "
                               "was trained on) are browsed one test set at a time.")
    test_set = sets[labels.index(chosen)]
table = error_map_view.predictions_table_cached(test_set.entries)
evaluated = model_columns(table)
thresholds = model_thresholds(test_set.entries)
answer = answer_model(test_set.entries, evaluated)
detectors = [entry.name for entry in test_set.entries if is_detector(entry) and entry.name in evaluated]

mode = "errors"
if subset and set(subset["models"]) <= set(evaluated):
    mode = st.radio("Show", ("errors", "disagreements"), horizontal=True, key="errors_mode",
                    format_func=lambda m: "one model's errors" if m == "errors" else
                    f"the {len(subset['paths']):,} images where {', '.join(subset['models'])} disagree")
    if st.button("Clear the comparison", icon=":material/close:"):
        del st.session_state["errors_subset"]
        st.rerun()

model = st.selectbox("Model", evaluated, index=default_model(evaluated, answer), key="errors_model",
                     help="Opens on the zoo's answer (its consensus, else its best model).")

# Images: CIFAKE's from the configured dataset, a folder model's from its folder; the map draws without them.
images, attributes = None, None
if test_set.folder is None:
    data = dataset()
    if data is not None:
        images = CifakeTestImages(data.test.images, test_images_by_path(data))
        attributes = test_rows(image_attributes(data))
else:  # a folder model's predictions name files in the folder it was evaluated on, never CIFAKE's
    images = FolderTestImages(test_set.folder)
    if not images.available:
        st.info(f"The {test_set.name} images were read from `{test_set.folder}` when these models were evaluated; "
                "that is not on this server, so the errors are listed by file name.", icon=":material/folder_off:")
        images = None
    else:  # content class from its sub-folders when it has them, the measured properties always
        attributes = folder_test_attributes(test_set.folder, table["path"].tolist())
if attributes is None and test_set.folder is None:
    attributes = scatter_map.content_from_names(table["path"])
picture = images.picture if images is not None else None

selected = st.session_state.get("errors_selected")
if selected is not None and selected in set(table["path"]) and images is not None and images.picture(selected) is not None:
    st.subheader(f"Heatmaps: {selected}")
    label = int(table.set_index("path").loc[selected, "label"])
    st.caption(f"True class: **{CLASS_NAMES[label]}**. Each model's input, with where it finds evidence for its verdict "
               "(or the class chosen under Explain).")
    models = loaded_models(list(test_set.entries))
    seen = {name: images.seen(selected, loaded.card) for name, loaded in models.items()}
    probs = table.set_index("path").loc[selected, list(models)].astype(float).to_dict()
    settings = heatmap_view.controls("errors")
    heatmap_view.show(selected, seen, models, probs, settings, key="errors")
    if st.button("Close heatmaps", icon=":material/close:"):
        st.session_state.pop("errors_selected", None)
        st.rerun()
    st.divider()

entry = next(e for e in test_set.entries if e.name == model)
arrays = entry.test_map()
frame = None
if arrays is None:
    st.info(f"No map of the test set is stored for {model} yet: `python -m training.error_map {model}`.",
            icon=":material/scatter_plot:")
else:
    frame = scatter_map.with_attributes(scatter_map.map_frame(entry.test_predictions(), arrays, thresholds[model]),
                                        attributes)
    error_map_view.show_map(frame, arrays, model, table, thresholds, picture, answer,
                            inspect=lambda path: inspect_link(test_set, path))
    error_map_view.show_clusters(frame, arrays, model, picture)
error_map_view.show_weak_slices(model, entry.slices(), scatter_map.slice_choices(attributes))
lists = error_map_view.three_lists(table, detectors, thresholds, attributes)
error_map_view.show_lists(lists, len(table), len(detectors))

st.header(f"{model}'s errors")
cols = st.columns([1, 2, 2])
true_class = cols[0].selectbox("True class", ("both", *CLASS_NAMES), key="errors_class")
confidence = cols[1].slider("Confidence in its wrong verdict", 0.0, 1.0, (0.0, 1.0), 0.01, key="errors_confidence",
                            disabled=mode == "disagreements",
                            help="Its calibrated probability of the class it chose. With a threshold other than 0.5 "
                                 "this can be below 0.5.")
others = cols[2].selectbox("Other models", OTHERS_CHOICES, key="errors_others",
                           disabled=len(evaluated) < 2 or mode == "disagreements")
cols = st.columns([1, 2, 1, 2])
slice_options = ("none", *scatter_map.slice_choices(attributes))
if st.session_state.get(error_map_view.SLICE_BY_KEY) not in slice_options:
    st.session_state[error_map_view.SLICE_BY_KEY] = "none"
slice_by = cols[0].selectbox("Slice by", slice_options, key=error_map_view.SLICE_BY_KEY)
slice_paths = None
if slice_by != "none":
    values = slice_values(attributes, slice_by) if slice_by in ATTRIBUTES else None
    options = sorted(values.dropna().unique()) if values is not None else []
    if st.session_state.get(error_map_view.SLICE_VALUE_KEY) not in options:
        st.session_state.pop(error_map_view.SLICE_VALUE_KEY, None)
    value = cols[1].selectbox("Slice", options, key=error_map_view.SLICE_VALUE_KEY)
    slice_paths = set(values.index[values == value]) if values is not None else None
clusters = [0, *range(1, int(frame["cluster"].max()) + 2)] if frame is not None and (frame["cluster"] >= 0).any() else [0]
if st.session_state.get(error_map_view.CLUSTER_KEY) not in clusters:
    st.session_state[error_map_view.CLUSTER_KEY] = 0
cluster = cols[2].selectbox("Cluster", clusters, key=error_map_view.CLUSTER_KEY,
                            format_func=lambda c: "any" if c == 0 else f"cluster {c}")
cluster_paths = set(frame.loc[frame["cluster"] == cluster - 1, "path"]) if cluster and frame is not None else None
among = cols[3].selectbox("Only images in", ("any list", *lists), key=error_map_view.LIST_KEY)
list_paths = set(lists[among]["path"]) if among in lists else None

if mode == "disagreements":
    shown = table[table["path"].isin(set(subset["paths"]))]
    if true_class != "both":
        shown = shown[shown["label"] == CLASS_NAMES.index(true_class)]
    st.caption(f"{len(shown):,} test images where the compared models do not all agree.")
else:
    shown = filter_errors(table, model, thresholds, true_class=None if true_class == "both" else true_class,
                          confidence=confidence, others=others)
    wrong = filter_errors(table, model, thresholds)
    shown = restrict(restrict(restrict(shown, slice_paths), cluster_paths), list_paths)
    st.caption(f"{model} gets {len(wrong):,} of {len(table):,} test images wrong at its threshold "
               f"{thresholds[model]:.3f}; {len(shown):,} match the filters. Other models are judged at their own "
               "thresholds.")
if shown.empty:
    st.success("No images match these filters.")
    st.stop()
if images is None:
    st.subheader("Errors by file name")
    st.dataframe(errors_listing(shown), hide_index=True, width="stretch")
    st.stop()

pages = max(1, -(-len(shown) // PER_PAGE))
page = st.columns(4)[0].number_input(f"Page (of {pages})", 1, pages, 1, key="errors_page") if pages > 1 else 1
rows, _ = paginate(shown, int(page), PER_PAGE)

grid = st.columns(GRID_COLUMNS)
for position, (_, row) in enumerate(rows.iterrows()):
    path = row["path"]
    with grid[position % GRID_COLUMNS]:
        picture_now = images.picture(path)
        if picture_now is not None:
            st.image(enlarge(picture_now, 128), width="stretch")
        else:
            st.caption("(image not in this dataset)")
        st.markdown(f"**true {CLASS_NAMES[int(row['label'])]}**")
        main, rest = card_lines(row, model, answer, evaluated, thresholds)
        st.caption("  \n".join([path.rsplit("/", 1)[-1], *main]))
        if rest:
            with st.expander(f"{len(rest)} other models"):
                st.caption("  \n".join(rest))
        if picture_now is not None:
            st.button("Heatmaps", key=f"errors_hm_{path}", icon=":material/local_fire_department:",
                      on_click=error_map_view.open_heatmaps, args=(path,))
            inspect_link(test_set, path)
