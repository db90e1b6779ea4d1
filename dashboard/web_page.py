"""The API's upload page at `/`: pick an image, submit, see every detector's verdict and the best one's Grad-CAM.

Plain HTML, one form, no JavaScript: it works in any browser and with `curl -F image=@x.jpg .../`.
The form posts to `/` with the same multipart field ("image") as POST /predict, and the page runs
the API's own /predict view on that request, so its verdicts, limits and error messages are the JSON
API's, word for word (a bad file shows the API's message, with the API's status code); like the API's
default, the page asks the detectors (model_zoo.roles). The best of them (model_zoo.ranked_entries: the
leaderboard's top row among the models that answered) adds a Grad-CAM overlay of the evidence for its
verdict, from the same explain/overlay functions as the dashboard.
"""

from __future__ import annotations

import base64
import io
import logging

import numpy as np
from flask import Flask, render_template_string, request
from PIL import Image
from werkzeug.exceptions import HTTPException

from model_zoo import ImageError, LoadedModel, decode_for_card, decode_image, ranked_entries
from model_zoo.judge import model_lock

log = logging.getLogger("dashboard.web_page")

PREVIEW_SIDE = 256  # the uploaded image is shown at most this big (a 20 MB photo is not sent back whole)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.6rem; margin-bottom: .2rem; }
  .lead { color: #555; margin-top: 0; }
  form { border: 1px solid #ccc; border-radius: 6px; padding: 1rem; margin: 1rem 0 1.5rem; }
  button { font-size: 1rem; padding: .35rem 1.2rem; margin-left: .5rem; }
  .error { background: #fde8e8; border: 1px solid #e0a0a0; padding: .7rem 1rem; border-radius: 6px; }
  .images { display: flex; gap: 1.5rem; flex-wrap: wrap; align-items: flex-start; }
  figure { margin: 0; }
  figcaption { font-size: .85rem; color: #555; max-width: 256px; }
  img.pixelated { image-rendering: pixelated; }
  table { border-collapse: collapse; margin: 1rem 0; }
  th, td { border-bottom: 1px solid #ddd; padding: .35rem .8rem; text-align: left; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .FAKE { color: #b00020; font-weight: 600; }
  .REAL { color: #146c2e; font-weight: 600; }
  .UNCERTAIN { color: #8a5a00; font-weight: 600; }
  .note { font-size: .85rem; color: #555; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="lead">Upload an image to ask every detector in the zoo whether it is a real photo or AI-generated.</p>
<form method="post" action="{{ action }}" enctype="multipart/form-data">
  <label for="image">Image (JPEG, PNG, WebP, BMP or GIF, at most {{ limit_mb }} MB)</label><br>
  <input type="file" id="image" name="image" accept="image/*" required>
  <button type="submit">Submit</button>
</form>
{% if error %}
<p class="error" role="alert" id="error"><strong>Cannot judge this file:</strong> {{ error }}</p>
{% endif %}
{% if result %}
<section id="result">
<h2>{{ result.filename }}</h2>
<div class="images">
  <figure>
    <img id="upload" src="data:image/png;base64,{{ result.preview }}" alt="the uploaded image"
         width="{{ result.preview_size[0] }}" height="{{ result.preview_size[1] }}">
    <figcaption>The upload ({{ result.width }}x{{ result.height }} pixels, {{ "{:,}".format(result.bytes) }} bytes).</figcaption>
  </figure>
  {% if result.gradcam %}
  <figure>
    <img id="gradcam" class="pixelated" src="data:image/png;base64,{{ result.gradcam }}"
         alt="Grad-CAM overlay of {{ result.best }}" width="256" height="256">
    <figcaption>Grad-CAM of <strong>{{ result.best }}</strong>, the best model: where it finds evidence for
      {{ result.gradcam_target }}, over the {{ result.input_size }} image it sees (red: most).</figcaption>
  </figure>
  {% elif result.gradcam_error %}
  <p class="note">No Grad-CAM: {{ result.gradcam_error }}</p>
  {% endif %}
</div>
<table id="verdicts">
  <thead><tr><th>model</th><th>verdict</th><th>P(FAKE)</th><th>threshold</th>
    {% if result.uncertain %}<th>uncertain band</th>{% endif %}</tr></thead>
  <tbody>
  {% for v in result.verdicts %}
    <tr>
      <td>{{ v.model }}{% if v.model == result.best %} (best){% endif %}</td>
      <td class="{{ v.shown }}">{{ v.shown }}</td>
      <td class="num">{{ "%.4f"|format(v.prob_fake) }}</td>
      <td class="num">{{ "%.3f"|format(v.threshold) }}</td>
      {% if result.uncertain %}<td class="num">{% if v.band %}{{ "%.3f"|format(v.band[0]) }} to
        {{ "%.3f"|format(v.band[1]) }}{% else %}none{% endif %}</td>{% endif %}
    </tr>
  {% endfor %}
  </tbody>
</table>
<p class="note">P(FAKE) is each model's calibrated probability that the image is AI-generated; a model says FAKE
when it reaches that model's own threshold (fitted on validation data){% if result.uncertain %}, and
UNCERTAIN when it falls in the model's uncertain band around it{% endif %}. The models were trained on
32x32 CIFAKE images, so photos are shrunk to that size first and are judged less reliably.</p>
</section>
{% endif %}
<p class="note">Programs: <code>curl -F image=@photo.jpg {{ predict_url }}</code> returns the same verdicts as JSON.</p>
</body>
</html>
"""


def _png_base64(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _preview(data: bytes, name: str) -> tuple[str, tuple[int, int], tuple[int, int]]:
    """(PNG base64 of the upload shrunk to PREVIEW_SIDE, its display (width, height), the original (width, height))."""
    rgb = decode_image(data, name=name, min_size=(PREVIEW_SIDE, PREVIEW_SIDE))
    image = Image.fromarray(rgb)
    scale = PREVIEW_SIDE / max(image.size)
    shown = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.NEAREST if scale > 1 else Image.LANCZOS)
    with Image.open(io.BytesIO(data)) as original:  # the file's own size (the decode may be a JPEG draft)
        size = original.size
    return _png_base64(np.asarray(shown)), shown.size, size


def _gradcam(served: LoadedModel, data: bytes, name: str, target: str) -> str:
    """PNG base64 of the Grad-CAM overlay (evidence for `target`) of one served model on the upload."""
    from dashboard.explain import explanation_map
    from dashboard.overlays import overlay

    card = served.card
    seen = decode_for_card(data, card, name=name)
    with model_lock(served.model):  # the judge's per-model lock: Keras models are not documented thread-safe
        heatmap = explanation_map(served.model, card, seen, method="Grad-CAM", target=target)
    return _png_base64(overlay(seen, heatmap))


def _band(verdict: dict) -> list[float] | None:
    """The verdict's uncertain band [low, high] when it has a real one (older cards: none)."""
    band = verdict.get("uncertain_band")
    return band if band and band[0] < band[1] else None


def best_of(served: dict[str, LoadedModel], names: list[str]) -> str | None:
    """Of the served models `names`, the one the leaderboard ranks highest (its top row may not have answered)."""
    ranked = ranked_entries([served[name].entry for name in names if name in served])
    return ranked[0].name if ranked else None


def _api_error(app: Flask, exc: HTTPException) -> tuple[dict, int]:
    """The JSON API's body and status for an HTTP error (e.g. 413), worded by its own handler."""
    response = app.make_response(app.handle_user_exception(exc))
    return response.get_json(silent=True) or {}, response.status_code


def _run_predict(app: Flask) -> tuple[dict, int]:
    """The API's own /predict view on this request: its JSON body and status, errors included."""
    try:
        response = app.make_response(app.view_functions["predict"]())
    except HTTPException as exc:
        return _api_error(app, exc)
    return response.get_json(silent=True) or {}, response.status_code


def result_view(body: dict, data: bytes, served: dict[str, LoadedModel]) -> dict:
    """What the page shows for a judged upload (the /predict body: Verdict.as_dict records)."""
    name = body.get("filename", "upload")
    preview, preview_size, (width, height) = _preview(data, name)
    # The consensus answers at the top level of the /predict body (dashboard.api): shown first, above its members.
    consensus = [{k: v for k, v in body.items() if k not in ("verdicts", "provenance", "operating_points")}] \
        if "prob_fake" in body else []
    verdicts = [{**v, "shown": v["decision"], "band": _band(v)} for v in consensus + body["verdicts"]]
    best = best_of(served, [v["model"] for v in verdicts])
    result = {"filename": name, "bytes": body.get("bytes", len(data)), "preview": preview,
              "preview_size": preview_size, "width": width, "height": height, "verdicts": verdicts, "best": best,
              "uncertain": any(v["shown"] == "UNCERTAIN" for v in verdicts), "gradcam": None, "gradcam_error": None}
    best_verdict = next((v for v in verdicts if v["model"] == best), None)
    if best is not None and best_verdict is not None:
        card = served[best].card
        result["gradcam_target"] = best_verdict["label"]  # explain the verdict it gave (REAL or FAKE)
        result["input_size"] = "x".join(str(v) for v in card["input_shape"][:2])
        try:
            result["gradcam"] = _gradcam(served[best], data, name, best_verdict["label"])
        except (ValueError, ImageError) as exc:  # e.g. a model without a convolutional layer to explain
            result["gradcam_error"] = str(exc)
    return result


def register_page(app: Flask) -> None:
    """Add GET / (the form) and POST / (form + result) to the API app; the models are the app's (create_app)."""

    def render(status: int = 200, error: str | None = None, result: dict | None = None):
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        html = render_template_string(
            PAGE, title="Real or AI-generated?", action=request.script_root + "/",
            predict_url=request.host_url.rstrip("/") + "/predict", limit_mb=f"{limit / 2**20:.0f}",
            error=error, result=result)
        return html, status, {"Content-Type": "text/html; charset=utf-8"}

    @app.before_request
    def parse_page_upload():
        # Registered before the API's own hooks (create_app calls this first): an over-limit upload fails
        # while its form is parsed, and a hook that parses it later would answer in JSON, not on this page.
        if request.method == "POST" and request.path == "/":
            try:
                request.files  # noqa: B018 - parsing is the point; Werkzeug keeps the result for the view
            except HTTPException as exc:
                body, status = _api_error(app, exc)
                return render(status, error=body.get("error", exc.description))
        return None

    @app.get("/")
    def upload_page():
        return render()

    @app.post("/")
    def upload_result():
        body, status = _run_predict(app)
        if status != 200:
            return render(status, error=body.get("error", f"the API answered {status}"))
        upload = request.files["image"]
        upload.stream.seek(0)  # /predict read it: read the same bytes again for the preview and Grad-CAM
        data = upload.read()
        served = app.extensions["zoo_models"]
        try:
            result = result_view(body, data, served)
        except ImageError as exc:  # the models decoded it, so this is unlikely; still the file's fault
            return render(422, error=str(exc))
        return render(result=result)
