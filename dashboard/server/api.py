"""JSON prediction API over the zoo, for programs that want a verdict per image.

    python -m dashboard.server.api [--host 127.0.0.1] [--port 8000] [--zoo DIR]      (or `make api`)

    GET  /health    {"status": "ok", "models": [...]}; 503 while no model is usable
    GET  /          an HTML upload page for people (dashboard/server/upload_page.py): the same verdicts and messages
    GET  /models    the key fields of each usable zoo card, plus the entries that were skipped
    POST /predict   multipart field "image", optional form field "model": "zoo" (the default: the zoo's consensus,
                    model_zoo.consensus; in a zoo without one, every detector), a NAME, "best", "fastest", "all"
                    (every detector) or "all-including-studies" (the study arms too); model_zoo.selection chooses.
                    Optional form field "max_fpr" (e.g. 0.01): each model decides at the threshold whose false-positive
                    rate on REAL validation images is at most that (model_zoo.operating_point; 400 unless 0 < x < 1).
                    Optional form field "explain=evidence": adds "evidence", the answering model's evidence tests and
                    their sentences (model_zoo.evidence; docs/explanations.md has an example)
                    -> {"filename", "bytes", [the consensus's verdict fields, top level, when it answers: "model",
                        "label", "prob_fake", "decision", "reason", "consensus", ...], "verdicts": [{"model", "label",
                        "prob_fake", "threshold", "predictions", "decision", "uncertain_band", "calibrated", "novelty",
                        "novelty_cutoff", "in_distribution", "input_check", "model_version", "inference_time_ms"}],
                        ["operating_points": {model: {"threshold", "validation", "expected_test", ...}},]
                        "provenance": {"suggests", "summary", "findings", "c2pa", "errors", "note"}}

prob_fake is the model's calibrated P(FAKE); label is FAKE when it reaches the model's
own threshold (fitted on validation, in its card), the same rule as the predict CLI.
decision adds UNCERTAIN inside the card's band; in_distribution and input_check say whether the
image was resized and how novel the model finds it (docs/scanning-and-api.md documents every field).

    curl -F image=@photo.jpg http://127.0.0.1:8000/predict

Models load once when the app is created; each request is judged by model_zoo.judge, the path every
entry point shares. Every error is JSON {"error": "..."}:
400 no image field, 404 unknown model, 413 upload over the byte limit, 422 a file
that is not a usable image (unreadable, truncated, over the pixel limit). A bad
image never causes a 500.

Served by waitress (dashboard/server/serving.py): --workers requests run models at once, --queue more
wait, and beyond that a POST gets 503 with Retry-After. With $CIFAKE_API_TOKEN set every route but
/health answers 401 without `Authorization: Bearer <token>`. One JSON line per request goes to the
access log (stdout, or --access-log FILE); GET /metrics is in Prometheus text format.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from dashboard.server import serving
from dashboard.server.answers import MISSING_IMAGE, AnswerError, answer, default_choice
from dashboard.server.upload_page import register_page
from model_zoo import LoadedModel, ZooEntry, list_entries, load_usable_models, zoo_dir
from model_zoo.images import MAX_BYTES, MAX_PIXELS
from model_zoo.judge import warm_up
from model_zoo.selection import caching_loader
from model_zoo.verdicts import model_version

log = logging.getLogger("dashboard.server.api")

# Uploads are single images: 20 MB covers any real photo; the pixel limit is decode_image's.
MAX_UPLOAD_BYTES = min(20 * 1024 * 1024, MAX_BYTES)
CARD_FIELDS = ("name", "architecture", "description", "input_shape", "params", "size_bytes", "created")
METRIC_FIELDS = ("accuracy", "precision", "recall", "f1", "roc_auc", "n")


def card_summary(entry: ZooEntry) -> dict[str, Any]:
    """The card fields a client needs to choose a model."""
    card = entry.card
    written = card.to_dict()  # the fields as card.json has them
    summary = {key: written[key] for key in CARD_FIELDS if key in written}
    summary["role"] = card.role_name
    summary["preprocessing"] = written["preprocessing"]
    summary["threshold"] = card.threshold
    summary["uncertain_band"] = list(card.uncertain_band)
    summary["novelty_cutoff"] = card.novelty.cutoff if card.novelty else None
    summary["model_version"] = model_version(entry)
    summary["metrics"] = {
        split: {key: values[key] for key in METRIC_FIELDS if key in values}
        for split, values in written["metrics"].items()
    }
    return summary


def load_served_models(zoo: str | os.PathLike | None) -> tuple[dict[str, LoadedModel], list[dict[str, str]]]:
    """Load and warm up every usable entry, detectors and study arms alike; broken ones are reported, not fatal."""
    entries, problems = list_entries(zoo)
    served, unusable = load_usable_models(entries, load=caching_loader())  # a consensus shares its members' models
    warm_up(served.values())  # compile now, not on the first request
    skipped = [{"name": p.name, "error": p.message} for p in problems + unusable]
    for problem in skipped:
        log.warning("skipping zoo entry %s: %s", problem["name"], problem["error"])
    return served, skipped


def _error(status: int, message: str):
    response = jsonify({"error": message})
    response.status_code = status
    return response


def create_app(zoo: str | os.PathLike | None = None, max_upload_bytes: int = MAX_UPLOAD_BYTES,
               serving_settings: serving.ServingSettings | None = None) -> Flask:
    """The API over `zoo` (default: $MODEL_ZOO_DIR, else model_zoo/entries/); models are loaded here, once.

    Token, work gate, access log and /metrics wrap it (serving.install; settings default to the environment)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_upload_bytes
    served, skipped = load_served_models(zoo)
    app.extensions["zoo_models"] = served
    app.extensions["zoo_skipped"] = skipped

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            limit_bytes = app.config["MAX_CONTENT_LENGTH"]
            limit = f"{limit_bytes:,} bytes ({limit_bytes / 2**20:.1f} MB)"
            return _error(413, f"upload is larger than the limit of {limit}")
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        log.exception("unexpected error")
        return _error(500, f"internal error ({type(exc).__name__})")

    @app.get("/health")
    def health():
        body = {"status": "ok" if served else "no usable models", "models": sorted(served), "skipped": len(skipped)}
        return jsonify(body), 200 if served else 503

    @app.get("/models")
    def models():
        return jsonify({"zoo": str(zoo_dir(zoo)), "models": [card_summary(m.entry) for m in served.values()],
                        "skipped": skipped})

    @app.post("/predict")
    def predict():
        upload = request.files.get("image")
        if upload is None:
            return _error(400, MISSING_IMAGE)
        wanted = request.form.get("model") or default_choice(served)
        request.environ[serving.MODEL_KEY] = wanted  # the access log names the choice that answered
        try:
            body = answer(served, upload.read(), upload.filename or "upload", wanted, request.form.get("max_fpr"),
                          request.form.get("explain"))
        except AnswerError as exc:
            return _error(exc.status, exc.message)
        return jsonify(body)

    register_page(app)  # GET / and POST /: the upload page over the /predict view above
    serving.install(app, serving_settings)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.server.api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    serving.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = serving.settings_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    app = create_app(args.zoo, serving_settings=settings)
    served = app.extensions["zoo_models"]
    print(f"serving {len(served)} model(s) from {zoo_dir(args.zoo)}: {', '.join(served) or 'none'}; "
          f"limits {MAX_UPLOAD_BYTES // 2**20} MB, {MAX_PIXELS // 1_000_000} megapixels; {settings.workers} workers, "
          f"queue {settings.queue}; token {'required' if settings.token else 'off'}", file=sys.stderr, flush=True)
    server = serving.make_server(app, args.host, args.port, settings, app.config["MAX_CONTENT_LENGTH"])
    print(f"listening on http://{args.host}:{server.effective_port}", file=sys.stderr, flush=True)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
