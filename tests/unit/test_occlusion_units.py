"""Occlusion maps (model_zoo.occlusion) and crop maps stitched on one scale (model_zoo.crops.blend_crops), with stub
models whose evidence is one known region."""

from __future__ import annotations

import numpy as np

from model_zoo.crops import blend_crops, crop_grid, crop_policy, crop_shares, grid_crops, stitch
from model_zoo.occlusion import occlusion_maps, whole_image_occlusion
from model_zoo.saliency import explanation_map
from tests.cards import stub_card as _card

REGION = (slice(20, 28), slice(36, 44))  # rows, columns of the stub's evidence in a 64x64 image


class BrightSpotStub:
    """FAKE in proportion to how many very bright pixels it sees (> 230): its only evidence."""

    def predict_on_batch(self, x):
        bright = (np.asarray(x).min(axis=-1) > 230).mean(axis=(1, 2))
        return (1 / (1 + np.exp(-(bright * 400.0 - 2.0))))[:, None]


def _image(size: int = 64) -> np.ndarray:
    image = np.random.default_rng(0).integers(60, 180, (size, size, 3)).astype(np.uint8)
    image[REGION] = 250
    return image


def test_occlusion_is_hot_where_hiding_the_image_takes_the_evidence_away():
    image = _image(32)
    image[:] = 100
    image[4:10, 20:26] = 250  # the only bright spot of a 32x32 image
    heat = occlusion_maps(BrightSpotStub(), _card(), image[None], "FAKE")[0]
    assert heat.shape == (32, 32) and heat.max() == 1.0
    peak = np.unravel_index(np.argmax(heat), heat.shape)
    assert 2 <= peak[0] <= 12 and 18 <= peak[1] <= 28
    assert heat[20:, :10].max() == 0.0  # hiding a plain corner costs nothing


def _steps(heat: np.ndarray, lines: list[int], at: bool) -> float:
    """The largest step between neighbouring pixels across (at=True) or away from (False) the given lines, both axes."""
    keep = [c for c in range(1, heat.shape[1]) if (c in lines) == at]
    return max(np.abs(heat[:, keep] - heat[:, [c - 1 for c in keep]]).max(),
               np.abs(heat[keep] - heat[[c - 1 for c in keep]]).max())


def test_crop_maps_on_one_scale_have_no_seams_and_peak_where_the_evidence_is():
    """Per-crop maps each scaled to [0, 1] on their own (as a per-crop method gives them) make seams when averaged;
    weighted by each crop's share of the logit and blended, they make one smooth map peaking at the evidence."""
    size = 96
    rows, cols = np.mgrid[:size, :size]
    truth = np.exp(-((rows - 30) ** 2 + (cols - 34) ** 2) / (2 * 5.0 ** 2))  # the evidence: one blob
    grid = crop_grid(size, size, 40, 16)  # 3x3 crops of 40 px at 0, 28 and 56: overlapping by 12 px
    maps, logits = [], []
    for y, x in grid.positions:
        tile = truth[y : y + 40, x : x + 40]
        maps.append((tile - tile.min()) / (tile.max() - tile.min()))  # each crop's map scaled on its own
        logits.append(tile.sum() / 20.0 - 1.0)  # crops holding more of the blob lean more to FAKE; the rest to REAL
    maps, logits = np.array(maps), np.array(logits)
    blended = blend_crops(maps, crop_shares(logits, fake=True), grid, size, size)
    blended = blended / blended.max()
    averaged = stitch(maps, grid, size, size)  # the old stitch: each crop on its own scale, averaged
    edges = [28, 40, 56, 68]  # where a crop starts or ends inside the image
    assert _steps(averaged, edges, at=True) > 1.4 * _steps(averaged, edges, at=False)  # its largest steps: crop edges
    assert _steps(blended, edges, at=True) <= _steps(blended, edges, at=False)  # no edge steps more than the map does
    peak = np.unravel_index(np.argmax(blended), blended.shape)
    assert abs(peak[0] - 30) <= 2 and abs(peak[1] - 34) <= 2
    assert blended[60:, 60:].max() < 0.01  # crops without evidence stay cold


def test_the_shares_follow_the_logits_toward_the_explained_class():
    shares = crop_shares(np.array([2.0, -1.0, 6.0]), fake=True)
    assert np.allclose(shares, [0.25, 0.0, 0.75])
    assert np.allclose(crop_shares(np.array([2.0, -1.0, -3.0]), fake=False), [0.0, 0.25, 0.75])
    assert np.allclose(crop_shares(np.array([-1.0, -2.0]), fake=True), [0.5, 0.5])  # none leans FAKE: equal


def test_a_crop_models_whole_image_occlusion_peaks_at_its_evidence():
    card = _card(crop_policy(32))
    image = _image()
    heat = whole_image_occlusion(BrightSpotStub(), card, image, "FAKE")
    assert heat.shape == (64, 64)
    peak = np.unravel_index(np.argmax(heat), heat.shape)
    assert REGION[0].start - 4 <= peak[0] < REGION[0].stop + 4 and REGION[1].start - 4 <= peak[1] < REGION[1].stop + 4
    # It is the crop model's own occlusion: the same as occluding and judging each image by its grid.
    crops, _ = grid_crops(image, 32)
    assert len(crops) == 4
    assert explanation_map(BrightSpotStub(), card, image, "Occlusion", "FAKE").shape == (64, 64)


def test_the_consensus_note_gives_its_own_figures_once_it_is_measured():
    from dashboard.faithfulness_tables import map_note

    report = {"methods": {"Occlusion": {"deletion_auc": 0.61, "insertion_auc": 0.83, "passes_sanity": True,
                                        "randomisation_rho": 0.1, "randomisation_rho_se": 0.02}},
              "random": {"deletion_auc": 0.7, "insertion_auc": 0.72}, "sample": {"n": 100}, "ranking": ["Occlusion"]}
    measured = map_note("zoo_consensus", "Occlusion", report, consensus=True)
    assert measured.startswith("Occlusion for zoo_consensus, on 100") and "rank 1 of 1" in measured
    assert "patch" in map_note("zoo_consensus", "Occlusion", None, consensus=True)
    assert "members" in map_note("zoo_consensus", "Grad-CAM", report, consensus=True)  # Grad-CAM not measured here
