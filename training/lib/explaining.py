"""Explain verdicts in words for image files: the library behind `python -m training.explain`.

Each image is judged as everywhere else (model_zoo.judge), then tested by model_zoo.evidence under the model that
answers (`zoo`: the consensus; or the one named), and printed as one JSON record: the file, the verdict, the
sentences and stability notes (model_zoo.evidence_words), every test's P(FAKE) and the smallest change that flips
the verdict. A file that cannot be decoded gets {"file", "error"} and the run goes on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from model_zoo.evidence import evidence_for
from model_zoo.judge import judge_images
from model_zoo.selection import caching_loader, load_choice


def explain_files(paths: Sequence[str], choice: str, zoo: str | os.PathLike | None = None,
                  warn=print) -> Iterator[dict[str, Any]]:
    """One record per path, in order: the answering model's verdict, its evidence tests and their sentences."""
    models = load_choice(choice, zoo, warn=warn, load=caching_loader())
    answering = models[0]  # `zoo`: the consensus (its members are inside it); a NAME: that model
    for path in paths:
        judged = judge_images([path], [answering], [str(path)])[0]
        if judged.error:
            yield {"file": str(path), "error": judged.error}
            continue
        yield {"file": str(path), **evidence_for(answering, judged).as_dict()}
