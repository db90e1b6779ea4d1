"""Evidence tests for one image (model_zoo.evidence) and their sentences (model_zoo.evidence_words), with stub models
of known behaviour: what each stub reads is what its sentences must say."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from model_zoo import evidence as E
from model_zoo.crops import crop_policy
from model_zoo.evidence_words import MOVED, describe
from tests.cards import stub_card as _card

SIZE = 32
FRAME = 2  # the border stub reads the outer 2 px (23% of the pixels): inside the Grad-CAM test's hidden 25%


class Stub:
    """A 'model': predict_on_batch gives sigmoid(score(x)) for inputs on the 0-255 scale (the stub card's)."""

    def __init__(self, score):
        self.score = score

    def predict_on_batch(self, x):
        return 1 / (1 + np.exp(-self.score(np.asarray(x, np.float64))))[:, None]


def _fine(x: np.ndarray) -> np.ndarray:
    """|x - its 3x3 local mean|, per pixel (mean over channels): the fine texture."""
    return np.abs(x - uniform_filter(x, size=(1, 3, 3, 1), mode="reflect")).mean(axis=-1)


def _border(height: int, width: int) -> np.ndarray:
    mask = np.ones((height, width), bool)
    mask[FRAME:-FRAME, FRAME:-FRAME] = False
    return mask


def border_texture_stub() -> Stub:
    """FAKE when the border has fine texture: reads nothing in the centre and nothing coarse."""
    return Stub(lambda x: 0.8 * (_fine(x)[:, _border(*x.shape[1:3])].mean(axis=1) - 6.0))


def brightness_stub() -> Stub:
    """FAKE when the image is bright on average: reads only the lowest frequency (the mean)."""
    return Stub(lambda x: 0.08 * (x.mean(axis=(1, 2, 3)) - 110.0))


def left_half_stub() -> Stub:
    """FAKE when the left half is brighter than the right: a flip reverses it."""
    return Stub(lambda x: 0.2 * (x[:, :, : x.shape[2] // 2].mean(axis=(1, 2, 3)) - x[:, :, x.shape[2] // 2 :].mean(
        axis=(1, 2, 3))))


def textured(seed: int = 0, size: int = SIZE, level: float = 150.0, spread: float = 30.0) -> np.ndarray:
    """Smooth colour plus strong pixel noise: fine texture everywhere."""
    rng = np.random.default_rng(seed)
    base = np.full((size, size, 3), level) + rng.normal(0, spread, (size, size, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def _outside_in(height: int, width: int) -> np.ndarray:
    """A stand-in Grad-CAM map that ranks pixels by their distance from the centre: the border highest."""
    rows, cols = np.mgrid[:height, :width]
    return np.maximum(np.abs(rows - (height - 1) / 2), np.abs(cols - (width - 1) / 2)).astype(np.float32)


def _maps_from(stub_map: np.ndarray):
    return lambda views, target: np.repeat(stub_map[None], len(views), axis=0)


def _run(stub: Stub, image: np.ndarray, card: dict | None = None, explain=None) -> E.Evidence:
    card = card or _card()
    if explain is None:
        explain = _maps_from(_outside_in(*image.shape[:2]))
    return E.evidence_tests(stub, card, image, name="stub", explain=explain)


def test_a_border_texture_reader_is_told_its_evidence_is_fine_texture_in_the_background():
    evidence = _run(border_texture_stub(), textured())
    assert evidence.verdict == "FAKE" and evidence.prob_fake > 0.99
    frequency, location = evidence.sentences[:2]
    assert frequency.startswith("The FAKE evidence is fine texture: keeping only coarse detail drops P(FAKE) from")
    assert location.startswith("It lies in the background: hiding the border drops it to")
    assert "hiding the centre keeps" in location
    # Its Grad-CAM stand-in ranks the border highest, so hiding the top pixels takes the evidence away.
    assert any(s.startswith("Grad-CAM points at it") for s in evidence.sentences)
    assert evidence.stability == ()  # a flip or a 1-px shift leaves border texture where it was


def test_a_low_frequency_reader_is_not_called_fine_texture():
    evidence = _run(brightness_stub(), textured(level=160.0, spread=10.0))
    assert evidence.verdict == "FAKE"
    frequency = evidence.sentences[0]
    assert "evidence is fine texture" not in frequency
    assert frequency.startswith("The FAKE evidence is in the coarse detail: keeping only that keeps P(FAKE) at")
    assert any(s.startswith("Colour plays no part") for s in evidence.sentences)  # grayscale keeps the mean


def test_a_flip_that_changes_the_verdict_gets_a_stability_note():
    image = textured(spread=5.0)
    image[:, : SIZE // 2] = np.clip(image[:, : SIZE // 2].astype(int) + 40, 0, 255)
    evidence = _run(left_half_stub(), image)
    assert evidence.verdict == "FAKE"
    assert len(evidence.stability) == 1
    assert evidence.stability[0].startswith("Unstable: a horizontal flip alone changes the verdict to REAL")


def test_changing_one_number_changes_the_sentence():
    evidence = _run(border_texture_stub(), textured())
    border = evidence.test("hide_border")

    def with_border(prob: float) -> tuple[str, ...]:
        tests = tuple(dataclasses.replace(t, prob_fake=prob, verdict="FAKE" if prob >= 0.5 else "REAL")
                      if t.key == "hide_border" else t for t in evidence.tests)
        return describe(dataclasses.replace(evidence, tests=tests))[0]

    assert with_border(border.prob_fake)[1] == evidence.sentences[1]
    assert with_border(0.35)[1] == "It lies in the background: hiding the border drops it to 0.35, hiding the centre " \
                                   f"keeps {evidence.test('hide_centre').prob_fake:.3f}."
    assert with_border(0.31)[1] != with_border(0.35)[1]
    assert with_border(evidence.prob_fake)[1].startswith("No one part of the image carries it")
    # Just under the MOVED line and still FAKE: no claim either way.
    assert with_border(evidence.prob_fake - MOVED + 0.01)[1].startswith("Where it lies is not clear-cut")


def test_the_re_save_sentence_names_the_gentlest_save_that_takes_the_evidence_away():
    evidence = _run(border_texture_stub(), textured())

    def with_saves(q90: float, q70: float) -> str:
        values = {"jpeg_90": q90, "jpeg_70": q70}
        tests = tuple(dataclasses.replace(t, prob_fake=values[t.key], verdict="FAKE" if values[t.key] >= 0.5 else "REAL")
                      if t.key in values else t for t in evidence.tests)
        return next(s for s in describe(dataclasses.replace(evidence, tests=tests))[0] if "JPEG" in s)

    assert with_saves(0.98, 0.41) == (f"It is fragile: one JPEG re-save at quality 70 drops P(FAKE) from "
                                      f"{evidence.prob_fake:.3f} to 0.41.")
    assert with_saves(0.30, 0.41).startswith("It is fragile: one JPEG re-save at quality 90 drops")
    assert with_saves(0.999, 0.995).startswith("It survives a JPEG re-save: at quality 70 P(FAKE) stays at 0.995")


def test_the_counterfactual_is_the_smallest_blend_that_flips_and_says_when_none_does():
    evidence = _run(border_texture_stub(), textured())
    flip = evidence.counterfactual
    assert flip is not None and flip.amount is not None and 0 < flip.amount <= 1
    assert flip.prob_fake < 0.5  # flipped at `amount`
    card, stub = _card(), border_texture_stub()
    just_before = E.T.blend(textured()[None], flip.target[None], np.array([flip.amount - 1 / 64]))
    assert E.predict_prob_fake(stub, just_before, card)[0] >= 0.5  # a blend 1/64 smaller does not flip yet
    assert f"blending {flip.amount:.0%} of the way" in evidence.sentences[-1]
    steady = _run(brightness_stub(), textured(level=160.0, spread=10.0))
    assert steady.counterfactual.amount is None
    assert steady.sentences[-1].startswith("No blend toward its coarse-only version (lowest 8 of 16 bands) flips")


def test_a_crop_model_is_tested_on_its_crop_grid_as_it_judges():
    image = textured(size=64)
    card = _card(crop_policy(SIZE))
    seen_views = []

    def explain(views, target):
        seen_views.append(views.shape)
        return np.repeat(_outside_in(SIZE, SIZE)[None], len(views), axis=0)

    evidence = _run(border_texture_stub(), image, card, explain)
    assert evidence.crops == 4 and seen_views == [(4, SIZE, SIZE, 3)]
    # The unchanged test is the verdict the judge gives: the mean logit of the 4 crops.
    assert evidence.test("none").prob_fake == pytest.approx(E.predict_prob_fake(border_texture_stub(), [image], card)[0],
                                                            abs=1e-5)
    # Each crop's own border was hidden: the evidence (border texture of each crop) is gone, and the sentence says so.
    assert evidence.sentences[1].startswith("It lies in each crop's background: hiding each crop's border drops it")


def test_tiles_that_do_not_split_the_view_are_left_out():
    kept, left_out = E.applicable(36, 36)
    assert {c.key for c in kept}.isdisjoint({"tiles_8"}) and "tiles_8" in left_out
    assert "tiles_4" not in left_out  # 4 divides 36


def test_the_table_and_the_difference_picture_show_what_was_measured():
    from dashboard.evidence_display import counterfactual_caption, difference_picture, evidence_table

    evidence = _run(border_texture_stub(), textured())
    table = evidence_table(evidence)
    assert list(table["change"])[0] == "the image as the model sees it" and len(table) == len(evidence.tests)
    row = table[table["change"].str.startswith("border hidden")].iloc[0]
    assert row["P(FAKE)"] == round(evidence.test("hide_border").prob_fake, 4)
    assert row["change in P(FAKE)"] == round(evidence.test("hide_border").prob_fake - evidence.prob_fake, 4)
    flip = evidence.counterfactual
    picture = difference_picture(flip.original, flip.image)
    assert picture.shape == (SIZE, SIZE, 3) and picture.max() == 255
    assert not difference_picture(flip.original, flip.original).any()
    assert f"{flip.amount:.0%} of the way" in counterfactual_caption(evidence)
