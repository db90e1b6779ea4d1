"""What the models look at: the cue study's stored results (cues.csv, cue_spectra.npz) as tables, figures and
sentences. Plain functions of data frames and arrays; the Studies page only lays them out.

Every sentence is built from the numbers in its evidence table, so the answer changes when the numbers do.
Accuracies are means over the detectors measured (model_zoo.is_detector), on the sample `python -m
training.cues` drew; gaps under MARGIN are read as no difference. Each model is measured on its own test images,
so detectors are only pooled with others measured on the same ones (cue_groups: CIFAKE's, or one labelled folder's,
named by the card's cues.test_set).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts import grid_rows, model_colors, panel_cell, small_multiples
from model_zoo import ZooEntry, is_detector
from model_zoo.cue_vocabulary import (
    AMPLITUDE_SWAP,
    BANDS,
    BORDER_FILL,
    CENTRE_FILL,
    CHANNEL,
    GRADCAM_BOTTOM,
    GRADCAM_TOP,
    GRAYSCALE,
    HIGHPASS,
    JPEG_GRID,
    LOWPASS,
    NONE,
    TILES,
    band_index,
)
from model_zoo.zoo import CIFAKE_NAME, study_test_set

COMMAND = "python -m training.cues all --data /path/to/cifake.zip"
HINT = ("No detector's cues have been measured yet. Score the detectors on test images after controlled changes "
        "(frequency filters, centre vs border, tile shuffles, colour, the JPEG grid); about 15 minutes for the "
        f"shipped detectors on a 2-core CPU:\n\n    {COMMAND}\n\nModels trained on a labelled folder are measured "
        "on its own test images: `--data` that folder.")
MARGIN = 0.02  # gaps under 2 points count as none: one accuracy on 600 images has a sampling error of 0.7-2 points
BIG = 0.10  # a change that costs 10 points or more is a drop
HOLDS = 0.05  # tiles that cost under 5 points keep the evidence
HALF = BANDS // 2
AMPLITUDE_MARGIN = 0.05  # mean log-amplitude differences under 0.05 (about 5% more amplitude) count as none
POWER_RATIO = 1.2  # nor do shares of power in the upper bands within a factor of 1.2 of each other
GROUP = ["family", "condition", "level", "label"]


@dataclass(frozen=True)
class Finding:
    """One answer: the sentence and the rows it was built from."""

    topic: str
    text: str
    evidence: pd.DataFrame


def cues_long(entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """Every detector's cues.csv stacked, with a `model` column (empty when none has one)."""
    frames = [frame.assign(model=entry.name) for entry in entries
              if is_detector(entry) and (frame := entry.cues()) is not None]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["model", *GROUP, "accuracy"])


def cue_groups(entries: Sequence[ZooEntry]) -> list[tuple[str, list[ZooEntry]]]:
    """(test set, its measured detectors) for each set of test images the cue study ran on, CIFAKE's first: numbers
    on different images are never pooled."""
    groups: dict[str, list[ZooEntry]] = {}
    for entry in entries:
        if is_detector(entry) and entry.cues() is not None:
            groups.setdefault(study_test_set(entry.card.cues), []).append(entry)
    return sorted(groups.items(), key=lambda item: item[0] != CIFAKE_NAME)


def command_for(entries: Sequence[ZooEntry]) -> str:
    """The command that measures these entries again: on CIFAKE, or on the folder their cues block names."""
    folders = {entry.card.cues.dataset for entry in entries if entry.card.cues and entry.card.cues.test_set}
    return f"python -m training.cues all --data {next(iter(folders))}" if len(folders) == 1 else COMMAND


def cue_spectra(entries: Sequence[ZooEntry]) -> dict[str, dict[str, np.ndarray]]:
    """model -> its cue_spectra.npz arrays, for the detectors that have them."""
    return {entry.name: arrays for entry in entries if is_detector(entry) and (arrays := entry.cue_spectra()) is not None}


def condition_means(long: pd.DataFrame) -> pd.DataFrame:
    """One row per condition, in the stored order: accuracy averaged over the models (with its range), ROC-AUC
    and each class's mean P(FAKE) averaged too."""
    frame = long.copy()
    for column in ("roc_auc", "mean_p_fake_real", "mean_p_fake_fake"):
        if column not in frame:
            frame[column] = np.nan
    grouped = frame.groupby(GROUP, sort=False)
    summary = grouped.agg(accuracy=("accuracy", "mean"), accuracy_min=("accuracy", "min"),
                          accuracy_max=("accuracy", "max"), roc_auc=("roc_auc", "mean"),
                          mean_p_fake_real=("mean_p_fake_real", "mean"), mean_p_fake_fake=("mean_p_fake_fake", "mean"),
                          models=("model", "nunique")).reset_index()
    summary["level"] = summary["level"].astype(float)
    return summary


class _Rows:
    """Look-ups into condition_means' table: the row of one condition at one level."""

    def __init__(self, summary: pd.DataFrame) -> None:
        self.summary = summary

    def get(self, condition: str, level: float) -> pd.Series | None:
        match = self.summary[(self.summary["condition"] == condition) & np.isclose(self.summary["level"], level)]
        return match.iloc[0] if len(match) else None

    def levels(self, condition: str) -> list[float]:
        return sorted(self.summary.loc[self.summary["condition"] == condition, "level"].astype(float))

    def evidence(self, *rows: pd.Series | None) -> pd.DataFrame:
        kept = [row for row in rows if row is not None]
        columns = ["label", "accuracy", "accuracy_min", "accuracy_max", "roc_auc", "mean_p_fake_real",
                   "mean_p_fake_fake", "models"]
        return pd.DataFrame(kept)[columns].reset_index(drop=True) if kept else pd.DataFrame(columns=columns)


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _points(value: float) -> str:
    return f"{value * 100:.1f} points"


def _spread(row: pd.Series) -> str:
    """" (mean of 6 detectors, 58.0-64.0%)" when several models were measured."""
    if row["models"] < 2:
        return ""
    return f" (mean of {int(row['models'])} detectors, {_pct(row['accuracy_min'])}-{_pct(row['accuracy_max'])})"


def _level_near(rows: _Rows, condition: str, wanted: float) -> float | None:
    levels = rows.levels(condition)
    return min(levels, key=lambda level: (abs(level - wanted), level)) if levels else None


def _lowpass(rows: _Rows, clean: pd.Series) -> Finding | None:
    k = _level_near(rows, LOWPASS, HALF)
    if k is None:
        return None
    row = rows.get(LOWPASS, k)
    drop = clean["accuracy"] - row["accuracy"]
    head = f"Keeping only the lowest {k:g} of {BANDS} frequency bands"
    if drop >= BIG:
        text = (f"{head} drops accuracy from {_pct(clean['accuracy'])} to {_pct(row['accuracy'])}{_spread(row)}: "
                f"the evidence is fine texture, in the upper half of the spectrum.")
    elif drop <= MARGIN:
        text = (f"{head} leaves accuracy at {_pct(row['accuracy'])} (unchanged images: {_pct(clean['accuracy'])})"
                f"{_spread(row)}: the evidence survives without the upper half of the spectrum, so it is not fine "
                f"texture alone.")
    else:
        text = (f"{head} costs {_points(drop)} ({_pct(clean['accuracy'])} to {_pct(row['accuracy'])}){_spread(row)}: "
                f"part of the evidence is fine texture.")
    every = [rows.get(LOWPASS, level) for level in rows.levels(LOWPASS)]
    recovered = [r for r in every if r["accuracy"] >= clean["accuracy"] - MARGIN]
    if recovered:
        text += f" Accuracy is back within {MARGIN * 100:.0f} points once the lowest {recovered[0]['level']:g} bands are kept."
    else:
        top = every[-1]
        text += (f" Even with the lowest {top['level']:g} bands kept, accuracy is only {_pct(top['accuracy'])}: the top "
                 f"{BANDS - top['level']:g} bands alone are worth {_points(clean['accuracy'] - top['accuracy'])}.")
    return Finding("frequency", text, rows.evidence(clean, *every))


def _highpass(rows: _Rows, clean: pd.Series) -> Finding | None:
    k = _level_near(rows, HIGHPASS, HALF)
    if k is None:
        return None
    row = rows.get(HIGHPASS, k)
    auc = row["roc_auc"]
    if pd.isna(auc):
        return None
    head = (f"With only the fine texture left (bands {k:g}-{BANDS - 1}, the coarse image removed), the models still "
            f"rank FAKE above REAL with ROC-AUC {auc:.3f} (accuracy {_pct(row['accuracy'])} at their thresholds)")
    if auc >= 0.9:
        text = f"{head}: fine texture alone carries most of the evidence."
    elif auc >= 0.7:
        text = f"{head}: fine texture alone carries part of the evidence."
    else:
        text = head.replace("still rank FAKE above REAL", "rank FAKE above REAL only") + ": fine texture alone is not enough."
    others = [rows.get(HIGHPASS, level) for level in rows.levels(HIGHPASS)]
    return Finding("frequency", text, rows.evidence(clean, *others))


def _amplitude_phase(rows: _Rows, clean: pd.Series) -> Finding | None:
    swapped, control = rows.get(AMPLITUDE_SWAP, 1), rows.get(AMPLITUDE_SWAP, 0)
    if swapped is None or pd.isna(swapped["roc_auc"]):
        return None
    auc = swapped["roc_auc"]
    text = (f"Given a FAKE image's Fourier phase with a REAL image's amplitude, and the reverse, the models rank the "
            f"images by the class of their phase with ROC-AUC {auc:.2f} ({1 - auc:.2f} by the class of their amplitude; "
            f"mean P(FAKE) {swapped['mean_p_fake_fake']:.2f} with a FAKE phase, {swapped['mean_p_fake_real']:.2f} with "
            f"a REAL one)")
    if control is not None and pd.notna(control["roc_auc"]):
        text += f"; an amplitude from another image of the same class leaves ROC-AUC {control['roc_auc']:.2f}"
    if auc >= 0.7:
        text += ": the phase (where edges and textures sit) carries the evidence, not the amplitude spectrum."
    elif auc <= 0.3:
        text += ": the amplitude spectrum (how much of each frequency) carries the evidence, not the phase."
    else:
        lean = (", leaning to the amplitude" if auc < 0.5 - MARGIN * 2 else
                ", leaning to the phase" if auc > 0.5 + MARGIN * 2 else "")
        text += f": neither alone carries it; the evidence lies in how the two go together{lean}."
    return Finding("frequency", text, rows.evidence(clean, swapped, control))


def _paired(rows: _Rows, first: str, second: str, wanted: float) -> tuple[float, pd.Series, pd.Series] | None:
    """The level nearest `wanted` measured for both conditions, with each row."""
    shared = sorted(set(rows.levels(first)) & set(rows.levels(second)), key=lambda level: (abs(level - wanted), level))
    if not shared:
        return None
    return shared[0], rows.get(first, shared[0]), rows.get(second, shared[0])


def _scores(clean: pd.Series, row: pd.Series) -> str:
    """"REAL 0.06 to 0.43, FAKE 0.94 to 0.98": each class's mean P(FAKE), unchanged then changed."""
    return (f"REAL {clean['mean_p_fake_real']:.2f} to {row['mean_p_fake_real']:.2f}, "
            f"FAKE {clean['mean_p_fake_fake']:.2f} to {row['mean_p_fake_fake']:.2f}")


def _fill_reads_as_fake(clean: pd.Series, rows: dict[str, pd.Series]) -> str:
    """The caveat every grey fill needs: a patch with sharp edges can itself look FAKE. Said when a REAL score rose."""
    risen = {name: row for name, row in rows.items() if row["mean_p_fake_real"] - clean["mean_p_fake_real"] >= BIG}
    if not risen:
        return ""
    named = " and ".join(f"to {row['mean_p_fake_real']:.2f} without the {name}" for name, row in risen.items())
    return (f" The grey patch itself reads as FAKE evidence on REAL images, whose mean P(FAKE) rises from "
            f"{clean['mean_p_fake_real']:.2f} {named}, so part of the accuracy cost is the fill, not lost evidence.")


def _centre_border(rows: _Rows, clean: pd.Series) -> Finding | None:
    paired = _paired(rows, CENTRE_FILL, BORDER_FILL, 0.25)
    if paired is None:
        return None
    level, centre, border = paired
    cost_centre, cost_border = clean["accuracy"] - centre["accuracy"], clean["accuracy"] - border["accuracy"]
    text = (f"Replacing the centre box ({level:.0%} of the pixels) with grey costs {_points(cost_centre)} and a border "
            f"frame of the same size {_points(cost_border)}. ")
    # Where the FAKE evidence is: what FAKE images lose of their FAKE score (a grey fill can only add FAKE-looking
    # edges, so this is the evidence the region held, at least).
    lost_centre = clean["mean_p_fake_fake"] - centre["mean_p_fake_fake"]
    lost_border = clean["mean_p_fake_fake"] - border["mean_p_fake_fake"]
    compared = (f"FAKE images' mean P(FAKE) goes from {clean['mean_p_fake_fake']:.2f} to "
                f"{border['mean_p_fake_fake']:.2f} without the border and to {centre['mean_p_fake_fake']:.2f} without "
                f"the centre")
    if lost_border - lost_centre >= MARGIN:
        text += f"{compared}: the generator's traces sit more in the background, as Bird & Lotfi reported."
    elif lost_centre - lost_border >= MARGIN:
        text += f"{compared}: the generator's traces sit more in the object in the centre, not in the background " \
                "Bird & Lotfi pointed to."
    else:
        text += f"{compared}: the centre and the background hold about equal FAKE evidence."
    text += _fill_reads_as_fake(clean, {"centre": centre, "border": border})
    return Finding("location", text, rows.evidence(clean, centre, border))


def _gradcam(rows: _Rows, clean: pd.Series) -> Finding | None:
    paired = _paired(rows, GRADCAM_TOP, GRADCAM_BOTTOM, 0.25)
    if paired is None:
        return None
    level, top, bottom = paired
    cost_top, cost_bottom = clean["accuracy"] - top["accuracy"], clean["accuracy"] - bottom["accuracy"]
    text = (f"Greying the {level:.0%} of pixels each model's own Grad-CAM ranks highest costs {_points(cost_top)}, "
            f"the {level:.0%} it ranks lowest {_points(cost_bottom)}")
    if cost_top - cost_bottom >= MARGIN:
        text += ": Grad-CAM points at evidence the models use."
    elif cost_bottom - cost_top >= MARGIN:
        text += ": Grad-CAM points away from the evidence."
    else:
        text += ": Grad-CAM's ranking does not locate the evidence."
    text += f" Mean P(FAKE) by class, top: {_scores(clean, top)}; bottom: {_scores(clean, bottom)}."
    if clean["mean_p_fake_fake"] - top["mean_p_fake_fake"] < MARGIN:
        text += (" On FAKE images greying the top-ranked pixels does not lower the FAKE score: their evidence is not "
                 "confined to what Grad-CAM ranks highest.")
    return Finding("location", text, rows.evidence(clean, top, bottom))


def _tiles(rows: _Rows, clean: pd.Series) -> Finding | None:
    sizes = sorted(rows.levels(TILES), reverse=True)
    if not sizes:
        return None
    every = [rows.get(TILES, size) for size in sizes]
    holds = [clean["accuracy"] - r["accuracy"] < HOLDS for r in every]
    accuracies = ", ".join(_pct(r["accuracy"]) for r in every)
    listed = f"{accuracies} with {', '.join(f'{size:g}' for size in sizes)} px tiles" if len(every) > 1 else (
        f"{accuracies} with {sizes[0]:g} px tiles")
    if all(holds):
        text = (f"Shuffling tiles as small as {sizes[-1]:g} px (layout destroyed, local texture kept) leaves accuracy "
                f"at {_pct(every[-1]['accuracy'])} (unchanged: {_pct(clean['accuracy'])}): the evidence is local "
                f"texture; where things are does not matter.")
    elif not any(holds):
        text = (f"Shuffling tiles drops accuracy from {_pct(clean['accuracy'])} to {listed}: the models need the "
                f"image's layout, not local texture alone.")
    else:
        last = max(i for i, held in enumerate(holds) if held)  # the smallest tiles that still hold
        kept, lost = every[last], every[min(last + 1, len(every) - 1)]
        text = (f"Shuffled {kept['level']:g} px tiles keep accuracy at {_pct(kept['accuracy'])} but {lost['level']:g} px "
                f"tiles drop it to {_pct(lost['accuracy'])} (unchanged: {_pct(clean['accuracy'])}): the evidence is "
                f"texture about {kept['level']:g} px across.")
    smallest = every[-1]
    rise = smallest["mean_p_fake_real"] - clean["mean_p_fake_real"]
    if pd.notna(rise) and rise >= BIG:
        text += (f" Part of that is the seams between tiles, which read as FAKE evidence: the REAL images' mean "
                 f"P(FAKE) rises from {clean['mean_p_fake_real']:.2f} to {smallest['mean_p_fake_real']:.2f}.")
    return Finding("structure", text, rows.evidence(clean, *every))


def _colour(rows: _Rows, clean: pd.Series) -> Finding | None:
    gray = rows.get(GRAYSCALE, 0)
    if gray is None:
        return None
    cost = clean["accuracy"] - gray["accuracy"]
    if cost >= BIG:
        text = (f"Grayscale drops accuracy from {_pct(clean['accuracy'])} to {_pct(gray['accuracy'])}: colour is part "
                f"of the evidence.")
    elif cost <= MARGIN:
        text = f"Grayscale costs {_points(cost)} ({_pct(gray['accuracy'])}): colour carries little of the evidence."
    else:
        text = f"Grayscale costs {_points(cost)} ({_pct(gray['accuracy'])}): colour carries some of the evidence."
    channels = [rows.get(CHANNEL, level) for level in rows.levels(CHANNEL)]
    if len(channels) >= 2:
        ranked = sorted(channels, key=lambda r: -r["accuracy"])
        best, worst = ranked[0], ranked[-1]
        text += (f" Of the channels alone, {best['label'].removesuffix(' only')} keeps the most "
                 f"({_pct(best['accuracy'])}) and {worst['label'].removesuffix(' only')} the least "
                 f"({_pct(worst['accuracy'])}).")
    return Finding("structure", text, rows.evidence(clean, gray, *channels))


def _jpeg_grid(rows: _Rows, clean: pd.Series) -> Finding | None:
    aligned = rows.get(JPEG_GRID, 0)
    shifted = [rows.get(JPEG_GRID, level) for level in rows.levels(JPEG_GRID) if level > 0]
    if aligned is None or not shifted:
        return None
    mean = float(np.mean([r["accuracy"] for r in shifted]))
    worst = min(shifted, key=lambda r: r["accuracy"])
    span = f"{shifted[0]['level']:g}-{shifted[-1]['level']:g} px"
    text = (f"A JPEG re-encode on the images' own 8x8 block grid leaves accuracy at {_pct(aligned['accuracy'])}; "
            f"shifted by {span} before the re-encode it averages {_pct(mean)} (lowest {_pct(worst['accuracy'])}, "
            f"at {worst['level']:g} px)")
    if aligned["accuracy"] - mean >= MARGIN:
        text += ": the models depend on the alignment of the JPEG grid."
    else:
        text += ": the models do not depend on the 8x8 block alignment."
    return Finding("JPEG grid", text, rows.evidence(clean, aligned, *shifted))


def cue_findings(long: pd.DataFrame) -> list[Finding]:
    """The answers the conditions give, one Finding each, from the stacked cues.csv (cues_long); conditions that
    were not measured give no sentence."""
    if long.empty:
        return []
    rows = _Rows(condition_means(long))
    clean = rows.get(NONE, 0)
    if clean is None:
        return []
    builders = (_lowpass, _highpass, _amplitude_phase, _centre_border, _gradcam, _tiles, _colour, _jpeg_grid)
    return [finding for build in builders if (finding := build(rows, clean)) is not None]


def band_means(spectrum: np.ndarray) -> np.ndarray:
    """Mean of a centred (H, W) spectrum over each of the 16 bands."""
    unshifted = np.fft.ifftshift(np.asarray(spectrum, np.float64))
    bands = band_index(*unshifted.shape).ravel()
    return np.bincount(bands, weights=unshifted.ravel(), minlength=BANDS) / np.maximum(
        np.bincount(bands, minlength=BANDS), 1)


def spectrum_findings(spectra: Mapping[str, Mapping[str, np.ndarray]]) -> list[Finding]:
    """What the stored spectra say: where FAKE and REAL images differ, and where the models' gradients sit."""
    if not spectra:
        return []
    findings = []
    first = next(iter(spectra.values()))
    per_band = band_means(first["class_difference"])
    upper, lower = float(per_band[HALF:].mean()), float(per_band[1:HALF].mean())
    real_share, fake_share = (float(share) for share in np.sum(np.asarray(first["image_bands"])[:, HALF:], axis=1))
    evidence = pd.DataFrame({"band": np.arange(BANDS), "FAKE - REAL mean log-amplitude": per_band,
                             "REAL share of power": first["image_bands"][0], "FAKE share of power": first["image_bands"][1]})
    numbers = (f"{fake_share:.1%} of their power lies in the upper {HALF} bands against {real_share:.1%} of REAL "
               f"images', and the FAKE - REAL difference of the mean log-amplitude is {upper:+.2f} on average over "
               f"those bands and {lower:+.2f} over bands 1-{HALF - 1} (top band {per_band[-1]:+.2f})")
    # Two measures of fine detail, each judged on its own scale: the mean log-amplitude sees a broad change, the share
    # of power a strong one at few frequencies (a generator's periodic trace), which the band means dilute.
    ratio = fake_share / real_share if real_share > 0 else math.inf
    more = upper >= AMPLITUDE_MARGIN or ratio >= POWER_RATIO
    less = upper <= -AMPLITUDE_MARGIN or ratio <= 1 / POWER_RATIO
    if more and not less:
        text = f"FAKE test images carry more fine detail than REAL ones: {numbers}."
    elif less and not more:
        text = f"FAKE test images carry less fine detail than REAL ones: {numbers}."
    elif more and less:
        text = f"FAKE and REAL test images differ in fine detail, one way by each measure: {numbers}."
    else:
        text = f"FAKE and REAL test images carry about the same fine detail: {numbers}."
    findings.append(Finding("spectra", text, evidence))

    shares = {model: float(np.sum(arrays["gradient_bands"][HALF:])) for model, arrays in spectra.items()}
    image_share = float(np.mean(np.sum(np.asarray(first["image_bands"])[:, HALF:], axis=1)))
    mean_share = float(np.mean(list(shares.values())))
    spread = (f" ({min(shares.values()):.0%}-{max(shares.values()):.0%} across {len(shares)} detectors)"
              if len(shares) > 1 else "")
    head = (f"The models' input gradients put {mean_share:.0%} of their energy in the upper {HALF} of the {BANDS} "
            f"frequency bands{spread}, where the test images hold {image_share:.0%} of theirs")
    if mean_share >= 0.5:
        text = f"{head}: the models are most sensitive to fine detail, which carries little of an image's energy."
    else:
        text = f"{head}: the models are most sensitive to coarse structure."
    evidence = pd.DataFrame({"model": [*shares, "test images (REAL, FAKE mean)"],
                             f"share in bands {HALF}-{BANDS - 1}": [*shares.values(), image_share]})
    findings.append(Finding("spectra", text, evidence))
    return findings


def same_size(spectra: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, Mapping[str, np.ndarray]]:
    """The spectra at the first model's input size: only those can be averaged pixel by pixel (models trained on one
    folder may see it at different sizes; the per-band profiles compare them all)."""
    if not spectra:
        return {}
    shape = np.shape(next(iter(spectra.values()))["gradient_power"])
    return {model: arrays for model, arrays in spectra.items() if np.shape(arrays["gradient_power"]) == shape}


def gradient_log_power(spectra: Mapping[str, Mapping[str, np.ndarray]]) -> np.ndarray:
    """log10 of the detectors' mean input-gradient power spectrum (centred), for the heatmap: over the models that
    share the first one's input size (same_size)."""
    mean = np.mean([np.asarray(arrays["gradient_power"], np.float64) for arrays in same_size(spectra).values()], axis=0)
    return np.log10(np.maximum(mean, 1e-12))


def band_profiles(spectra: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """(series, band, share) rows: each class's image power and each model's input-gradient power per band."""
    rows = []
    first = next(iter(spectra.values()))
    for name, shares in zip(("REAL images", "FAKE images"), first["image_bands"], strict=True):
        # band 0 (the mean) is removed from every image before its spectrum: nothing to plot there
        rows += [{"series": name, "band": band, "share": float(share)} for band, share in enumerate(shares) if band]
    for model, arrays in spectra.items():
        rows += [{"series": f"{model} gradients", "band": band, "share": float(share)}
                 for band, share in enumerate(arrays["gradient_bands"])]
    return pd.DataFrame(rows, columns=["series", "band", "share"])


def band_profile_figure(profiles: pd.DataFrame) -> go.Figure:
    """Share of power per frequency band, log scale: the images' against the models' input gradients."""
    figure = go.Figure()
    for series, rows in profiles.groupby("series", sort=False):
        images = series.endswith("images")
        figure.add_trace(go.Scatter(x=rows["band"], y=rows["share"].clip(lower=1e-9), mode="lines+markers", name=series,
                                    line=dict(dash="dash" if images else "solid", width=3 if images else 1.5)))
    figure.update_yaxes(type="log", title_text="share of power")
    figure.update_xaxes(title_text=f"frequency band (0 = coarsest, {BANDS - 1} = finest and the diagonal corners)",
                        dtick=1)
    figure.update_layout(title="Power per frequency band: the images against the models' input gradients", height=380,
                         margin=dict(l=10, r=10, t=50, b=10))
    return figure


def cues_figure(long: pd.DataFrame) -> go.Figure:
    """Small multiples: one panel per family of conditions, accuracy per condition, one colour per model; the
    dotted line is each model's accuracy on the unchanged sample. A panel of one condition at several levels is
    joined by lines; panels that compare conditions (centre vs border) or two levels show markers only."""
    clean = long[long["condition"] == NONE]
    changed = long[long["condition"] != NONE]
    families = list(dict.fromkeys(changed["family"]))
    colors = model_colors(long["model"])
    figure = small_multiples(families, "(no conditions)", vertical_spacing=0.3)
    for index, family in enumerate(families):
        row, col = panel_cell(index, len(families))
        panel = changed[changed["family"] == family]
        # Lines only along one condition's levels (a cut-off, a tile size); side-by-side comparisons get markers.
        mode = "lines+markers" if panel["condition"].nunique() == 1 and panel["level"].nunique() >= 3 else "markers"
        for model, points in panel.groupby("model", sort=False):
            figure.add_trace(go.Scatter(x=points["label"], y=points["accuracy"], mode=mode, name=model,
                                        legendgroup=model, showlegend=index == 0, marker=dict(size=8),
                                        line=dict(color=colors[model])), row=row, col=col)
        for model, baseline in clean.groupby("model", sort=False):
            figure.add_hline(y=float(baseline["accuracy"].iloc[0]), line=dict(dash="dot", color=colors[model], width=1),
                             row=row, col=col)
        figure.update_xaxes(type="category", categoryorder="array", categoryarray=list(dict.fromkeys(panel["label"])),
                            tickangle=-35, row=row, col=col)
    figure.update_yaxes(range=[0, 1.02])
    figure.update_layout(title="Accuracy after each change (dotted: the unchanged images)",
                         height=120 + 420 * grid_rows(len(families)),
                         margin=dict(l=10, r=10, t=90, b=10))
    return figure


def sample_note(entries: Sequence[ZooEntry]) -> str:
    """Where the numbers come from: the sample of each measured detector (from its card's cues block), whose test
    images they are (a folder's, when its cues block names one), what a folder model saw of them, and any condition
    left out at a model's input size."""
    measured = [entry for entry in entries if is_detector(entry) and entry.cues() is not None]
    blocks = {entry.name: entry.card.cues.to_dict() if entry.card.cues else {} for entry in measured}  # as written
    sizes = sorted({(b.get("n"), b.get("seed")) for b in blocks.values()}, key=str)
    sets = sorted({str(b["test_set"]) for b in blocks.values() if b.get("test_set")})
    images = f"{' / '.join(sets)} test images" if sets else "test images"  # CIFAKE's: worded as always
    described = "; ".join(f"{n:,} {images}, seed {seed}" if isinstance(n, int) else "sample not recorded"
                          for n, seed in sizes)
    extra = "".join(f" {name} saw {b['view']}." for name, b in blocks.items() if b.get("view"))
    extra += "".join(f" Left out for {name}: " + "; ".join(f"{row.get('label')} ({row.get('why')})" for row in rows)
                     + "." for name, b in blocks.items() if isinstance(rows := b.get("left_out"), list) and rows)
    return (f"Measured on {described} (half REAL, half FAKE) for {len(blocks)} detector(s): "
            f"{', '.join(blocks)}.{extra} Accuracy is at each model's own threshold; gaps under "
            f"{MARGIN * 100:.0f} points are read as no difference. `{command_for(measured)}` measures them again.")
