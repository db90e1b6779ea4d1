"""A test image handed from the errors page to the inspect page: a link that names it (kept in the address, so it
can be bookmarked or shared), and the inspect page's reading of that link (dashboard/misclassified.py has the logic)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.misclassified import (
    CifakeTestImages,
    FolderTestImages,
    TestSet,
    asked_test_image,
    inspect_query,
    test_sets,
)
from dashboard.views.resources import PAGES, dataset, test_images_by_path
from model_zoo import ZooEntry
from model_zoo.decision import CLASS_NAMES


def inspect_link(test_set: TestSet, path: str) -> None:
    """A link that opens this test image on the inspect page: every verdict, why in words, the heatmaps."""
    st.page_link(PAGES["inspect"], label="Inspect", icon=":material/image_search:",
                 query_params=inspect_query(test_set, path), help="Open it on the inspect page")


def _images(test_set: TestSet) -> CifakeTestImages | FolderTestImages | None:
    if test_set.folder is not None:
        return FolderTestImages(test_set.folder)
    data = dataset()  # says why when the server has no CIFAKE configured
    return CifakeTestImages(data.test.images, test_images_by_path(data)) if data is not None else None


def opened_test_image(entries: Sequence[ZooEntry]) -> list[tuple[str, bytes]]:
    """The test image the page's address names, as (name, file bytes), with a note saying where it is from; [] when
    the address names none, or (with a warning saying why) when it cannot be read on this server."""
    from dashboard.views.error_map_view import predictions_table_cached

    asked = asked_test_image(test_sets(entries), st.query_params.to_dict())
    if asked is None:
        return []
    if isinstance(asked, str):
        st.warning(asked, icon=":material/image_not_supported:")
        return []
    test_set, path = asked
    images = _images(test_set)
    data = images.file_bytes(path) if images is not None else None
    if data is None:
        st.warning(f"Test image `{path}` of {test_set.label} is not among its images on this server.",
                   icon=":material/image_not_supported:")
        return []
    labels = predictions_table_cached(test_set.entries).set_index("path")["label"]
    truth = f", true class **{CLASS_NAMES[int(labels[path])]}**" if path in labels.index else ""
    st.info(f"Test image `{path}` of {test_set.label}{truth}, opened from the errors page. Upload images above to "
            "judge your own instead.", icon=":material/image_search:")
    return [(path, data)]
