"""The API's upload page at `/`: pick an image, submit, see every detector's verdict and the best one's Grad-CAM.

Plain HTML, one form, no JavaScript: it works in any browser and with `curl -F image=@x.jpg .../`.
The form posts to `/` with the same multipart field ("image") as POST /predict, and the page runs
the API's own /predict view on that request, so its verdicts, limits and error messages are the JSON
API's, word for word (a bad file shows the API's message, with the API's status code); like the API's
default, the page asks the detectors (model_zoo.roles). The best of them (model_zoo.all_best_first: the
leaderboard's top row among the models that answered) adds a Grad-CAM overlay of the evidence for its
verdict, from the same explain/overlay functions as the dashboard.
"""

from __future__ import annotations

import base64
import io
import logging

import numpy as np
from flask import Flask, render_template, request
from PIL import Image
from werkzeug.exceptions import HTTPException

from dashboard.server.answers import MISSING_IMAGE, AnswerError, answer, default_choice
from model_zoo import ImageError, LoadedModel, all_best_first, decode_for_card, decode_image
from model_zoo.judge import model_lock

log = logging.getLogger("dashboard.server.upload_page")

PREVIEW_SIDE = 256  # the uploaded image is shown at most this big (a 20 MB photo is not sent back whole)

TEMPLATE = "upload.html"  # dashboard/server/templates/: Jinja, autoescaped like every .html template


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
    from dashboard.overlays import overlay
    from model_zoo.saliency import explanation_map

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
    ranked = all_best_first([served[name].entry for name in names if name in served])
    return ranked[0].name if ranked else None


def _api_error(app: Flask, exc: HTTPException) -> tuple[dict, int]:
    """The JSON API's body and status for an HTTP error (e.g. 413), worded by its own handler."""
    response = app.make_response(app.handle_user_exception(exc))
    return response.get_json(silent=True) or {}, response.status_code


def result_view(body: dict, data: bytes, served: dict[str, LoadedModel]) -> dict:
    """What the page shows for a judged upload (the /predict body: Verdict.as_dict records)."""
    name = body.get("filename", "upload")
    preview, preview_size, (width, height) = _preview(data, name)
    # The consensus answers at the top level of the /predict body (dashboard.server.api): shown first, above its members.
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
        result["input_size"] = "x".join(str(v) for v in card.input_size)
        try:
            result["gradcam"] = _gradcam(served[best], data, name, best_verdict["label"])
        except (ValueError, ImageError) as exc:  # e.g. a model without a convolutional layer to explain
            result["gradcam_error"] = str(exc)
    return result


def register_page(app: Flask) -> None:
    """Add GET / (the form) and POST / (form + result) to the API app; the models are the app's (create_app)."""

    def render(status: int = 200, error: str | None = None, result: dict | None = None):
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        html = render_template(
            TEMPLATE, title="Real or AI-generated?", action=request.script_root + "/",
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
        upload = request.files.get("image")
        if upload is None:
            return render(400, error=MISSING_IMAGE)
        data = upload.read()
        served = app.extensions["zoo_models"]
        wanted = request.form.get("model") or default_choice(served)
        try:
            body = answer(served, data, upload.filename or "upload", wanted, request.form.get("max_fpr"))
        except AnswerError as exc:
            return render(exc.status, error=exc.message)
        try:
            result = result_view(body, data, served)
        except ImageError as exc:  # the models decoded it, so this is unlikely; still the file's fault
            return render(422, error=str(exc))
        return render(result=result)
