"""model_zoo.judge: one decode per model input, one forward pass per model, and the same verdict at every entry point."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import model_zoo.judge as judging
from model_zoo import UNIT_RANGE, LoadedModel, ZooEntry, list_entries, load_usable_models
from model_zoo.judge import decode_images, join_decoded, judge, judge_images, model_lock
from tests.cards import typed


def _png(size: tuple[int, int], value: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (value, value, value)).save(buffer, format="PNG")
    return buffer.getvalue()


def _card_only(name: str, side: int, resize: str = "area") -> LoadedModel:
    """A loaded model for decoding only: decode_images reads cards, never models."""
    card = typed(name=name, input_shape=[side, side, 3], preprocessing={**UNIT_RANGE, "resize": resize})
    return LoadedModel(ZooEntry(name, Path("/nonexistent") / name, card), model=None)


def test_each_image_is_decoded_once_per_distinct_model_input(monkeypatch):
    calls = []
    real = judging.decode_for_card
    monkeypatch.setattr(judging, "decode_for_card", lambda source, card, name=None: calls.append(
        tuple(card.input_shape)) or real(source, card, name=name))
    models = [_card_only("a", 32), _card_only("b", 32), _card_only("c", 64), _card_only("d", 32, "bilinear")]
    decoded = decode_images([_png((100, 80)), _png((40, 40))], models)
    assert len(calls) == 2 * 3  # a and b see identical inputs: one decode serves both
    assert {key: images.shape for key, images in decoded.inputs.items()} == {
        ((32, 32), "area"): (2, 32, 32, 3), ((64, 64), "area"): (2, 64, 64, 3), ((32, 32), "bilinear"): (2, 32, 32, 3)}
    assert decoded.sizes == ((100, 80), (40, 40)) and decoded.names == ("upload", "upload")


def test_a_file_that_will_not_decode_is_an_error_in_its_place_and_parts_join_in_order():
    models = [_card_only("a", 32)]
    first = decode_images([_png((32, 32), 10), b"not an image"], models, names=["one.png", "two.png"])
    second = decode_images([b"", _png((32, 32), 200)], models, names=["three.png", "four.png"])
    assert first.good == (0,) and "two.png" in first.errors[1] and "three.png" in second.errors[0]
    whole = join_decoded([first, second])
    assert whole.names == ("one.png", "two.png", "three.png", "four.png") and whole.good == (0, 3)
    assert set(whole.errors) == {1, 2} and len(whole.provenance) == 4
    pixels = whole.inputs[((32, 32), "area")]
    assert pixels.shape == (2, 32, 32, 3) and (pixels[0] == 10).all() and (pixels[1] == 200).all()


def test_an_unexpected_decoder_failure_is_the_files_error_not_an_exception(monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("decoder surprise")

    monkeypatch.setattr(judging, "decode_for_card", explode)
    decoded = decode_images([_png((32, 32))], [_card_only("a", 32)], names=["x.png"])
    assert decoded.errors == {0: "x.png: could not decode image (RuntimeError)"} and decoded.good == ()


def test_one_lock_per_model():
    one, other = object.__new__(type("M", (), {})), object.__new__(type("M", (), {}))
    assert model_lock(one) is model_lock(one) and model_lock(one) is not model_lock(other)
    assert isinstance(model_lock(one), type(threading.Lock()))


@pytest.fixture(scope="module")
def loaded(trained_zoo) -> dict[str, LoadedModel]:
    return load_usable_models(list_entries(trained_zoo)[0])[0]


def test_a_batch_is_one_forward_pass_per_model_and_scores_like_one_image_at_a_time(loaded, monkeypatch):
    images = [_png((32, 32), 40), b"broken", _png((64, 48), 220), _png((32, 32), 130)]
    alone = [judge(data, loaded.values()) for data in images]
    passes = []
    real = judging.predict_with_novelty
    monkeypatch.setattr(judging, "predict_with_novelty", lambda model, batch, card, stats: passes.append(
        len(batch)) or real(model, batch, card, stats))
    together = judge_images(images, loaded.values(), names=["a", "b", "c", "d"])
    assert passes == [3] * len(loaded)  # every model scores the three good images at once
    assert [j.name for j in together] == ["a", "b", "c", "d"] and together[1].error and not together[1].verdicts
    assert all([v.model for v in j.verdicts] == list(loaded) for j in together if not j.error)
    for single, batched in zip(alone, together, strict=True):
        for one, many in zip(single.verdicts, batched.verdicts, strict=True):
            assert many.prob_fake == pytest.approx(one.prob_fake, abs=1e-6) and many.decision == one.decision
            # Features differ in the last bits between batch sizes, so novelty scores do too.
            assert many.input_check.novelty == pytest.approx(one.input_check.novelty, rel=1e-4)
            assert (many.input_check.width, many.input_check.height) == (one.input_check.width, one.input_check.height)
    assert together[2].size == (64, 48) and together[2].verdicts[0].input_check.resampled
    assert all(seen.shape == (32, 32, 3) for seen in together[0].seen.values())


def test_every_entry_point_gives_the_same_verdict(loaded, trained_zoo, client, tmp_path):
    """The predict CLI's JSON record, the API's verdict and the inspect page's download are one record."""
    from dashboard.verdict_display import verdicts_json
    from training.predict import main

    photo = tmp_path / "photo.png"
    photo.write_bytes(_png((64, 48), 170))
    out = tmp_path / "rows.jsonl"
    assert main([str(photo), "--zoo", str(trained_zoo), "--model", "all", "--out", str(out)]) == 0
    cli = {r["model"]: r for r in map(json.loads, out.read_text().splitlines())}
    api = {v["model"]: v for v in client.post("/predict", data={"image": (io.BytesIO(photo.read_bytes()), "photo.png")})
           .get_json()["verdicts"]}
    page = {m["model"]: m for m in json.loads(verdicts_json([judge(photo.read_bytes(), loaded.values())]))["images"][0]
            ["models"]}
    assert set(cli) == set(api) == set(page) == set(loaded)

    def comparable(record: dict) -> dict:  # the time taken differs from call to call; nothing else may
        return {k: v for k, v in record.items() if k not in ("inference_time_ms", "path", "provenance")}

    for name in loaded:
        assert comparable(cli[name]) == comparable(api[name]) == comparable(page[name])
        assert cli[name]["input_check"]["shrink_factor"] == 2.0 and "model_version" in cli[name]
    assert np.isfinite(cli[next(iter(loaded))]["inference_time_ms"])
