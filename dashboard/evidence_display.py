"""The evidence tests of one image for display: the table of tests and the pictures of the flipping change.

model_zoo.evidence computes the tests; the inspect page and its HTML report show them through these functions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model_zoo.evidence import Evidence

COLUMNS = ("test", "change", "P(FAKE)", "change in P(FAKE)", "verdict")


def evidence_table(evidence: Evidence) -> pd.DataFrame:
    """One row per test (the unchanged image first): what was changed, P(FAKE) after it, and the verdict."""
    rows = [{"test": t.family, "change": t.label, "P(FAKE)": round(t.prob_fake, 4),
             "change in P(FAKE)": round(t.prob_fake - evidence.prob_fake, 4), "verdict": t.verdict}
            for t in evidence.tests]
    rows += [{"test": "left out", "change": key, "P(FAKE)": None, "change in P(FAKE)": None, "verdict": why}
             for key, why in evidence.left_out.items()]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def difference_picture(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """|after - before| per pixel (the larger over channels), stretched so the largest difference is white:
    (H, W, 3) uint8 grey. All black when nothing changed."""
    difference = np.abs(np.asarray(after, np.int16) - np.asarray(before, np.int16)).max(axis=-1).astype(np.float64)
    peak = difference.max()
    grey = np.zeros_like(difference) if peak == 0 else difference / peak * 255.0
    return np.repeat(np.rint(grey).astype(np.uint8)[..., None], 3, axis=-1)


def counterfactual_caption(evidence: Evidence) -> str | None:
    """What the three pictures (image, blended image, difference) show, or None without a counterfactual."""
    flip = evidence.counterfactual
    if flip is None:
        return None
    if flip.amount is None:
        return (f"No blend flips the verdict: shown is the coarse-only image itself (P(FAKE) "
                f"{flip.target_prob_fake:.3f}) and its difference from the original.")
    return (f"Blended {flip.amount:.0%} of the way toward the coarse-only image: P(FAKE) {evidence.prob_fake:.3f} "
            f"becomes {flip.prob_fake:.3f}; the difference is stretched so its largest change is white.")
