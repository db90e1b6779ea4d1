"""Downloadable, self-contained HTML reports: one of a model's page, one of an inspected image's verdicts and heatmaps.

A report is a single file that opens anywhere, offline, and stays as it was: CSS inline, every picture a
base64 `data:image/png` URI, no scripts, and nothing that makes a browser fetch (no http(s) src or href,
no @import, no url()). All text from cards, file names and metadata is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dashboard.evaluation import card_headline, reliability_bins, roc_points
from dashboard.evidence_display import counterfactual_caption, difference_picture, evidence_table
from dashboard.overlays import png_bytes
from dashboard.report_charts import line_chart_png
from model_zoo.card_markdown import model_card_markdown, split_front_matter
from model_zoo.evidence import Evidence
from model_zoo.test_sets import rows_per_test_set
from model_zoo.verdicts import Verdict
from model_zoo.zoo import ZooEntry

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2rem;
margin-top: 2rem; } h3 { margin-top: 1.4rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.tiles { display: flex; flex-wrap: wrap; gap: .6rem; } .tile { border: 1px solid #d0d7de; border-radius: 6px;
padding: .5rem .8rem; min-width: 150px; } .tile b { display: block; font-size: 1.3rem; } .tile small { color: #59636e; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; } figure { margin: 0; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #d0d7de; image-rendering: auto; }
figure.pixel img { image-rendering: pixelated; width: 256px; } figcaption { font-size: .85rem; color: #59636e; max-width: 320px; }
.FAKE { color: #b42318; font-weight: 600; } .REAL { color: #1a7f37; font-weight: 600; }
.UNCERTAIN { color: #9a6700; font-weight: 600; }
.note { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: .5rem .8rem; }
.muted { color: #59636e; font-size: .85rem; } pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; }
code { background: #f6f8fa; padding: 0 .2rem; border-radius: 3px; }
"""


def data_uri(png: bytes) -> str:
    """A PNG as a `data:image/png;base64,...` URI (the picture travels inside the HTML)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="num">{value:.4f}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value:,}</td>'
    return f"<td>{_esc('' if value is None else value)}</td>"


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(png: bytes, caption: str, pixel: bool = False) -> str:
    kind = ' class="pixel"' if pixel else ""
    return (f'<figure{kind}><img src="{data_uri(png)}" alt="{_esc(caption)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _page(title: str, body: str, generated: datetime.datetime | None = None) -> str:
    when = (generated or datetime.datetime.now()).strftime("%Y-%m-%d %H:%M")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_esc(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}"
            f"<hr><p class=\"muted\">Generated {when} by the CIFAKE real-vs-fake dashboard. Self-contained: every "
            "picture is embedded, nothing is loaded from elsewhere.</p></body></html>\n")


# ---- a Markdown subset (what model_zoo.card_markdown writes) to HTML ------------------------------------------

def _inline(text: str) -> str:
    text = _esc(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def markdown_to_html(markdown: str, heading_offset: int = 1) -> str:
    """Headings, paragraphs, bullet lists, pipe tables, fenced code, `code` and **bold**; everything escaped."""
    out: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
            out.append("<pre><code>" + _esc("\n".join(lines[i + 1 : end])) + "</code></pre>")
            i = end + 1
        elif match := re.match(r"(#{1,6}) (.*)", line):
            level = min(6, len(match.group(1)) + heading_offset)
            out.append(f"<h{level}>{_inline(match.group(2))}</h{level}>")
            i += 1
        elif line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append([cell.strip() for cell in lines[i].strip().strip("|").split("|")])
                i += 1
            header, body = block[0], [row for row in block[1:] if not all(set(c) <= set(":-") for c in row)]
            out.append("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in header) + "</tr></thead><tbody>"
                       + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in body)
                       + "</tbody></table>")
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        elif line.strip():
            paragraph = []
            while i < len(lines) and lines[i].strip() and not re.match(r"(#{1,6} |- |\||```)", lines[i]):
                paragraph.append(lines[i])
                i += 1
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
        else:
            i += 1
    return "\n".join(out)


# ---- the model report -------------------------------------------------------------------------------------

def _model_charts(entry: ZooEntry) -> list[str]:
    figures = []
    history = entry.history()
    if not history.empty and "epoch" in history:
        epochs = history["epoch"].tolist()
        accuracy = {label: (epochs, history[col].tolist()) for col, label in
                    (("accuracy", "train accuracy"), ("val_accuracy", "validation accuracy")) if col in history}
        if accuracy:
            figures.append(_figure(line_chart_png(accuracy, "Accuracy per epoch", "epoch", "accuracy"),
                                   "Training curves: accuracy on the training and validation splits."))
        loss = {label: (epochs, history[col].tolist()) for col, label in
                (("loss", "train loss"), ("val_loss", "validation loss")) if col in history}
        if loss:
            figures.append(_figure(line_chart_png(loss, "Loss per epoch", "epoch", "loss"), "Training curves: loss."))
    predictions = entry.test_predictions()
    test_set = f"{entry.card.training_set_name} test"  # a folder model's own split, not CIFAKE's
    if predictions is not None and len(predictions):
        labels, probs = predictions["label"].to_numpy(), predictions["prob_fake"].to_numpy()
        roc = roc_points(labels, probs)
        if len(roc):
            figures.append(_figure(line_chart_png({"ROC": (roc["fpr"], roc["tpr"])}, f"ROC curve ({test_set})",
                                                  "false positive rate", "true positive rate", (0, 1), diagonal=True),
                                   "ROC on the test set; the diagonal is a coin toss."))
        bins = reliability_bins(labels, probs).dropna()
        figures.append(_figure(line_chart_png({"model": (bins["mean_prob"], bins["fraction_fake"])},
                                              f"Reliability ({test_set})", "mean P(FAKE)", "fraction FAKE", (0, 1),
                                              diagonal=True),
                               "A calibrated model's points lie on the diagonal."))
    robustness = entry.robustness()
    if robustness is not None:
        series = {}
        for corruption, group in robustness[robustness["corruption"] != "none"].groupby("corruption", sort=True):
            ordered = group.reset_index(drop=True)
            series[str(corruption)] = (list(range(1, len(ordered) + 1)), ordered["accuracy"].tolist())
        if series:
            figures.append(_figure(line_chart_png(series, "Robustness: accuracy by corruption step",
                                                  "severity step (see table)", "accuracy"),
                                   "Accuracy on the corrupted test set, one line per corruption (levels in the table)."))
    return figures


def model_report_html(entry: ZooEntry, generated: datetime.datetime | None = None) -> str:
    """The Model page as one HTML file: headline figures, every test set, curves, robustness and the model card."""
    card = entry.card
    parts = [f"<h1>Model report: {_esc(entry.name)}</h1>",
             f"<p>{_esc(card.description or card.architecture)} &middot; {card.params:,} parameters "
             f"&middot; input {'x'.join(map(str, card.input_shape))} &middot; decision threshold "
             f"{card.threshold:.3f}</p>"]
    tiles = "".join(f'<div class="tile"><small>{_esc(label)}</small><b>{_esc(value)}</b><small>{_esc(help_text)}'
                    "</small></div>" for label, value, help_text in card_headline(card))
    parts.append(f'<div class="tiles">{tiles}</div>')
    rows = rows_per_test_set(card)
    if rows:
        parts.append(f"<h2>Test sets: {_esc(card.training_set_name)} and others</h2>")
        parts.append(html_table(["test set", "accuracy", "ROC-AUC", "precision", "recall", "F1", "n", "skipped",
                                 "evaluated"],
                                [[r["test set"], r["accuracy"], r["roc_auc"], r["precision"], r["recall"], r["f1"],
                                  r["n"], r["skipped"], r["evaluated"]] for r in rows]))
        test = card.split_metrics("test")
        if test and "confusion_matrix" in test:
            (tn, fp), (fn, tp) = test["confusion_matrix"]
            parts.append(f"<h3>Confusion matrix ({_esc(card.training_set_name)} test)</h3>" + html_table(
                ["true \\ called", "REAL", "FAKE"], [["REAL", tn, fp], ["FAKE", fn, tp]]))
    figures = _model_charts(entry)
    if figures:
        parts.append('<h2>Curves</h2><div class="figures">' + "".join(figures) + "</div>")
    robustness = entry.robustness()
    if robustness is not None:
        parts.append("<h2>Robustness</h2>" + html_table(
            ["corruption", "level", "accuracy"],
            [[r.corruption, f"{r.level:g}", float(r.accuracy)] for r in robustness.itertuples()]))
    _, body = split_front_matter(model_card_markdown(entry))
    body = re.sub(r"\A# .*\n", "", body)  # the report's own title names the model
    parts.append('<h2>Model card</h2><div class="card">' + markdown_to_html(body, heading_offset=1) + "</div>")
    return _page(f"Model report: {entry.name}", "\n".join(parts), generated)


# ---- the image report -------------------------------------------------------------------------------------

@dataclass
class HeatmapFigure:
    """One model's overlay (an (H, W, 3) uint8 picture) for the report, with what it shows."""

    model: str
    caption: str
    picture: np.ndarray
    note: str = ""  # e.g. a faithfulness or sanity-check remark


@dataclass
class ImageReport:
    """Everything an image report shows, as pictures (encoded to PNG only when the HTML is built)."""

    name: str
    verdicts: Sequence[Verdict]  # one per model, as model_zoo.judge gave them
    original: np.ndarray | None = None  # the upload, screen-sized
    model_inputs: dict[str, np.ndarray] = field(default_factory=dict)  # model -> what it saw, enlarged
    heatmaps: list[HeatmapFigure] = field(default_factory=list)
    provenance: dict[str, Any] | None = None  # model_zoo.provenance record (as_dict)
    notes: list[str] = field(default_factory=list)
    evidence: Evidence | None = None  # the answering model's evidence tests (model_zoo.evidence)


def _verdict_table(verdicts: Sequence[Verdict]) -> str:
    """One row per model: its decision (REAL, FAKE or UNCERTAIN, coloured), P(FAKE), threshold and, when any model
    has something to say about the input, its input-check sentences."""
    headers = ["model", "decision", "P(FAKE)", "threshold"]
    rows = [[v.model, v.decision, float(v.prob_fake), float(v.threshold)] for v in verdicts]
    notes = [" ".join(v.input_check.messages()) if v.input_check else "" for v in verdicts]
    if any(notes):
        headers.append("input check")
        rows = [[*row, note] for row, note in zip(rows, notes, strict=True)]
    table = html_table(headers, rows)
    for label in ("FAKE", "REAL", "UNCERTAIN"):  # colour the decision cells
        table = table.replace(f"<td>{label}</td>", f'<td class="{label}">{label}</td>')
    return table


def _provenance_html(record: Mapping[str, Any]) -> str:
    parts = ["<h2>Provenance (the file's metadata)</h2>",
             f"<p class=\"note\">{_esc(record.get('summary', ''))}</p>",
             f"<p class=\"muted\">{_esc(record.get('note', ''))}</p>"]
    findings = record.get("findings") or []
    if findings:
        parts.append(html_table(["where", "suggests", "meaning", "value"],
                                [[f["where"], (f.get("suggests") or "-").replace("_", " "), f["meaning"], f["value"]]
                                 for f in findings]))
    c2pa = record.get("c2pa") or {}
    if c2pa.get("present"):
        parts.append(html_table(["C2PA", "value"], [[key, ", ".join(map(str, value)) if isinstance(value, list)
                                                     else value] for key, value in c2pa.items()]))
    for error in record.get("errors") or []:
        parts.append(f'<p class="muted">{_esc(error)}</p>')
    return "\n".join(parts)


def image_report_html(report: ImageReport, generated: datetime.datetime | None = None) -> str:
    """An inspected image as one HTML file: the picture, every verdict, what each model saw, heatmaps, provenance."""
    parts = [f"<h1>Image report: {_esc(report.name)}</h1>"]
    for note in report.notes:
        parts.append(f'<p class="note">{_esc(note)}</p>')
    if report.original is not None:
        parts.append('<div class="figures">' + _figure(rgb_png(report.original), f"{report.name} (shown downscaled)")
                     + "</div>")
    parts.append("<h2>Verdicts</h2>")
    if report.verdicts:
        parts.append(_verdict_table(report.verdicts))
        fake = sum(v.decision == "FAKE" for v in report.verdicts)
        parts.append(f"<p>{fake} of {len(report.verdicts)} model(s) call it FAKE.</p>")
    else:
        parts.append("<p>No model judged this image.</p>")
    if report.model_inputs:
        parts.append("<h2>What each model sees</h2><div class=\"figures\">" + "".join(
            _figure(rgb_png(picture), f"{model}: its exact input, enlarged", pixel=True)
            for model, picture in report.model_inputs.items())
                     + "</div>")
    if report.evidence is not None:
        parts.append(_evidence_html(report.evidence))
    if report.heatmaps:
        parts.append("<h2>Heatmaps</h2><div class=\"figures\">" + "".join(
            _figure(rgb_png(h.picture), h.caption + (f" {h.note}" if h.note else "")) for h in report.heatmaps)
                     + "</div>")
    if report.provenance is not None:
        parts.append(_provenance_html(report.provenance))
    return _page(f"Image report: {report.name}", "\n".join(parts), generated)


def _evidence_html(evidence: Evidence) -> str:
    """Why, in words: the sentences, any stability note, the table of tests and the smallest flipping change."""
    grid = f" on each of its {evidence.crops} crops, as it judges" if evidence.crops > 1 else ""
    parts = ["<h2>Why, in words</h2>",
             f'<p class="muted">{_esc(evidence.model)} scored this image again after each of {len(evidence.tests) - 1} '
             f"controlled changes{_esc(grid)}. Each sentence says only what its numbers show.</p>",
             "<ul>" + "".join(f"<li>{_esc(sentence)}</li>" for sentence in evidence.sentences) + "</ul>"]
    parts += [f'<p class="note">{_esc(note)}</p>' for note in evidence.stability]
    table = evidence_table(evidence)
    parts.append("<h3>The tests</h3>" + html_table(list(table.columns), table.astype(object).where(
        table.notna(), None).values.tolist()))
    flip = evidence.counterfactual
    if flip is not None:
        parts.append("<h3>The smallest change that flips the verdict</h3><div class=\"figures\">"
                     + _figure(rgb_png(flip.original), "original", pixel=True)
                     + _figure(rgb_png(flip.image), "changed", pixel=True)
                     + _figure(rgb_png(difference_picture(flip.original, flip.image)), "difference", pixel=True)
                     + "</div>" + f"<p>{_esc(counterfactual_caption(evidence))}</p>")
    return "\n".join(parts)


def rgb_png(image: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 picture (dashboard.overlays.png_bytes)."""
    return png_bytes(np.ascontiguousarray(image, dtype=np.uint8))
