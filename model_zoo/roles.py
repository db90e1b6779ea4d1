"""Each zoo entry's role: a `detector` answers users; a `study` entry exists to be compared.

Study entries are the augmentation study's arms, seed runs, controls and baselines (lite0_probe: how far
frozen ImageNet features get): several are worse on purpose, so the inspect page, the API's default answer
and `training.predict --model all` use the detectors only. A consensus (model_zoo.consensus) combines the
detectors by default; a study entry joins one only when named (`training.build_consensus --members`) and
validation says it helps: it then counts as any member, through its weight, never as an answer of its own.
The studies page shows every entry, and `all-including-studies` (CLI `--model`, API form field `model`)
asks every model. The card's optional "role" key says which; cards written before it existed
are read by `role_of`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeVar

DETECTOR, STUDY = "detector", "study"
# The zoo's consensus (model_zoo.consensus) combines the detectors: it answers users, but is not one of the
# detectors it combines, so `all` (every detector) leaves it out.
CONSENSUS = "consensus"
ROLES = (DETECTOR, STUDY, CONSENSUS)
ALL_DETECTORS = "all"
ALL_INCLUDING_STUDIES = "all-including-studies"
# `make studies` names its arms <arch>-aug-<augmentation> (dashboard/study_figures.py compares them).
STUDY_ARM_MARK = "-aug-"


class _HasCard(Protocol):
    @property
    def card(self) -> Mapping[str, Any]: ...


WithCard = TypeVar("WithCard", bound=_HasCard)


def role_of(card: Mapping[str, Any]) -> str:
    """The card's role; for a card without one, `study` when it is named like an augmentation arm."""
    if card.get("role") is not None:
        return str(card["role"])
    return STUDY if STUDY_ARM_MARK in str(card.get("name", "")) else DETECTOR


def role_problems(card: Mapping[str, Any]) -> list[str]:
    """A problem when the card names a role that is not one of ROLES (an absent role is fine)."""
    if "role" in card and card["role"] not in ROLES:
        return [f"role must be one of {', '.join(ROLES)}, got {card['role']!r}"]
    return []


def is_detector(item: _HasCard) -> bool:
    """An entry (or loaded model) offered as a detector, not one kept to be compared."""
    return role_of(item.card) == DETECTOR


def detectors(items: Iterable[WithCard]) -> list[WithCard]:
    """The entries (or loaded models) whose role is `detector`, in the given order."""
    return [item for item in items if is_detector(item)]
