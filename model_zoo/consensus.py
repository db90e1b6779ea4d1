"""The zoo's consensus: the detectors' calibrated logits combined into one verdict, a zoo entry of its own.

A consensus entry (`<zoo>/zoo_consensus/`, card kind and architecture "consensus", role "consensus") has
no weights: its card names its members (detectors) and the combiner, and loading it loads them.
Everything in it is fitted on the validation split, from the members' stored validation_predictions.csv:
- the combiner: the mean of the members' calibrated logits, or a logistic regression on them (stacking),
  whichever has the better 5-fold cross-validated accuracy on validation (stacking must win by more than
  STACKING_MARGIN, or the mean's simplicity wins); both scores are recorded in the card;
- its own temperature, threshold and uncertain band (model_zoo.decision.fit_decision / fit_band), as any card;
- the disagreement cut-off: the SPREAD_QUANTILE of the spread (standard deviation) of the members'
  calibrated logits on validation. Above it the members disagree more than on 99 in 100 CIFAKE images,
  and the verdict is UNCERTAIN.
When a majority of the members whose novelty check is believed find the image unlike their training
images, or the image had to be resized (model_zoo.input_check), the verdict is UNCERTAIN with that reason
instead of a guess. Its full-test metrics come from the members' stored test predictions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model_zoo.card import CONSENSUS_KIND, Card, parse_card
from model_zoo.decision import (
    UNCERTAIN,
    apply_temperature,
    band_summary,
    fit_band,
    fit_decision,
    fit_temperature,
    fit_threshold,
    logit,
)
from model_zoo.input_check import InputCheck, check_input
from model_zoo.metrics import binary_metrics
from model_zoo.roles import detectors
from model_zoo.zoo import (
    PREDICTIONS_FILE,
    VALIDATION_PREDICTIONS_FILE,
    LoadedModel,
    ZooEntry,
    ZooError,
    list_entries,
    read_entry,
    staged_entry,
    write_card,
    write_predictions,
)

DEFAULT_NAME = "zoo_consensus"
COMBINERS = ("mean", "stacking")
SPREAD_QUANTILE = 0.99  # 1 CIFAKE validation image in 100 has a wider disagreement than the cut-off
CV_FOLDS = 5
STACKING_MARGIN = 0.001  # cross-validated accuracy stacking must gain over the mean (10 of 10,000 images) to be used
REASON_UNLIKE = "unlike the training data"
REASON_DISAGREE = "the detectors disagree"
REASON_BAND = "inside the uncertain band"


@dataclass(frozen=True)
class Combiner:
    """combined logit = member calibrated logits @ weights + bias (the mean: weights 1/M, bias 0)."""

    kind: str
    members: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float = 0.0

    def logit(self, member_logits: np.ndarray) -> np.ndarray:
        return np.asarray(member_logits, np.float64) @ np.asarray(self.weights, np.float64) + self.bias

    def raw_prob_fake(self, member_prob_fake: np.ndarray) -> np.ndarray:
        """sigmoid(combined logit) from the members' calibrated P(FAKE) (N, M); the card's temperature comes after."""
        return (1.0 / (1.0 + np.exp(-self.logit(logit(member_prob_fake))))).astype(np.float32)


def mean_combiner(members: Sequence[str]) -> Combiner:
    return Combiner("mean", tuple(members), tuple([1.0 / len(members)] * len(members)))


def combiner_of(card: Card) -> Combiner:
    """The combiner the consensus card records."""
    block = card.consensus
    if block is None:  # the card checks a consensus lists its members; a network has none
        raise ZooError(f"{card.name}: a consensus card must list its members (consensus.members)")
    members = tuple(block.members)
    return Combiner(block.combiner, members, tuple(float(block.weights.get(m, 1.0 / len(members))) for m in members),
                    float(block.bias))


def spread(member_prob_fake: np.ndarray) -> np.ndarray:
    """How much the members disagree per image: the standard deviation of their calibrated logits (N,)."""
    return np.std(logit(member_prob_fake), axis=1)


def spread_cutoff(card: Card) -> float | None:
    disagreement = card.consensus.disagreement if card.consensus else None
    return disagreement.cutoff if disagreement else None


def consensus_prob_fake(card: Card, member_prob_fake: np.ndarray) -> np.ndarray:
    """The consensus's calibrated P(FAKE) from its members' calibrated P(FAKE) (N, M, columns in members order)."""
    return apply_temperature(combiner_of(card).raw_prob_fake(member_prob_fake), card.temperature)


# ---- loading ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConsensusModel:
    """What loading a consensus entry gives: its loaded members and combiner. model_zoo.inference and
    model_zoo.saliency recognise it by `combines_members` and score or explain it through its members."""

    members: tuple[LoadedModel, ...]
    combiner: Combiner
    combines_members = True

    def raw_prob_fake(self, images: np.ndarray | list[np.ndarray]) -> np.ndarray:
        from model_zoo.inference import predict_prob_fake

        member_probs = np.stack([predict_prob_fake(m.model, images, m.card) for m in self.members], axis=1)
        return self.combiner.raw_prob_fake(member_probs) if len(member_probs) else np.zeros(0, np.float32)


def load_consensus(entry: ZooEntry, load: Callable[[ZooEntry], Any]) -> ConsensusModel:
    """Load a consensus entry's members (read from the same zoo) with `load`; a ZooError names a missing member."""
    combiner = combiner_of(entry.card)
    members = []
    for name in combiner.members:
        try:
            member = read_entry(name, entry.path.parent)
        except ZooError as exc:
            raise ZooError(f"{entry.path}: member '{name}' is unusable ({exc}); rebuild the consensus with "
                           "`python -m training.build_consensus`") from None
        if member.card.is_consensus:
            raise ZooError(f"{entry.path}: member '{name}' is itself a consensus")
        members.append(LoadedModel(member, load(member)))
    return ConsensusModel(tuple(members), combiner)


def base_models(models: Iterable[LoadedModel]) -> list[LoadedModel]:
    """The Keras models to run for `models`: each single model, and every consensus's members, once each by name."""
    out: dict[str, LoadedModel] = {}
    for loaded in models:
        for model in loaded.model.members if getattr(loaded.model, "combines_members", False) else (loaded,):
            out.setdefault(model.name, model)
    return list(out.values())


# ---- the verdict -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConsensusCheck(InputCheck):
    """The consensus's input check: the size as for any model; novel when a majority of the members whose
    novelty check is believed find the image unlike their training images (novelty = that share, cut-off 0.5)."""

    novel_members: tuple[str, ...] = ()
    scored_members: int = 0

    def novelty_message(self) -> str | None:
        if not self.scored_members:
            return None
        count = f"{len(self.novel_members)} of the {self.scored_members} detectors with a believed novelty check"
        if self.novel:
            return (f"{count} find this image unlike their training images, so the consensus does not guess: "
                    "its verdict is UNCERTAIN.")
        return f"{count} find this image unlike their training images (a majority would make the verdict UNCERTAIN)."

    def as_dict(self) -> dict[str, Any]:
        return super().as_dict() | {"novel_members": list(self.novel_members), "scored_members": self.scored_members}


def consensus_check(size: tuple[int, int], card: Card, member_checks: Sequence[tuple[str, InputCheck | None]]
                    ) -> ConsensusCheck:
    base = check_input(size, card, None)
    scored = [(name, check) for name, check in member_checks if check is not None and check.novel is not None]
    novel = tuple(name for name, check in scored if check.novel)
    share = len(novel) / len(scored) if scored else None
    given = {f.name: getattr(base, f.name) for f in fields(InputCheck)}  # the size check, whatever fields it has
    return ConsensusCheck(**(given | {"novelty": share, "novelty_cutoff": 0.5 if scored else None,
                                      "noise_flagged": None}), novel_members=novel, scored_members=len(scored))


def consensus_verdict(loaded: LoadedModel, member_verdicts: Sequence[Any], size: tuple[int, int], *,
                      override: float | None = None, version: str | None = None):  # -> model_zoo.verdicts.Verdict
    """The consensus's verdict from its members' verdicts on one image (in the combiner's members order).

    REAL/FAKE at its own threshold and band (or `override`), UNCERTAIN with a reason when the image is
    unlike the training data (resized, or novel to a majority of members) or the members disagree beyond
    the validation cut-off; P(FAKE) is given either way.
    """
    from model_zoo.verdicts import verdict_for

    card = loaded.card
    probs = np.array([[v.prob_fake for v in member_verdicts]], np.float64)
    prob = float(consensus_prob_fake(card, probs)[0])
    disagreement = float(spread(probs)[0])
    cutoff = spread_cutoff(card)
    check = consensus_check(size, card, [(v.model, v.input_check) for v in member_verdicts])
    took = sum(v.inference_time_ms or 0.0 for v in member_verdicts)
    verdict = verdict_for(loaded.name, prob, card, check, override=override, version=version, inference_time_ms=took)
    reason = None
    if check.in_distribution is False:
        reason = REASON_UNLIKE
    elif cutoff is not None and disagreement > cutoff:
        reason = REASON_DISAGREE
    elif verdict.decision == UNCERTAIN:
        reason = REASON_BAND
    details = {"combiner": combiner_of(card).kind, "members": len(member_verdicts),
               "spread": round(disagreement, 4), "spread_cutoff": cutoff,
               "fake_votes": sum(v.label == "FAKE" for v in member_verdicts)}
    return replace(verdict, decision=UNCERTAIN if reason else verdict.decision, reason=reason, consensus=details)


# ---- fitting (on validation) --------------------------------------------------------------------------------

def aligned_predictions(entries: Sequence[ZooEntry], split: str = "validation") -> tuple[list[str], np.ndarray,
                                                                                         np.ndarray]:
    """(paths, labels, calibrated P(FAKE) (N, M)) of the members' stored predictions on `split` ("validation" or
    "test"), on the images every member has, in the first member's order; ZooError when one has none or the
    members disagree about a label."""
    frames = []
    for entry in entries:
        frame = entry.validation_predictions() if split == "validation" else entry.test_predictions()
        if frame is None:
            command = (f"python -m training.evaluate {entry.name} --validation-only" if split == "validation"
                       else f"python -m training.evaluate {entry.name}")
            raise ZooError(f"{entry.path}: no stored {split} predictions (run `{command}`)")
        frames.append(frame.set_index("path"))
    paths = frames[0].index
    for frame in frames[1:]:
        paths = paths.intersection(frame.index, sort=False)
    if len(paths) == 0:
        raise ZooError(f"the members share no {split} images: were they trained on the same split?")
    sizes = {entry.name: len(frame) for entry, frame in zip(entries, frames, strict=True)}
    if any(size != len(paths) for size in sizes.values()):
        raise ZooError(f"the members' {split} predictions cover different images ({sizes}); all must share one "
                       "split (same data, seed and validation_fraction)")
    labels = np.stack([frame.loc[paths, "label"].to_numpy() for frame in frames], axis=1)
    if (labels != labels[:, :1]).any():
        raise ZooError(f"the members' {split} predictions disagree about some images' labels")
    probs = np.stack([frame.loc[paths, "prob_fake"].to_numpy(np.float64) for frame in frames], axis=1)
    return list(paths), labels[:, 0].astype(int), probs


def _log_loss(labels: np.ndarray, prob: np.ndarray) -> float:
    prob = np.clip(np.asarray(prob, np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(prob) + (1 - labels) * np.log1p(-prob)))


def _stacking_model(seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=1000, random_state=seed)


def cross_validated_scores(labels: np.ndarray, member_prob_fake: np.ndarray, seed: int = 0,
                           folds: int = CV_FOLDS) -> dict[str, dict[str, float]]:
    """Out-of-fold accuracy and log-loss of each combiner on validation: everything a combiner fits (stacking's
    weights, the temperature and threshold) is fitted on the other folds."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels).astype(int)
    z = logit(member_prob_fake)
    mean_z = z.mean(axis=1)
    out = {kind: np.zeros(len(labels)) for kind in COMBINERS}
    decided = {kind: np.zeros(len(labels), bool) for kind in COMBINERS}
    for fit_on, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(z, labels):
        raw_mean = 1 / (1 + np.exp(-mean_z))
        temp = fit_temperature(labels[fit_on], raw_mean[fit_on])
        cut = fit_threshold(labels[fit_on], apply_temperature(raw_mean[fit_on], temp))
        out["mean"][held] = apply_temperature(raw_mean[held], temp)
        decided["mean"][held] = out["mean"][held] >= cut
        model = _stacking_model(seed).fit(z[fit_on], labels[fit_on])
        fitted = model.predict_proba(z[fit_on])[:, 1]
        cut = fit_threshold(labels[fit_on], fitted)
        out["stacking"][held] = model.predict_proba(z[held])[:, 1]
        decided["stacking"][held] = out["stacking"][held] >= cut
    return {kind: {"accuracy": round(float(np.mean(decided[kind] == labels)), 5),
                   "log_loss": round(_log_loss(labels, out[kind]), 5)} for kind in COMBINERS}


def choose_combiner(scores: dict[str, dict[str, float]], margin: float = STACKING_MARGIN) -> tuple[str, str]:
    """("mean" or "stacking", why): stacking only when its cross-validated accuracy beats the mean's by > margin."""
    gain = scores["stacking"]["accuracy"] - scores["mean"]["accuracy"]
    if gain > margin:
        return "stacking", (f"stacking's cross-validated validation accuracy is {gain:+.2%} over the mean's, more than "
                            f"the {margin:.2%} margin a fitted combiner must win by")
    return "mean", (f"stacking's cross-validated validation accuracy is {gain:+.2%} against the mean's, not more than "
                    f"the {margin:.2%} margin: the mean has no weights to overfit, so it is kept")


def fit_combiner(kind: str, labels: np.ndarray, member_prob_fake: np.ndarray, members: Sequence[str],
                 seed: int = 0) -> Combiner:
    """The combiner of `kind` fitted on all of validation (the mean fits nothing)."""
    if kind == "mean":
        return mean_combiner(members)
    model = _stacking_model(seed).fit(logit(member_prob_fake), np.asarray(labels).astype(int))
    return Combiner("stacking", tuple(members), tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]))


def consensus_card(members: Sequence[ZooEntry], name: str = DEFAULT_NAME, *, combiner: str | None = None,
                   seed: int = 0, created: str | None = None,
                   test_in_train: Iterable[str] | None = None) -> tuple[Card, dict[str, pd.DataFrame]]:
    """The consensus entry's card, fitted on the members' stored validation predictions and measured on their
    stored test predictions, and its own prediction tables ({"validation": ..., "test": ...}, the columns of
    test_predictions.csv). `combiner` forces one; by default choose_combiner picks on validation.
    `test_in_train`: the test paths whose bytes also occur in train (the data's, training.evaluate's rule); with
    it the card gets metrics.test_unseen like every evaluated entry."""
    if len(members) < 2:
        raise ZooError("a consensus needs at least two detectors")
    names = [m.name for m in members]
    paths, labels, probs = aligned_predictions(members, "validation")
    scores = cross_validated_scores(labels, probs, seed)
    chosen, why = choose_combiner(scores)
    if combiner is not None:
        if combiner not in COMBINERS:
            raise ZooError(f"combiner must be one of {', '.join(COMBINERS)}, got {combiner!r}")
        chosen, why = combiner, f"chosen by the user (validation would pick {chosen}: {why})"
    fitted = fit_combiner(chosen, labels, probs, names, seed)
    raw = fitted.raw_prob_fake(probs)
    decision = fit_decision(labels, raw)
    val_prob = apply_temperature(raw, decision["temperature"])
    decision |= fit_band(labels, val_prob, decision["threshold"])
    val_spread = spread(probs)
    cutoff = float(np.quantile(val_spread, SPREAD_QUANTILE))

    test_paths, test_labels, test_probs = aligned_predictions(members, "test")
    test_prob = apply_temperature(fitted.raw_prob_fake(test_probs), decision["temperature"])
    decision["band_test"] = band_summary(test_labels, test_prob, tuple(decision["uncertain_band"]))
    test_spread = spread(test_probs)
    first = members[0].card
    trained = first.train
    raw: dict[str, Any] = {
        "name": name, "kind": CONSENSUS_KIND, "architecture": CONSENSUS_KIND, "role": "consensus",
        "description": (f"the {'mean' if chosen == 'mean' else 'logistic stacking'} of {len(names)} models' "
                        "calibrated logits, fitted on validation"),
        "input_shape": list(first.input_shape), "preprocessing": first.preprocessing.to_dict(),
        "params": int(sum(m.card.params for m in members)),
        "size_bytes": int(sum(m.card.size_bytes for m in members)),
        "consensus": {
            "members": names, "combiner": chosen,
            "weights": {n: round(w, 6) for n, w in zip(names, fitted.weights, strict=True)},
            "bias": round(fitted.bias, 6),
            "choice": {"on": f"{CV_FOLDS}-fold cross-validation on the validation split", "scores": scores,
                       "margin": STACKING_MARGIN, "why": why},
            "disagreement": {"statistic": "standard deviation of the members' calibrated logits",
                             "cutoff": round(cutoff, 6), "quantile": SPREAD_QUANTILE,
                             "validation_above": round(float(np.mean(val_spread > cutoff)), 5),
                             "test_above": round(float(np.mean(test_spread > cutoff)), 5)},
            "novelty_rule": "UNCERTAIN when a majority of the members with a believed novelty check flag the image, "
                            "or when the image had to be resized",
        },
        "train": {"fitted_on": "validation", "members": names, "seed": trained.seed or 0,
                  "validation_fraction": 0.1 if trained.validation_fraction is None else trained.validation_fraction,
                  "n_validation": len(paths), "dataset": trained.dataset, "epochs_run": 0, "wall_seconds": 0},
        "decision": decision,
        "metrics": {"validation": binary_metrics(labels, val_prob, decision["threshold"]),
                    "test": binary_metrics(test_labels, test_prob, decision["threshold"])},
        "evaluation": {"threshold": decision["threshold"], "from": "the members' stored test predictions",
                       "test_uncertain_disagreement": round(float(np.mean(test_spread > cutoff)), 5)},
    }
    if test_in_train is not None:
        unseen = ~np.isin(np.asarray(test_paths), list(test_in_train))
        raw["metrics"]["test_unseen"] = binary_metrics(test_labels[unseen], test_prob[unseen], decision["threshold"])
        raw["evaluation"]["test_in_train"] = int((~unseen).sum())
    if created:
        raw["created"] = created
    tables = {"validation": pd.DataFrame({"path": paths, "label": labels, "prob_fake": val_prob}),
              "test": pd.DataFrame({"path": test_paths, "label": test_labels, "prob_fake": test_prob})}
    return parse_card(raw, name), tables


def default_members(entries: Sequence[ZooEntry]) -> list[ZooEntry]:
    """The detectors (model_zoo.roles), never a consensus: what `python -m training.build_consensus` combines."""
    return [entry for entry in detectors(entries) if not entry.card.is_consensus]


def write_consensus(zoo: str | Path | None = None, name: str = DEFAULT_NAME, members: Sequence[str] | None = None, *,
                    combiner: str | None = None, seed: int = 0, created: str | None = None,
                    test_in_train: Iterable[str] | None = None) -> ZooEntry:
    """Fit the consensus of `members` (default: every detector) from their stored predictions and write it as the
    entry `name` (atomically: model_zoo.zoo.staged_entry): card.json, validation_ and test_predictions.csv."""
    entries, _ = list_entries(zoo)
    if members is None:
        chosen = default_members(entries)
    else:
        chosen = [read_entry(member, zoo) for member in dict.fromkeys(members)]
        for entry in chosen:
            if entry.card.is_consensus:
                raise ZooError(f"{entry.path}: a consensus cannot be a member of another")
    if created is None:
        created = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())
    card, tables = consensus_card(chosen, name, combiner=combiner, seed=seed, created=created,
                                  test_in_train=test_in_train)
    with staged_entry(name, zoo) as folder:
        write_card(folder, card)
        for split, file in (("validation", VALIDATION_PREDICTIONS_FILE), ("test", PREDICTIONS_FILE)):
            table = tables[split]
            write_predictions(folder, list(table["path"]), table["label"].to_numpy(), table["prob_fake"].to_numpy(),
                              file)
    return read_entry(name, zoo)
