"""Test-set errors: a paged grid of one model's misclassified test images, filterable, with heatmaps on click."""

import streamlit as st

from dashboard.misclassified import (
    OTHERS_CHOICES,
    CifakeTestImages,
    FolderTestImages,
    errors_listing,
    filter_errors,
    model_columns,
    model_thresholds,
    paginate,
    predictions_table,
    set_holding,
    test_sets,
)
from dashboard.overlays import enlarge
from dashboard.views import heatmap_view
from dashboard.views.resources import dataset, loaded_models, require_models, test_images_by_path, zoo_entries
from model_zoo.decision import CLASS_NAMES

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
table = predictions_table(test_set.entries)
evaluated = model_columns(table)
thresholds = model_thresholds(test_set.entries)

mode = "errors"
if subset and set(subset["models"]) <= set(evaluated):
    mode = st.radio("Show", ("errors", "disagreements"), horizontal=True, key="errors_mode",
                    format_func=lambda m: "one model's errors" if m == "errors" else
                    f"the {len(subset['paths']):,} images where {', '.join(subset['models'])} disagree")
    if st.button("Clear the comparison", icon=":material/close:"):
        del st.session_state["errors_subset"]
        st.rerun()

cols = st.columns([2, 1, 2, 2])
model = cols[0].selectbox("Model", evaluated, key="errors_model")
true_class = cols[1].selectbox("True class", ("both", *CLASS_NAMES), key="errors_class")
confidence = cols[2].slider("Confidence in its wrong verdict", 0.0, 1.0, (0.0, 1.0), 0.01, key="errors_confidence",
                            disabled=mode == "disagreements",
                            help="Its calibrated probability of the class it chose. With a threshold other than 0.5 "
                                 "this can be below 0.5.")
others = cols[3].selectbox("Other models", OTHERS_CHOICES, key="errors_others",
                           disabled=len(evaluated) < 2 or mode == "disagreements")

if mode == "disagreements":
    shown = table[table["path"].isin(set(subset["paths"]))]
    if true_class != "both":
        shown = shown[shown["label"] == CLASS_NAMES.index(true_class)]
    st.caption(f"{len(shown):,} test images where the compared models do not all agree.")
else:
    shown = filter_errors(table, model, thresholds, true_class=None if true_class == "both" else true_class,
                          confidence=confidence, others=others)
    wrong = filter_errors(table, model, thresholds)
    st.caption(f"{model} gets {len(wrong):,} of {len(table):,} test images wrong at its threshold "
               f"{thresholds[model]:.3f}; {len(shown):,} match the filters. Other models are judged at their own "
               "thresholds.")
if shown.empty:
    st.success("No images match these filters.")
    st.stop()

if test_set.folder is None:
    data = dataset()
    images = None if data is None else CifakeTestImages(data.test.images, test_images_by_path(data))
else:  # a folder model's predictions name files in the folder it was evaluated on, never CIFAKE's
    images = FolderTestImages(test_set.folder)
    if not images.available:
        st.info(f"The {test_set.name} images were read from `{test_set.folder}` when these models were evaluated; "
                "that is not on this server, so the errors are listed by file name.", icon=":material/folder_off:")
        images = None
if images is None:
    st.subheader("Errors by file name")
    st.dataframe(errors_listing(shown), hide_index=True, width="stretch")
    st.stop()

pages = max(1, -(-len(shown) // PER_PAGE))
page = st.columns(4)[0].number_input(f"Page (of {pages})", 1, pages, 1, key="errors_page") if pages > 1 else 1
rows, _ = paginate(shown, int(page), PER_PAGE)

selected = st.session_state.get("errors_selected")
if selected is not None and selected in set(table["path"]) and images.picture(selected) is not None:
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

grid = st.columns(GRID_COLUMNS)
for position, (_, row) in enumerate(rows.iterrows()):
    path = row["path"]
    with grid[position % GRID_COLUMNS]:
        picture = images.picture(path)
        if picture is not None:
            st.image(enlarge(picture, 128), width="stretch")
        else:
            st.caption("(image not in this dataset)")
        st.markdown(f"**true {CLASS_NAMES[int(row['label'])]}**")
        probs = [f"{'**' if name == model else ''}{name}: {float(row[name]):.3f}{'**' if name == model else ''}"
                 for name in evaluated]
        st.caption("  \n".join([path.rsplit("/", 1)[-1], "P(FAKE):", *probs]))
        if picture is not None and st.button("Heatmaps", key=f"errors_hm_{path}", icon=":material/local_fire_department:"):
            st.session_state["errors_selected"] = path
            st.rerun()
