"""The evidence tests in words: each sentence says only what its own numbers show (model_zoo.evidence).

A change *takes away* the verdict's evidence when it flips the verdict or moves P(FAKE) at least MOVED toward the
other class; it *keeps* it when P(FAKE) moves less than KEPT that way (or away from the other class). Between the
two, a sentence gives the numbers without a claim. "The evidence" is the evidence for the model's own verdict: for
FAKE, a change that takes it away drops P(FAKE); for REAL, it raises P(FAKE).
"""

from __future__ import annotations

from model_zoo.cue_vocabulary import BANDS
from model_zoo.evidence_records import (
    COARSE_KEEP,
    GRADCAM_SHARE,
    HIGHPASS_DROP,
    LAYOUT,
    LOWPASS_KEEP,
    RESAVE,
    STABILITY,
    Evidence,
    TestResult,
)

# A quarter of the probability scale: a move that large changes what a user would conclude (0.99 to 0.74 is no
# longer "sure"), and it is several times what a harmless change costs a calibrated detector on a CIFAKE image.
MOVED = 0.25
# Under a tenth of the scale is within the wobble a harmless change (a flip, a 1-px shift) gives: "keeps".
KEPT = 0.10


def _p(value: float) -> str:
    """Two decimals; three near 0 and 1, where two would round a real difference away (0.996 is not 1)."""
    return f"{value:.3f}" if value < 0.01 or value > 0.99 else f"{value:.2f}"


def toward_other(evidence: Evidence, test: TestResult) -> float:
    """How far the change moved P(FAKE) toward the class the model did not say (negative: away from it)."""
    return evidence.prob_fake - test.prob_fake if evidence.verdict == "FAKE" else test.prob_fake - evidence.prob_fake


def takes_away(evidence: Evidence, test: TestResult) -> bool:
    return test.verdict != evidence.verdict or toward_other(evidence, test) >= MOVED


def keeps(evidence: Evidence, test: TestResult) -> bool:
    return test.verdict == evidence.verdict and toward_other(evidence, test) < KEPT


def _move(evidence: Evidence, test: TestResult) -> str:
    """'drops P(FAKE) from 0.99 to 0.08' / 'raises ...' / 'keeps P(FAKE) at 0.97'."""
    if keeps(evidence, test):
        return f"keeps P(FAKE) at {_p(test.prob_fake)}"
    verb = "drops" if test.prob_fake < evidence.prob_fake else "raises"
    return f"{verb} P(FAKE) from {_p(evidence.prob_fake)} to {_p(test.prob_fake)}"


def _short(evidence: Evidence, test: TestResult) -> str:
    """'drops it to 0.35' / 'keeps 0.97' (the starting value named already)."""
    if keeps(evidence, test):
        return f"keeps {_p(test.prob_fake)}"
    return f"{'drops' if test.prob_fake < evidence.prob_fake else 'raises'} it to {_p(test.prob_fake)}"


def frequency_sentence(evidence: Evidence, coarse: TestResult, fine: TestResult | None,
                       coarsest: TestResult | None) -> str:
    v = evidence.verdict
    if takes_away(evidence, coarse):
        if fine is not None and not takes_away(evidence, fine):
            return (f"The {v} evidence is fine texture: keeping only coarse detail {_move(evidence, coarse)}, while "
                    f"fine detail alone {_short(evidence, fine)}.")
        if fine is not None:
            return (f"The {v} evidence needs fine texture and more: keeping only coarse detail "
                    f"{_move(evidence, coarse)}, and fine detail alone {_short(evidence, fine)} too.")
        return f"The {v} evidence needs fine texture: keeping only coarse detail {_move(evidence, coarse)}."
    if keeps(evidence, coarse):
        text = f"The {v} evidence is in the coarse detail: keeping only that {_move(evidence, coarse)}"
        if coarsest is not None and takes_away(evidence, coarsest):
            return text + f"; only the coarsest (lowest {min(LOWPASS_KEEP)} bands) {_short(evidence, coarsest)}."
        return text + "."
    return (f"Fine texture carries part of the {v} evidence: keeping only coarse detail {_move(evidence, coarse)}.")


def location_sentence(evidence: Evidence, border: TestResult, centre: TestResult) -> str:
    b_away, c_away = takes_away(evidence, border), takes_away(evidence, centre)
    b_keep, c_keep = keeps(evidence, border), keeps(evidence, centre)
    whose = "each crop's " if evidence.crops > 1 else "the "  # a crop model's changes act on each of its crops
    hiding = (f"hiding {whose}border {_short(evidence, border)}, hiding {whose}centre {_short(evidence, centre)}")
    if b_away and c_keep:
        return f"It lies in {whose}background: {hiding}."
    if c_away and b_keep:
        return f"It lies in {whose}centre: {hiding}."
    if b_away and c_away:
        return f"It is spread over the image: {hiding}."
    if b_keep and c_keep:
        return f"No one part of the image carries it: {hiding}."
    return f"Where it lies is not clear-cut: {hiding}."


def heatmap_sentence(evidence: Evidence, top: TestResult, bottom: TestResult) -> str:
    gap = toward_other(evidence, top) - toward_other(evidence, bottom)
    share = f"{GRADCAM_SHARE:.0%}"
    numbers = (f"hiding the {share} of pixels it ranks highest {_short(evidence, top)}, the lowest {share} "
               f"{_short(evidence, bottom)}")
    if gap >= MOVED and takes_away(evidence, top):
        return f"Grad-CAM points at it: {numbers}."
    if -gap >= MOVED and takes_away(evidence, bottom):
        return f"Grad-CAM points away from it: {numbers}."
    return f"Grad-CAM does not single it out: {numbers}."


def resave_sentence(evidence: Evidence, saves: list[TestResult]) -> str:
    for test in saves:  # highest quality first: the gentlest re-save that takes it away
        if takes_away(evidence, test):
            return f"It is fragile: {test.label} {_move(evidence, test)}."
    harshest = saves[-1]
    if keeps(evidence, harshest):
        return f"It survives a JPEG re-save: at quality {harshest.key.split('_')[1]} P(FAKE) stays at {_p(harshest.prob_fake)}."
    return f"A JPEG re-save weakens it: at quality {harshest.key.split('_')[1]} P(FAKE) moves to {_p(harshest.prob_fake)}."


def colour_sentence(evidence: Evidence, gray: TestResult) -> str:
    if takes_away(evidence, gray):
        return f"It needs colour: grayscale {_move(evidence, gray)}."
    if keeps(evidence, gray):
        return f"Colour plays no part: grayscale {_move(evidence, gray)}."
    return f"Colour plays some part: grayscale {_move(evidence, gray)}."


def layout_sentence(evidence: Evidence, shuffles: list[TestResult]) -> str:
    named = ", ".join(f"{t.key.split('_')[1]} px tiles {_short(evidence, t)}" for t in shuffles)
    if all(keeps(evidence, t) for t in shuffles):
        return f"It does not depend on where things are: shuffling {named}."
    if any(takes_away(evidence, t) for t in shuffles):
        return f"It depends on the layout: shuffling {named}."
    return f"Shuffling the layout weakens it: {named}."


def stability_notes(evidence: Evidence) -> tuple[str, ...]:
    """A note for each change that should not matter (a flip, a 1-px shift) but alone changes the verdict."""
    notes = []
    for test in evidence.tests:
        if test.family == STABILITY and test.verdict != evidence.verdict:
            notes.append(f"Unstable: a {test.label} alone changes the verdict to {test.verdict} "
                         f"(P(FAKE) {_p(evidence.prob_fake)} to {_p(test.prob_fake)}).")
    return tuple(notes)


def counterfactual_sentence(evidence: Evidence) -> str | None:
    flip = evidence.counterfactual
    if flip is None:
        return None
    target = f"its coarse-only version (lowest {flip.bands} of {BANDS} bands)"
    if flip.amount is None:
        return (f"No blend toward {target} flips the verdict: even that version has P(FAKE) "
                f"{_p(flip.target_prob_fake)}.")
    return (f"The smallest change that flips it: blending {flip.amount:.0%} of the way toward {target} takes "
            f"P(FAKE) from {_p(evidence.prob_fake)} to {_p(flip.prob_fake)}.")


def describe(evidence: Evidence) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(sentences, stability notes) for the tests that were run; a test left out leaves its sentence out."""
    t = evidence.test
    sentences = []
    coarse = t(f"lowpass_{COARSE_KEEP}")
    if coarse is not None:
        sentences.append(frequency_sentence(evidence, coarse, t(f"highpass_{HIGHPASS_DROP}"),
                                            t(f"lowpass_{min(LOWPASS_KEEP)}")))
    if t("hide_border") is not None and t("hide_centre") is not None:
        sentences.append(location_sentence(evidence, t("hide_border"), t("hide_centre")))
    saves = [test for test in evidence.tests if test.family == RESAVE]
    if saves:
        sentences.append(resave_sentence(evidence, saves))
    if t("hide_gradcam_top") is not None and t("hide_gradcam_bottom") is not None:
        sentences.append(heatmap_sentence(evidence, t("hide_gradcam_top"), t("hide_gradcam_bottom")))
    if t("grayscale") is not None:
        sentences.append(colour_sentence(evidence, t("grayscale")))
    shuffles = [test for test in evidence.tests if test.family == LAYOUT]
    if shuffles:
        sentences.append(layout_sentence(evidence, shuffles))
    flip = counterfactual_sentence(evidence)
    if flip:
        sentences.append(flip)
    return tuple(sentences), stability_notes(evidence)
