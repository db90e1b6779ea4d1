"""Download buttons for the HTML reports (dashboard.report) on the Model and Inspect pages."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import streamlit as st

from dashboard.overlays import enlarge, overlay
from dashboard.report import HeatmapFigure, ImageReport, image_report_html, model_report_html
from dashboard.views import heatmap_view
from model_zoo import LoadedModel, ZooEntry, read_entry
from model_zoo.decision import CLASS_NAMES, label_name
from model_zoo.evidence import Evidence
from model_zoo.judge import JudgedImage


def model_report_for(name: str, zoo: str) -> str:
    """The entry's report as it is on disk now (called when the button is clicked)."""
    return model_report_html(read_entry(name, zoo))


def model_report_button(entry: ZooEntry) -> None:
    # Built on click (Streamlit's deferred download): drawing the charts must not slow every page view.
    st.download_button("Download this model's report (HTML)",
                       functools.partial(model_report_for, entry.name, str(entry.path.parent)),
                       file_name=f"{entry.name}_report.html", mime="text/html", icon=":material/download:",
                       key=f"model_report_{entry.name}", on_click="ignore",
                       help="One self-contained HTML file: figures, curves, robustness and the model card.")


def image_report(result: JudgedImage, data: bytes, models: Mapping[str, LoadedModel],
                 heatmap_models: list[str], settings: heatmap_view.HeatmapSettings,
                 override: float | None, evidence: Evidence | None = None) -> ImageReport:
    """The report of one judged upload (its verdicts and provenance as the judge gave them), with the heatmaps the
    page shows (from the session's map cache); pictures stay arrays here, so a rerun only blends the overlays."""
    from dashboard.views.resources import preview

    try:
        original = preview(data, result.name)
    except Exception:  # noqa: BLE001 - the picture is optional in the report; the verdicts are not
        original = None
    prob = {v.model: v.prob_fake for v in result.verdicts}
    decisions = {v.model: v.decision for v in result.verdicts}
    heatmaps = []
    for name in heatmap_models:
        if name not in result.seen or name not in models:
            continue
        model, card = models[name].model, models[name].card
        verdict = label_name(prob[name], card if override is None else override)
        target = settings.target if settings.target != "verdict" else (verdict or CLASS_NAMES[1])
        heat = heatmap_view.cached_map(model, card, f"{name}@{card.created or ''}", result.seen[name],
                                       settings.method, target)
        picture = overlay(result.seen[name], heat, settings.alpha, settings.colormap)
        caption = heatmap_view.verdict_caption(name, prob[name], verdict, decisions.get(name))
        heatmaps.append(HeatmapFigure(name, f"{caption}, {settings.method} evidence for {target}.", picture))
    inputs = {name: enlarge(seen, 128) for name, seen in result.seen.items()}
    notes = [f"Decided at one threshold for every model: {override:.3f} (the user's override)."] if override else []
    provenance = result.provenance.as_dict() if result.provenance else None
    return ImageReport(result.name, result.verdicts, original, inputs, heatmaps, provenance, notes, evidence)


def image_report_button(report: ImageReport, key: str = "inspect_report") -> None:
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in report.name.rsplit(".", 1)[0]) or "image"
    # PNG encoding and the HTML are built on click (Streamlit's deferred download), not on every rerun.
    st.download_button("Download this image's report (HTML)", functools.partial(image_report_html, report),
                       file_name=f"{stem}_report.html", mime="text/html", icon=":material/download:", key=key,
                       on_click="ignore",
                       help="Verdicts, what each model saw, the heatmaps shown and the provenance, in one HTML file.")
