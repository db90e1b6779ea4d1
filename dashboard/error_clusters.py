"""Where a model's errors gather: its error clusters as figures and sentences, and the three lists of images every
detector finds hard (all wrong), splits over (ambiguous), or is confidently wrong about (likely label or leak issues).

The clusters themselves (which error is in which, the prototypes and their mean Grad-CAM) are stored in the entry's
map.npz by `python -m training.error_map`; sizes, shares, dominant content class and properties, and the sentences
are worked out here from the map frame (dashboard/scatter_map.py) and the images' attributes
(model_zoo.image_attributes), so they always match the stored predictions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from dashboard.misclassified import verdicts
from model_zoo.decision import CLASS_NAMES
from model_zoo.image_attributes import PROPERTIES, PROPERTY_LABELS

CONFIDENT = 0.9  # "confidently wrong": every detector's probability of its wrong class at least this
SPLIT_RANGE = (1 / 3, 2 / 3)  # "ambiguous": the share of detectors that are right lies in this range
NOTABLE_PROPERTY = 0.5  # a property is named when the cluster's median is this many test-set SDs from the median


def cluster_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster of the map frame's errors: cluster (1-based), size, share of the errors, the share that are
    REAL images called FAKE, mean confidence, and (when known) the dominant content class, its share in the cluster
    and in the whole test set, and the property furthest from the test set's median (in test-set SDs)."""
    errors = frame[frame["cluster"] >= 0]
    rows = []
    for cluster, members in errors.groupby("cluster", sort=True):
        row = {"cluster": int(cluster) + 1, "size": len(members), "share": len(members) / max(1, len(errors)),
               "real_called_fake": float((members["label"] == 0).mean()),
               "mean_confidence": float(members["confidence"].mean())}
        if "content" in frame.columns and (frame["content"].fillna("") != "").any():
            counts = members["content"].fillna("").value_counts()
            top = str(counts.index[0])
            row |= {"content": top, "content_share": float(counts.iloc[0] / len(members)),
                    "content_share_all": float((frame["content"] == top).mean())}
        notable = _notable_property(frame, members)
        if notable:
            row |= notable
        rows.append(row)
    return pd.DataFrame(rows)


def _notable_property(frame: pd.DataFrame, members: pd.DataFrame) -> dict | None:
    """The measured property whose cluster median lies furthest from the test set's, in test-set SDs, when that is
    at least NOTABLE_PROPERTY."""
    best = None
    for name in PROPERTIES:
        if name not in frame.columns or frame[name].notna().sum() < 2:
            continue
        spread = float(frame[name].std())
        if not spread or members[name].notna().sum() == 0:
            continue
        inside, overall = float(members[name].median()), float(frame[name].median())
        distance = (inside - overall) / spread
        if abs(distance) >= NOTABLE_PROPERTY and (best is None or abs(distance) > abs(best["property_sds"])):
            best = {"property": name, "property_median": inside, "property_median_all": overall,
                    "property_sds": distance}
    return best


def _plural(content: str) -> str:
    return content if content in ("deer", "") else f"{content}s" if not content.endswith("s") else content


def cluster_sentence(model: str, row: Mapping, total_errors: int) -> str:
    """One sentence for one cluster_summary row, built only from its numbers."""
    real = float(row["real_called_fake"])
    kind = (f"{real:.0%} are REAL images called FAKE" if real >= 0.5
            else f"{1 - real:.0%} are FAKE images called REAL")
    parts = [f"Cluster {int(row['cluster'])} holds {int(row['size']):,} of {model}'s {total_errors:,} errors "
             f"({float(row['share']):.0%}): {kind}, with a mean confidence of {float(row['mean_confidence']):.2f}"]
    content = row.get("content")
    if isinstance(content, str) and content:
        parts.append(f"{float(row['content_share']):.0%} are {_plural(content)} "
                     f"(against {float(row['content_share_all']):.0%} of all test images)")
    prop = row.get("property")
    if isinstance(prop, str) and prop:
        direction = "higher" if float(row["property_sds"]) > 0 else "lower"
        parts.append(f"their {PROPERTY_LABELS.get(prop, prop)} is {direction} than usual (median "
                     f"{float(row['property_median']):.3g} against {float(row['property_median_all']):.3g})")
    return "; ".join(parts) + "."


def clusters_overview(model: str, summary: pd.DataFrame, total_errors: int, silhouettes: np.ndarray,
                      source: str | None = None) -> str:
    """How the clusters were chosen, from the stored silhouettes; `source` is whose features they are in (a
    consensus's best member), the model's own when None or the model."""
    if summary.empty:
        return f"{model} has no errors to cluster."
    if len(silhouettes) == 0:
        return (f"{model}'s {total_errors:,} errors are too few to split (fewer than 20): they form one group.")
    best = silhouettes[np.argmax(silhouettes[:, 1])]
    tried = ", ".join(f"{int(k)}" for k in silhouettes[:, 0])
    whose = "its own features" if source in (None, model) else f"{source}'s features"
    return (f"{model}'s {total_errors:,} errors fall into {len(summary)} clusters of {whose}: k-means with "
            f"k = {tried} tried, {int(best[0])} kept for the highest mean silhouette ({float(best[1]):.2f}; 1 is "
            "perfectly separated, 0 is no structure).")


# ---- the three lists ----------------------------------------------------------------------------------------

def _right_and_confidence(table: pd.DataFrame, models: Sequence[str],
                          thresholds: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(N, M) booleans, each model right; (N, M) each model's probability of the class it chose."""
    fake = verdicts(table, models, thresholds).to_numpy().astype(bool)
    right = fake == table["label"].to_numpy(int)[:, None].astype(bool)
    probs = table[list(models)].to_numpy(float)
    return right, np.where(fake, probs, 1 - probs)


def hardest(table: pd.DataFrame, models: Sequence[str], thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Images every one of `models` (the detectors) gets wrong, surest mistakes first (mean confidence)."""
    if not models:
        return table.iloc[0:0]
    right, confidence = _right_and_confidence(table, models, thresholds)
    mask = ~right.any(axis=1)
    return table[mask].assign(mean_confidence=confidence[mask].mean(axis=1)).sort_values(
        "mean_confidence", ascending=False, kind="stable")


def ambiguous(table: pd.DataFrame, models: Sequence[str], thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Images the detectors split over: the share of them that are right within SPLIT_RANGE, most even split first."""
    if len(models) < 2:
        return table.iloc[0:0]
    right, _ = _right_and_confidence(table, models, thresholds)
    share = right.mean(axis=1)
    mask = (share >= SPLIT_RANGE[0]) & (share <= SPLIT_RANGE[1])
    return table[mask].assign(right_share=share[mask]).sort_values(
        "right_share", key=lambda s: (s - 0.5).abs(), kind="stable")


def likely_label_issues(table: pd.DataFrame, models: Sequence[str], thresholds: Mapping[str, float],
                        attributes: pd.DataFrame | None = None, confident: float = CONFIDENT) -> pd.DataFrame:
    """Images whose label or split may be wrong: every detector confidently wrong (each at least `confident` sure of
    the other class), or (with attributes, model_zoo.image_attributes) a near copy of an image of the other label or
    in the other split. Column `why` says which."""
    if not models:
        return table.iloc[0:0]
    right, confidence = _right_and_confidence(table, models, thresholds)
    sure = ~right.any(axis=1) & (confidence >= confident).all(axis=1)
    why = np.where(sure, f"every detector wrong with confidence >= {confident:.0%}", "")
    duplicates = ("near_other_label", "near_other_split", "exact_other_split")
    if attributes is not None and set(duplicates) <= set(attributes.columns):  # file-name attributes have none
        facts = attributes.reindex(table["path"])
        other_label, near_split, exact_split = (facts[c].fillna(False).to_numpy(bool) for c in duplicates)
        other_split = near_split | exact_split
        why = np.where(why != "", why, np.where(other_label, "a near copy carries the other label",
                                                np.where(other_split, "a copy is in the training split", "")))
    mask = why != ""
    return table[mask].assign(why=why[mask], mean_confidence=confidence[mask].mean(axis=1)).sort_values(
        ["why", "mean_confidence"], ascending=[True, False], kind="stable")


def lists_sentence(n_hardest: int, n_ambiguous: int, n_issues: int, n_images: int, n_models: int) -> str:
    """The three lists' sizes in one sentence."""
    return (f"Of {n_images:,} test images, {n_hardest:,} are wrong for all {n_models} detectors, "
            f"{n_ambiguous:,} split them (between a third and two thirds right), and {n_issues:,} may carry a wrong "
            "label or leak across splits.")


def true_class_name(label: int) -> str:
    return CLASS_NAMES[int(label)]
