"""The test-set map and error clusters as plain functions: neighbourhood measures, clustering, the Errors page's
map frame, selection, cluster sentences and the three lists (no model, no Streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import error_clusters, scatter_map
from dashboard.misclassified import card_lines, default_model
from training.lib.error_clustering import NOT_AN_ERROR, PROTOTYPES, cluster_errors
from training.lib.feature_map import neighbourhood_preservation, reduce_to_2d, scaled


def _blobs(n_per: int, centres: list[list[float]], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(c, 0.05, (n_per, len(c))) for c in centres]).astype(np.float32)


def test_neighbourhood_preservation_is_perfect_for_an_identity_map_and_low_for_a_shuffled_one():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(600, 2)).astype(np.float32)
    kept = neighbourhood_preservation(points, points, sample=200)
    assert kept["knn_recall"] == 1.0 and kept["trustworthiness"] == pytest.approx(1.0)
    shuffled = neighbourhood_preservation(points, points[rng.permutation(len(points))], sample=200)
    assert shuffled["knn_recall"] < 0.1 and shuffled["trustworthiness"] < 0.7


def test_scaled_coordinates_span_minus_one_to_one_and_keep_the_aspect_ratio():
    coords = scaled(np.array([[0.0, 0.0], [10.0, 2.0], [4.0, 1.0]]))
    assert coords[:, 0].min() == pytest.approx(-1) and coords[:, 0].max() == pytest.approx(1)
    assert coords[:, 1].max() - coords[:, 1].min() == pytest.approx(0.4)


def test_pca_tsne_keeps_separate_blobs_apart():
    features = _blobs(60, [[0] * 8, [5] * 8, [0] * 4 + [5] * 4])
    coords = reduce_to_2d(features, "pca-tsne", seed=0)
    assert coords.shape == (180, 2) and np.abs(coords).max() <= 1.0 + 1e-6
    kept = neighbourhood_preservation(features, coords, sample=180)
    assert kept["knn_recall"] > 0.3  # within-blob neighbours are random, but stay within the blob
    with pytest.raises(ValueError, match="unknown map method"):
        reduce_to_2d(features, "isomap")


def test_cluster_errors_finds_planted_groups_and_leaves_right_images_out():
    features = np.concatenate([_blobs(40, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]),
                               np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32)])
    wrong = np.r_[np.ones(120, bool), np.zeros(50, bool)]
    clusters = cluster_errors(features, wrong)
    assert clusters.k == 3
    assert (clusters.cluster[~wrong] == NOT_AN_ERROR).all()
    for planted in range(3):  # each planted group lands in one cluster
        assert len(set(clusters.cluster[planted * 40 : (planted + 1) * 40])) == 1
    assert clusters.prototypes.shape == (3, PROTOTYPES)
    for c, rows in enumerate(clusters.prototypes):
        assert (clusters.cluster[rows] == c).all()
    assert clusters.silhouettes[:, 0].tolist() == list(range(2, 9)) and clusters.silhouettes[1, 1] > 0.8


def test_too_few_errors_make_one_cluster_and_none_make_none():
    features = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    few = cluster_errors(features, np.r_[np.ones(5, bool), np.zeros(25, bool)])
    assert few.k == 1 and len(few.silhouettes) == 0 and (few.cluster[:5] == 0).all()
    assert cluster_errors(features, np.zeros(30, bool)).k == 0


def _map_arrays(n: int, clusters: np.ndarray) -> dict:
    coords = np.random.default_rng(0).uniform(-1, 1, (n, 2)).astype(np.float16)
    return {"coords": coords, "cluster": clusters, "prototypes": np.zeros((1, 8), np.int32),
            "heatmaps": np.zeros((1, 4, 4), np.float16), "silhouettes": np.array([[2, 0.3], [3, 0.5]], np.float32),
            "method": np.array("pca-tsne"), "layer": np.array("dropout_1"), "source": np.array("m"),
            "knn_recall": np.float32(0.42), "trustworthiness": np.float32(0.97)}


def _predictions(labels: list[int], probs: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"path": [f"test/{'FAKE' if y else 'REAL'}/{i} (3).jpg" for i, y in enumerate(labels)],
                         "label": labels, "prob_fake": probs})


def test_map_frame_marks_errors_verdicts_and_confidence_at_the_models_threshold():
    predictions = _predictions([0, 0, 1, 1], [0.9, 0.2, 0.3, 0.95])
    frame = scatter_map.map_frame(predictions, _map_arrays(4, np.array([0, -1, 0, -1], np.int8)), threshold=0.5)
    assert frame["right or wrong"].tolist() == ["wrong", "right", "wrong", "right"]
    assert frame["verdict"].tolist() == ["FAKE", "REAL", "REAL", "FAKE"]
    assert frame["confidence"].round(2).tolist() == [0.9, 0.8, 0.7, 0.95]
    at_higher = scatter_map.map_frame(predictions, _map_arrays(4, np.array([-1] * 4, np.int8)), threshold=0.92)
    assert at_higher["verdict"].tolist() == ["REAL", "REAL", "REAL", "FAKE"]


def test_map_figure_is_webgl_with_every_point_once_and_selection_reads_rows_back():
    predictions = _predictions([0, 1] * 50, list(np.linspace(0.01, 0.99, 100)))
    frame = scatter_map.with_attributes(scatter_map.map_frame(predictions, _map_arrays(100, np.full(100, -1, np.int8)), 0.5),
                                      scatter_map.content_from_names(predictions["path"]))
    assert "content" in scatter_map.colour_options(frame)
    attributes = pd.DataFrame({"content": "bird", "brightness": np.linspace(0, 1, 100), "sha1": "x",
                               "exact_other_split": [True] + [False] * 99, "near_other_split": False},
                              index=pd.Index(predictions["path"], name="path"))
    coloured = scatter_map.with_attributes(frame[["path", "x", "y", "prob_fake", "label", "cluster"]], attributes)
    assert scatter_map.colour_options(coloured) == ["cluster", "content", "brightness", "duplicates"]
    assert coloured["duplicates"].iloc[0] == "exact copy in train" and coloured["duplicates"].iloc[1] == "no copy in train"
    for colour in ("right or wrong", "confidence", "content", "cluster"):
        figure = scatter_map.map_figure(frame, colour)
        assert all(trace.type == "scattergl" for trace in figure.data)
        assert sum(len(trace.x) for trace in figure.data) == 100
        rows = sorted(int(float(r)) for trace in figure.data for r in np.asarray(trace.customdata)[:, 0])
        assert rows == list(range(100))
    traces = scatter_map.trace_rows(frame, "right or wrong")
    assert [label for label, _ in traces] == ["right", "wrong"]
    wrong_rows = traces[1][1]
    points = [{"curve_number": 1, "point_index": 2, "customdata": [0, 0.5]},  # the index wins over customdata
              {"customdata": [3, 0.9]}, {"customdata": [3]}, {"customdata": None}, {"customdata": [500]},
              {"curve_number": 1, "point_index": 10_000}]
    assert scatter_map.selected_rows({"points": points}, traces) == [int(wrong_rows[2]), 3]
    assert scatter_map.selected_rows(None, traces) == []


def test_map_caption_names_whose_features_and_the_measured_preservation():
    arrays = _map_arrays(10, np.full(10, -1, np.int8))
    assert "m's own features" in scatter_map.map_caption(arrays, "m")
    caption = scatter_map.map_caption(arrays, "zoo_consensus")
    assert "best member m's features" in caption and "42%" in caption and "0.970" in caption


def _cluster_frame(content_in_cluster: str, brightness: float) -> pd.DataFrame:
    n = 200
    labels = np.r_[np.zeros(100, int), np.ones(100, int)]
    cluster = np.full(n, -1)
    cluster[:30] = 0  # 30 REAL errors
    cluster[100:110] = 1  # 10 FAKE errors
    content = np.array(["cat"] * n, dtype=object)
    content[:24] = content_in_cluster
    bright = np.full(n, 0.5) + np.linspace(-0.1, 0.1, n)
    bright[:30] = brightness
    return pd.DataFrame({"path": [f"p{i}" for i in range(n)], "label": labels, "cluster": cluster,
                         "confidence": np.full(n, 0.8), "content": content, "brightness": bright})


def test_cluster_sentences_are_built_from_the_numbers():
    summary = error_clusters.cluster_summary(_cluster_frame("bird", 0.9))
    assert summary["size"].tolist() == [30, 10] and summary["share"].tolist() == [0.75, 0.25]
    first = error_clusters.cluster_sentence("m", summary.iloc[0].to_dict(), 40)
    assert first.startswith("Cluster 1 holds 30 of m's 40 errors (75%): 100% are REAL images called FAKE")
    assert "80% are birds (against 12% of all test images)" in first
    assert "brightness is higher than usual (median 0.9 against" in first
    second = error_clusters.cluster_sentence("m", summary.iloc[1].to_dict(), 40)
    assert "100% are FAKE images called REAL" in second and "birds" not in second
    changed = error_clusters.cluster_summary(_cluster_frame("ship", 0.1))
    other = error_clusters.cluster_sentence("m", changed.iloc[0].to_dict(), 40)
    assert "80% are ships" in other and "brightness is lower than usual (median 0.1" in other
    assert other != first


def test_clusters_overview_names_the_k_kept_and_its_silhouette():
    summary = error_clusters.cluster_summary(_cluster_frame("bird", 0.9))
    text = error_clusters.clusters_overview("m", summary, 40, np.array([[2, 0.31], [3, 0.52]], np.float32))
    assert "2 clusters" in text and "k = 2, 3 tried, 3 kept" in text and "(0.52" in text
    assert "too few" in error_clusters.clusters_overview("m", summary, 12, np.zeros((0, 2)))
    assert "of its own features" in text
    assert "clusters of best's features" in error_clusters.clusters_overview(
        "zoo", summary, 40, np.array([[2, 0.31]], np.float32), source="best")


def _votes() -> tuple[pd.DataFrame, list[str], dict[str, float]]:
    # rows: all right; all wrong surely; all wrong unsurely; split 2 of 3 right; 1 of 3 right
    table = pd.DataFrame({"path": ["a", "b", "c", "d", "e"], "label": [1, 1, 0, 0, 1],
                          "m1": [0.9, 0.02, 0.6, 0.1, 0.9], "m2": [0.8, 0.05, 0.7, 0.2, 0.1],
                          "m3": [0.7, 0.01, 0.55, 0.9, 0.2]})
    return table, ["m1", "m2", "m3"], {"m1": 0.5, "m2": 0.5, "m3": 0.5}


def test_the_three_lists():
    table, models, thresholds = _votes()
    assert error_clusters.hardest(table, models, thresholds)["path"].tolist() == ["b", "c"]
    assert sorted(error_clusters.ambiguous(table, models, thresholds)["path"]) == ["d", "e"]
    issues = error_clusters.likely_label_issues(table, models, thresholds)
    assert issues["path"].tolist() == ["b"]
    attributes = pd.DataFrame({"near_other_label": [False, False, False, True, False],
                               "near_other_split": [False, False, False, False, True],
                               "exact_other_split": [False] * 5}, index=pd.Index(list("abcde"), name="path"))
    issues = error_clusters.likely_label_issues(table, models, thresholds, attributes)
    assert dict(zip(issues["path"], issues["why"], strict=True)) == {
        "b": "every detector wrong with confidence >= 90%", "d": "a near copy carries the other label",
        "e": "a copy is in the training split"}
    assert error_clusters.lists_sentence(2, 2, 1, 5, 3).startswith("Of 5 test images, 2 are wrong for all 3 detectors")


def test_image_cards_show_the_chosen_model_and_the_zoos_answer_and_keep_the_rest_for_the_expander():
    table, models, thresholds = _votes()
    row = table.iloc[3].to_dict()
    shown, others = card_lines(row, "m1", "m3", models, thresholds)
    assert shown == ["m1: REAL (P(FAKE) 0.100)", "zoo's answer, m3: FAKE (P(FAKE) 0.900)"]
    assert others == ["m2: REAL (P(FAKE) 0.200)"]
    assert card_lines(row, "m3", "m3", models, thresholds)[0] == ["m3: FAKE (P(FAKE) 0.900)"]
    assert default_model(models, "m3") == 2 and default_model(models, None) == 0


def test_likely_label_issues_without_duplicate_facts_uses_the_votes_alone():
    table, models, thresholds = _votes()
    names_only = pd.DataFrame({"content": ["cat"] * 5}, index=pd.Index(list("abcde"), name="path"))
    assert error_clusters.likely_label_issues(table, models, thresholds, names_only)["path"].tolist() == ["b"]


def test_images_beyond_the_landmarks_are_placed_beside_their_nearest_landmarks():
    features = _blobs(100, [[0] * 6, [6] * 6, [0] * 3 + [6] * 3])
    coords = reduce_to_2d(features, "pca-tsne", seed=0, landmarks=90)
    blob = np.repeat(np.arange(3), 100)
    centres = np.stack([coords[blob == b].mean(axis=0) for b in range(3)])
    nearest = np.argmin(np.linalg.norm(coords[:, None] - centres[None], axis=2), axis=1)
    assert (nearest == blob).mean() > 0.95  # every image, landmark or placed, lands in its own blob


def test_one_feature_still_maps():
    features = np.linspace(0, 1, 40, dtype=np.float32)[:, None]
    assert reduce_to_2d(features, "pca-tsne", seed=0).shape == (40, 2)


def test_errors_with_few_distinct_features_are_not_split_into_more_clusters_than_they_have():
    features = np.r_[np.ones(30), -np.ones(30)].astype(np.float32)[:, None]  # two distinct directions only
    clusters = cluster_errors(features, np.ones(60, bool))
    assert clusters.k == 2 and clusters.silhouettes[:, 0].tolist() == [2]
