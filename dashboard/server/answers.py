"""One upload's answer, as the JSON API returns it: what `/predict` and the upload page at `/` both show.

A plain function of the served models and the request's fields, so the page never calls the API's view and
tests need no HTTP. A request the zoo cannot answer raises AnswerError with the status and message the
API sends; the page shows the same message.
"""

from __future__ import annotations

from typing import Any

from model_zoo import LoadedModel, ZooError
from model_zoo.evidence import evidence_for
from model_zoo.judge import judge
from model_zoo.operating_point import MaxFprError, operating_points, parse_max_fpr
from model_zoo.roles import ALL_DETECTORS, ALL_INCLUDING_STUDIES
from model_zoo.selection import CHOICES, ZOO, choose_loaded

EVIDENCE = "evidence"  # the form field explain=evidence adds the evidence tests and their sentences
MISSING_IMAGE = "send the image as multipart/form-data field 'image' (e.g. curl -F image=@photo.jpg .../predict)"


class AnswerError(Exception):
    """A request the zoo cannot answer: the HTTP status and the one-line message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


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


def answer(served: dict[str, LoadedModel], data: bytes, name: str, wanted: str, max_fpr_text: str | None,
           explain: str | None = None) -> dict[str, Any]:
    """The /predict body for one upload: the consensus's verdict at the top level (when it answers), every
    model's under "verdicts", the operating points when `max_fpr` was asked for, and the file's provenance.
    `explain` "evidence" adds "evidence": the answering model's evidence tests and sentences (model_zoo.evidence;
    the answering model is the consensus, or the first model chosen)."""
    if explain not in (None, "", EVIDENCE):
        raise AnswerError(400, f"explain must be '{EVIDENCE}' (or left out), got '{explain}'")
    max_fpr = None
    if max_fpr_text is not None and max_fpr_text.strip() != "":
        try:
            max_fpr = parse_max_fpr(max_fpr_text)
        except MaxFprError as exc:
            raise AnswerError(400, str(exc)) from exc
    chosen = chosen_models(served, wanted)
    if chosen is None:
        known = ", ".join([*sorted(served), *CHOICES])
        raise AnswerError(404, f"no model named '{wanted}' (available: {known})")
    if not served:
        raise AnswerError(503, "no usable models in the zoo")
    if not chosen:
        raise AnswerError(503, f"the zoo has no detector, only study arms: ask with model={ALL_INCLUDING_STUDIES}")
    points = None
    if max_fpr is not None:
        try:
            points = operating_points([m.entry for m in chosen], max_fpr)
        except ZooError as exc:
            raise AnswerError(409, f"cannot choose a threshold for max_fpr={max_fpr}: {exc}") from exc
    judged = judge(data, chosen, name=name, override=None if points is None else {n: p.threshold for n, p in points.items()})
    if judged.error:
        raise AnswerError(422, judged.error)
    body: dict[str, Any] = {"filename": name, "bytes": len(data)}
    verdicts = list(judged.verdicts)
    if getattr(chosen[0].model, "combines_members", False):  # the consensus answers at the top level
        body |= verdicts.pop(0).as_dict()
    body["verdicts"] = [v.as_dict() for v in verdicts]
    if points is not None:
        body["operating_points"] = {n: p.as_dict() for n, p in points.items()}
    # What the file's metadata claims (C2PA, IPTC, generator parameters, EXIF): beside the verdicts, never in them.
    body["provenance"] = judged.provenance.as_dict()
    if explain == EVIDENCE:
        body["evidence"] = evidence_for(chosen[0], judged).as_dict()
    return body
