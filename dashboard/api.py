"""JSON prediction API over the zoo, for programs that want a verdict per image.

    python -m dashboard.api [--host 127.0.0.1] [--port 8000] [--zoo DIR]      (or `make api`)

    GET  /health    {"status": "ok", "models": [...]}; 503 while no model is usable
    GET  /          an HTML upload page for people (dashboard/web_page.py): the same verdicts and messages
    GET  /models    the key fields of each usable zoo card, plus the entries that were skipped
    POST /predict   multipart field "image", optional form field "model": "zoo" (the default: the zoo's consensus,
                    model_zoo.consensus; in a zoo without one, every detector), a NAME, "best", "fastest", "all"
                    (every detector) or "all-including-studies" (the study arms too); model_zoo.selection chooses.
                    Optional form field "max_fpr" (e.g. 0.01): each model decides at the threshold whose false-positive
                    rate on REAL validation images is at most that (model_zoo.operating_point; 400 unless 0 < x < 1)
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

Served by waitress (dashboard/serving.py): --workers requests run models at once, --queue more
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

from dashboard import serving
from dashboard.web_page import register_page
from model_zoo import LoadedModel, ZooEntry, ZooError, list_entries, load_usable_models, zoo_dir
from model_zoo.decision import threshold, uncertain_band
from model_zoo.images import MAX_BYTES, MAX_PIXELS
from model_zoo.judge import judge, warm_up
from model_zoo.operating_point import MaxFprError, operating_points, parse_max_fpr
from model_zoo.roles import ALL_DETECTORS, ALL_INCLUDING_STUDIES, role_of
from model_zoo.selection import CHOICES, ZOO, caching_loader, choose_loaded
from model_zoo.verdicts import model_version

log = logging.getLogger("dashboard.api")

# Uploads are single images: 20 MB covers any real photo; the pixel limit is decode_image's.
MAX_UPLOAD_BYTES = min(20 * 1024 * 1024, MAX_BYTES)
CARD_FIELDS = ("name", "architecture", "description", "input_shape", "params", "size_bytes", "created")
METRIC_FIELDS = ("accuracy", "precision", "recall", "f1", "roc_auc", "n")


def card_summary(entry: ZooEntry) -> dict[str, Any]:
    """The card fields a client needs to choose a model."""
    card = entry.card
    summary = {key: card[key] for key in CARD_FIELDS if key in card}
    summary["role"] = role_of(card)
    summary["preprocessing"] = card["preprocessing"]
    summary["threshold"] = threshold(card)
    summary["uncertain_band"] = list(uncertain_band(card))
    summary["novelty_cutoff"] = (card.get("novelty") or {}).get("cutoff")
    summary["model_version"] = model_version(entry)
    summary["metrics"] = {
        split: {key: values[key] for key in METRIC_FIELDS if key in values}
        for split, values in card["metrics"].items() if isinstance(values, dict)
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


def default_choice(served: dict[str, LoadedModel]) -> str:
    """"zoo" when a consensus is served, else "all" (every detector answers, as before the consensus existed)."""
    return ZOO if any(getattr(m.model, "combines_members", False) for m in served.values()) else ALL_DETECTORS


def chosen_models(served: dict[str, LoadedModel], wanted: str) -> list[LoadedModel] | None:
    """The models a request asks for (model_zoo.selection.choose_loaded: a consensus followed by its members);
    None for an unknown name, [] when the choice cannot be met."""
    try:
        return choose_loaded(wanted, served)
    except ZooError:
        return []


def _error(status: int, message: str):
    response = jsonify({"error": message})
    response.status_code = status
    return response


def create_app(zoo: str | os.PathLike | None = None, max_upload_bytes: int = MAX_UPLOAD_BYTES,
               serving_settings: serving.ServingSettings | None = None) -> Flask:
    """The API over `zoo` (default: $MODEL_ZOO_DIR, else model_zoo/); models are loaded here, once.

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
            return _error(400, "send the image as multipart/form-data field 'image' "
                               "(e.g. curl -F image=@photo.jpg .../predict)")
        wanted = request.form.get("model") or default_choice(served)
        request.environ[serving.MODEL_KEY] = wanted  # the access log names the choice that answered
        max_fpr = request.form.get("max_fpr")
        if max_fpr is not None and max_fpr.strip() != "":
            try:
                max_fpr = parse_max_fpr(max_fpr)
            except MaxFprError as exc:
                return _error(400, str(exc))
        else:
            max_fpr = None
        chosen = chosen_models(served, wanted)
        if chosen is None:
            known = ", ".join([*sorted(served), *CHOICES])
            return _error(404, f"no model named '{wanted}' (available: {known})")
        if not served:
            return _error(503, "no usable models in the zoo")
        if not chosen:
            return _error(503, f"the zoo has no detector, only study arms: ask with model={ALL_INCLUDING_STUDIES}")
        points = None
        if max_fpr is not None:
            try:
                points = operating_points([m.entry for m in chosen], max_fpr)
            except ZooError as exc:
                return _error(409, f"cannot choose a threshold for max_fpr={max_fpr}: {exc}")
        data = upload.read()
        name = upload.filename or "upload"
        judged = judge(data, chosen, name=name,
                       override=None if points is None else {n: p.threshold for n, p in points.items()})
        if judged.error:
            return _error(422, judged.error)
        body: dict[str, Any] = {"filename": name, "bytes": len(data)}
        verdicts = list(judged.verdicts)
        if getattr(chosen[0].model, "combines_members", False):  # the consensus answers at the top level
            body |= verdicts.pop(0).as_dict()
        body["verdicts"] = [v.as_dict() for v in verdicts]
        if points is not None:
            body["operating_points"] = {n: p.as_dict() for n, p in points.items()}
        # What the file's metadata claims (C2PA, IPTC, generator parameters, EXIF): beside the verdicts, never in them.
        body["provenance"] = judged.provenance.as_dict()
        return jsonify(body)

    register_page(app)  # GET / and POST /: the upload page over the /predict view above
    serving.install(app, serving_settings)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/)")
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
