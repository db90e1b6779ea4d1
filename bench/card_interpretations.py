"""How often one upload's path interprets the model card: parses of card.json, and computations of each derived fact.

    python -m bench.card_interpretations [ENTRY]

Judges one generated image twice with the shipped entry (default cnn_strided) through model_zoo.judge.judge, the
path of the dashboard, the API and the predict CLI (judge -> preprocessing -> crops -> novelty -> input check ->
verdicts). The card is parsed once, when the entry is read; each derived fact (model_zoo.card.Card's cached
properties: crop_spec, input_size, threshold, ...) is worked out at most once per card, so the second upload
works out none. Before the typed card (issue 27) the same upload read the card dict 79 times and worked out
crop_spec(card) 10 times, on every upload.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections import Counter
from functools import cached_property

import numpy as np
from PIL import Image

import bench.common  # noqa: F401  (quiet TensorFlow)


def _count_card_work(counts: Counter) -> None:
    """Wrap Card's parse and each cached property so that every computation is counted."""
    from model_zoo.card import Card

    for name, attribute in list(vars(Card).items()):
        if isinstance(attribute, cached_property):
            def counted(self, _name=name, _func=attribute.func):
                counts[_name] += 1
                return _func(self)

            replacement = cached_property(counted)
            replacement.__set_name__(Card, name)
            setattr(Card, name, replacement)
    parse = Card.from_dict.__func__

    def counted_parse(cls, raw):
        counts["parse card.json"] += 1
        return parse(cls, raw)

    Card.from_dict = classmethod(counted_parse)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.card_interpretations", description=__doc__.splitlines()[0])
    parser.add_argument("entry", nargs="?", default="cnn_strided", help="the shipped entry to judge with")
    args = parser.parse_args(argv)
    counts: Counter = Counter()
    _count_card_work(counts)
    from model_zoo import LoadedModel, load_model, read_entry
    from model_zoo.judge import judge

    entry = read_entry(args.entry)
    loaded = LoadedModel(entry, load_model(entry))
    print(f"reading the entry: {sum(counts.values())} card interpretations ({dict(counts)})")
    image = (np.random.default_rng(0).random((48, 40, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    for upload in (1, 2):
        counts.clear()
        judge(buffer.getvalue(), [loaded], name="upload.png")
        most = max(counts.values(), default=0)
        print(f"upload {upload}: {sum(counts.values())} card interpretations, each fact at most {most} time(s): "
              f"{dict(sorted(counts.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
