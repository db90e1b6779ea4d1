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

from collections.abc import Iterable
from typing import Protocol, TypeVar

from model_zoo.card import CONSENSUS_ROLE, DETECTOR, ROLES, STUDY, STUDY_ARM_MARK, Card

# The roles (model_zoo.card owns them): the zoo's consensus (model_zoo.consensus) combines the detectors; it answers
# users, but is not one of the detectors it combines, so `all` (every detector) leaves it out.
CONSENSUS = CONSENSUS_ROLE
__all__ = ["DETECTOR", "ROLES", "STUDY", "STUDY_ARM_MARK"]
ALL_DETECTORS = "all"
ALL_INCLUDING_STUDIES = "all-including-studies"


class _HasCard(Protocol):
    @property
    def card(self) -> Card: ...


WithCard = TypeVar("WithCard", bound=_HasCard)


def role_of(card: Card) -> str:
    """card.role_name (kept for callers): the card's role; a card without one is a study when named like an
    augmentation arm (`make studies` names its arms <arch>-aug-<augmentation>)."""
    return card.role_name


def is_detector(item: _HasCard) -> bool:
    """An entry (or loaded model) offered as a detector, not one kept to be compared."""
    return item.card.is_detector


def detectors(items: Iterable[WithCard]) -> list[WithCard]:
    """The entries (or loaded models) whose role is `detector`, in the given order."""
    return [item for item in items if is_detector(item)]
