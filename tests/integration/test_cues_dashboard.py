"""The Studies page's "What the models look at" (dashboard/cue_figures.py): every sentence follows from the numbers,
so changing the numbers changes the sentence; only detectors count; the figures have a panel per family."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dashboard.cue_figures import (
    band_profiles,
    condition_means,
    cue_findings,
    cue_spectra,
    cues_figure,
    cues_long,
    gradient_log_power,
    sample_note,
    spectrum_findings,
)
from model_zoo.cue_vocabulary import BANDS, CUES_COLUMNS
from model_zoo.zoo import ZooEntry
from tests.cards import typed
from tests.zoo_builders import with_cues
from training.lib.cue_study import CONDITIONS


def _long(accuracy: dict | None = None, models=("m1",), **columns: dict) -> pd.DataFrame:
    """Every condition for each model: accuracy 0.97 clean, 0.9 otherwise, unless `accuracy` says; `columns`
    (roc_auc=..., mean_p_fake_real=...) override other columns the same way. Values may be per-model lists."""
    accuracy = {("none", 0): 0.97, **(accuracy or {})}
    rows = []
    for index, model in enumerate(models):
        for c in CONDITIONS:
            row = {"model": model, "family": c.family, "condition": c.condition, "level": c.level, "label": c.label,
                   "accuracy": 0.9, "roc_auc": 0.95, "mean_p_fake_real": 0.1, "mean_p_fake_fake": 0.9, "n": 100}
            for column, overrides in (("accuracy", accuracy), *columns.items()):
                value = overrides.get((c.condition, c.level))
                if value is not None:
                    row[column] = value[index] if isinstance(value, (list, tuple)) else value
            rows.append(row)
    return pd.DataFrame(rows)


def _text(long: pd.DataFrame, topic_start: str) -> str:
    found = [f.text for f in cue_findings(long) if f.text.startswith(topic_start)]
    assert len(found) == 1, [f.text for f in cue_findings(long)]
    return found[0]


def test_lowpass_sentence_follows_the_numbers():
    dropped = _text(_long({("lowpass", 8): 0.61}), "Keeping only the lowest 8")
    assert dropped.startswith("Keeping only the lowest 8 of 16 frequency bands drops accuracy from 97.0% to 61.0%: "
                              "the evidence is fine texture")
    assert "Even with the lowest 14 bands kept, accuracy is only 90.0%: the top 2 bands alone are worth 7.0 points." in dropped
    kept = _text(_long({("lowpass", 8): 0.965, ("lowpass", 4): 0.8}), "Keeping only the lowest 8")
    assert "leaves accuracy at 96.5%" in kept and "not fine texture alone" in kept
    assert "back within 2 points once the lowest 8 bands are kept" in kept
    partly = _text(_long({("lowpass", 8): 0.92}), "Keeping only the lowest 8")
    assert "costs 5.0 points (97.0% to 92.0%): part of the evidence is fine texture" in partly


def test_several_detectors_are_averaged_with_their_range():
    text = _text(_long({("lowpass", 8): [0.60, 0.62]}, models=("a", "b")), "Keeping only the lowest 8")
    assert "drops accuracy from 97.0% to 61.0% (mean of 2 detectors, 60.0%-62.0%)" in text
    summary = condition_means(_long({("lowpass", 8): [0.60, 0.62]}, models=("a", "b")))
    row = summary[(summary["condition"] == "lowpass") & (summary["level"] == 8)].iloc[0]
    assert (row["accuracy"], row["accuracy_min"], row["accuracy_max"], row["models"]) == pytest.approx((0.61, 0.6, 0.62, 2))


def test_centre_versus_border_follows_what_fake_images_lose():
    costs = {("border_fill", 0.25): 0.80, ("centre_fill", 0.25): 0.95}
    background = _text(_long(costs, mean_p_fake_fake={("border_fill", 0.25): 0.6}), "Replacing")
    assert background == ("Replacing the centre box (25% of the pixels) with grey costs 2.0 points and a border frame "
                          "of the same size 17.0 points. FAKE images' mean P(FAKE) goes from 0.90 to 0.60 without the "
                          "border and to 0.90 without the centre: the generator's traces sit more in the background, "
                          "as Bird & Lotfi reported.")
    centre = _text(_long(costs, mean_p_fake_fake={("centre_fill", 0.25): 0.6}), "Replacing")
    assert "the generator's traces sit more in the object in the centre, not in the background" in centre
    assert "about equal FAKE evidence" in _text(_long(costs), "Replacing")


def test_a_grey_fill_that_looks_fake_on_real_images_is_called_out():
    text = _text(_long({("centre_fill", 0.25): 0.75}, mean_p_fake_real={("centre_fill", 0.25): 0.45}), "Replacing")
    assert ("REAL images, whose mean P(FAKE) rises from 0.10 to 0.45 without the centre, so part of the accuracy cost "
            "is the fill, not lost evidence.") in text
    assert "reads as FAKE evidence" not in _text(_long({("centre_fill", 0.25): 0.75}), "Replacing")


def test_gradcam_top_versus_bottom():
    pointing = _text(_long({("gradcam_top", 0.25): 0.70, ("gradcam_bottom", 0.25): 0.96}), "Greying")
    assert "ranks highest costs 27.0 points, the 25% it ranks lowest 1.0 points: Grad-CAM points at evidence" in pointing
    assert "top: REAL 0.10 to 0.10, FAKE 0.90 to 0.90; bottom:" in pointing and "not confined" in pointing
    lowered = _text(_long({("gradcam_top", 0.25): 0.70}, mean_p_fake_fake={("gradcam_top", 0.25): 0.5}), "Greying")
    assert "FAKE 0.90 to 0.50" in lowered and "not confined" not in lowered
    assert "does not locate the evidence" in _text(_long(), "Greying")
    assert "points away from the evidence" in _text(_long({("gradcam_top", 0.25): 0.96,
                                                           ("gradcam_bottom", 0.25): 0.70}), "Greying")


@pytest.mark.parametrize(("auc", "answer"), [
    (0.85, "the phase (where edges and textures sit) carries the evidence"),
    (0.15, "the amplitude spectrum (how much of each frequency) carries the evidence"),
    (0.40, "neither alone carries it; the evidence lies in how the two go together, leaning to the amplitude"),
    (0.50, "neither alone carries it; the evidence lies in how the two go together."),
])
def test_amplitude_or_phase(auc, answer):
    text = _text(_long(roc_auc={("amplitude_swap", 1): auc, ("amplitude_swap", 0): 0.93}), "Given a FAKE")
    assert f"ROC-AUC {auc:.2f} ({1 - auc:.2f} by the class of their amplitude" in text and answer in text
    assert "same class leaves ROC-AUC 0.93" in text


@pytest.mark.parametrize(("auc", "answer"), [(0.95, "carries most of the evidence"), (0.8, "carries part of"),
                                             (0.55, "rank FAKE above REAL only with ROC-AUC 0.550")])
def test_highpass(auc, answer):
    assert answer in _text(_long(roc_auc={("highpass", 8): auc}), "With only the fine texture")


def test_tile_shuffle_says_how_large_the_evidence_is():
    local = _text(_long({("tiles", 16): 0.96, ("tiles", 8): 0.95, ("tiles", 4): 0.94}), "Shuffling")
    assert "as small as 4 px" in local and "the evidence is local texture" in local
    layout = _text(_long({("tiles", 16): 0.83, ("tiles", 8): 0.69, ("tiles", 4): 0.65}), "Shuffling")
    assert "drops accuracy from 97.0% to 83.0%, 69.0%, 65.0% with 16, 8, 4 px tiles: the models need the image's layout" in layout
    middle = _text(_long({("tiles", 16): 0.96, ("tiles", 8): 0.95, ("tiles", 4): 0.70}), "Shuffled")
    assert "8 px tiles keep accuracy at 95.0% but 4 px tiles drop it to 70.0%" in middle
    seams = _text(_long({("tiles", 4): 0.65}, mean_p_fake_real={("tiles", 4): 0.6}), "Shuffl")
    assert "seams between tiles" in seams and "rises from 0.10 to 0.60" in seams
    assert "seams" not in layout


def test_colour_and_channels():
    little = _text(_long({("grayscale", 0): 0.96, ("channel", 2): 0.84, ("channel", 1): 0.95}), "Grayscale")
    assert little.startswith("Grayscale costs 1.0 points (96.0%): colour carries little of the evidence.")
    assert "green keeps the most (95.0%) and blue the least (84.0%)" in little
    assert "colour is part of the evidence" in _text(_long({("grayscale", 0): 0.70}), "Grayscale")


def test_jpeg_grid_alignment():
    shifted = {("jpeg_grid", s): 0.90 for s in range(1, 8)}
    depends = _text(_long({("jpeg_grid", 0): 0.97, **shifted}), "A JPEG")
    assert "leaves accuracy at 97.0%; shifted by 1-7 px before the re-encode it averages 90.0%" in depends
    assert "depend on the alignment of the JPEG grid" in depends
    assert "do not depend on the 8x8 block alignment" in _text(_long({("jpeg_grid", 0): 0.905}), "A JPEG")


def test_unmeasured_conditions_give_no_sentence():
    long = _long()
    only = long[long["condition"].isin(["none", "grayscale"])]
    assert [f.topic for f in cue_findings(only)] == ["structure"]
    assert cue_findings(long[long["condition"] != "none"]) == []  # no baseline, no answers
    assert cue_findings(pd.DataFrame(columns=["model", "condition", "level", "accuracy"])) == []


def test_each_finding_carries_its_numbers():
    for finding in cue_findings(_long({("lowpass", 8): 0.61})):
        assert not finding.evidence.empty and "accuracy" in finding.evidence
        assert finding.evidence["label"].iloc[0] == "unchanged"  # every comparison shows its baseline


def _entry(tmp_path, name: str, architecture: str = "cnn_strided", augmentation: str = "flip_shift", **cues) -> ZooEntry:
    folder = tmp_path / name
    folder.mkdir()
    card = {"name": name, "architecture": architecture, "train": {"augmentation": augmentation},
            "cues": {"n": 1000, "seed": 0}}
    (folder / "card.json").write_text(json.dumps(card))
    with_cues(folder, **cues)
    return ZooEntry(name, folder, typed(card))


def test_spectrum_sentences_follow_the_stored_arrays(tmp_path):
    fine = spectrum_findings(cue_spectra([_entry(tmp_path, "a", gradient_upper=0.8)]))
    assert "put 80% of their energy in the upper 8 of the 16 frequency bands, where the test images hold 10%" in fine[1].text
    assert "most sensitive to fine detail" in fine[1].text
    assert fine[0].text.startswith("FAKE test images carry more fine detail than REAL ones")
    coarse = spectrum_findings(cue_spectra([_entry(tmp_path, "b", gradient_upper=0.2)]))
    assert "put 20% of their energy" in coarse[1].text and "most sensitive to coarse structure" in coarse[1].text
    arrays = dict(cue_spectra([_entry(tmp_path, "c")])["c"])
    arrays["class_difference"] = -arrays["class_difference"]
    assert spectrum_findings({"c": arrays})[0].text.startswith("FAKE test images carry less fine detail")
    arrays["class_difference"] = np.full_like(arrays["class_difference"], 0.01)  # a flat difference: no side has more
    assert spectrum_findings({"c": arrays})[0].text.startswith("FAKE and REAL test images carry about the same fine")
    # A periodic trace: the band means stay flat, but FAKE images put 40% of their power in the top band.
    real = np.r_[0.0, np.full(BANDS - 1, 1 / (BANDS - 1))]
    arrays["image_bands"] = np.stack([real, np.r_[0.6 * real[:-1], 0.4 + 0.6 * real[-1]]])
    trace = spectrum_findings({"c": arrays})[0]
    assert trace.text.startswith("FAKE test images carry more fine detail than REAL ones: 72.0% of their power lies "
                                 "in the upper 8 bands against 53.3% of REAL images'")
    assert list(trace.evidence.columns) == ["band", "FAKE - REAL mean log-amplitude", "REAL share of power",
                                            "FAKE share of power"]
    assert spectrum_findings({}) == []


def test_only_detectors_are_shown_and_the_figures_have_a_panel_per_family(tmp_path):
    entries = [_entry(tmp_path, "cnn_strided"), _entry(tmp_path, "vgg_small", "vgg_small"),
               _entry(tmp_path, "cnn_strided-aug-none", augmentation="none")]  # an arm of the augmentation study
    long = cues_long(entries)
    assert sorted(long["model"].unique()) == ["cnn_strided", "vgg_small"]
    assert set(CUES_COLUMNS) <= set(long.columns)
    assert set(cue_spectra(entries)) == {"cnn_strided", "vgg_small"}
    figure = cues_figure(long)
    families = list(dict.fromkeys(c.family for c in CONDITIONS if c.condition != "none"))
    assert [a.text for a in figure.layout.annotations][: len(families)] == families
    assert len(figure.data) == 2 * len(families)
    modes = {trace.mode for trace in figure.data if trace.xaxis == "x"}  # the low-pass panel: one condition's levels
    assert modes == {"lines+markers"}
    assert {trace.mode for trace in figure.data if trace.xaxis == "x5"} == {"markers"}  # Grad-CAM: two conditions
    assert {trace.mode for trace in figure.data if trace.xaxis == "x3"} == {"markers"}  # amplitude: other vs same
    profiles = band_profiles(cue_spectra(entries))
    assert set(profiles["series"]) == {"REAL images", "FAKE images", "cnn_strided gradients", "vgg_small gradients"}
    assert gradient_log_power(cue_spectra(entries)).shape == (32, 32)
    assert np.isfinite(gradient_log_power(cue_spectra(entries))).all()
    note = sample_note(entries)
    assert "1,000 test images, seed 0" in note and "2 detector(s): cnn_strided, vgg_small" in note
    assert cues_long(entries[2:]).empty
