"""Image attributes and slices as plain functions: Wilson intervals, the weakest-slice sentence, the JPEG quality
estimate, perceptual near-duplicates and content classes."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from model_zoo import image_attributes as ia
from model_zoo import slice_errors as se

# ---- Wilson intervals -------------------------------------------------------------------------------------


def test_wilson_interval_matches_the_published_values():
    low, high = se.wilson_interval(np.array([5, 0, 51]), np.array([10, 10, 1000]))
    assert low[0] == pytest.approx(0.2366, abs=1e-4) and high[0] == pytest.approx(0.7634, abs=1e-4)
    assert low[1] == 0.0 and high[1] == pytest.approx(0.2775, abs=1e-4)
    assert low[2] == pytest.approx(0.0390, abs=1e-4) and high[2] == pytest.approx(0.0665, abs=1e-4)


def test_wilson_interval_narrows_with_more_images_and_is_wide_open_without_any():
    small = se.wilson_interval(3, 30)
    large = se.wilson_interval(300, 3000)
    assert large[1] - large[0] < small[1] - small[0]
    assert se.wilson_interval(0, 0) == (0.0, 1.0)


# ---- slices and the sentence --------------------------------------------------------------------------------

CARD = {"decision": {"threshold": 0.5}}


def _data(real_errors: dict[str, int], fake_errors: dict[str, int], per_class: int = 400, seed: int = 0):
    """Predictions and test attributes: `per_class` images per content class and label, the given number wrong."""
    rng = np.random.default_rng(seed)
    rows = []
    for content in ("bird", "cat", "deer", "ship"):
        for label, errors in ((0, real_errors.get(content, 0)), (1, fake_errors.get(content, 0))):
            wrong = np.zeros(per_class, bool)
            wrong[:errors] = True
            for i, is_wrong in enumerate(wrong):
                called_fake = (label == 1) != is_wrong
                rows.append({"path": f"test/{'FAKE' if label else 'REAL'}/{i} ({content}).jpg", "label": label,
                             "prob_fake": 0.9 if called_fake else 0.1, "content": content,
                             "brightness": rng.random(), "exact_other_split": False, "near_other_split": False})
    frame = pd.DataFrame(rows)
    predictions = frame[["path", "label", "prob_fake"]]
    test = frame.drop(columns=["prob_fake"]).set_index("path")
    for name in ("contrast", "colourfulness", "high_freq", "jpeg_quality"):
        test[name] = 75.0  # constant: no slices
    return predictions, test


def test_slice_table_counts_each_slices_errors_per_true_class():
    predictions, test = _data({"bird": 40}, {"cat": 8})
    table = se.slice_table(predictions, test, CARD)
    bird_real = table[(table["by"] == "content") & (table["value"] == "bird") & (table["true_class"] == "REAL")]
    assert bird_real[["n", "errors"]].iloc[0].tolist() == [400, 40]
    assert se.overall_rate(table, "REAL") == pytest.approx(40 / 1600)
    assert se.overall_rate(table, "FAKE") == pytest.approx(8 / 1600)
    assert set(table["by"]) == {"all", "content", "brightness", "duplicates"}  # constant properties make no slices
    assert (table[table["by"] == "brightness"]["value"].str.startswith("Q")).all()


def test_the_sentence_names_the_weakest_slices_from_their_numbers_and_changes_with_them():
    predictions, test = _data({"bird": 40, "cat": 30, "deer": 2}, {})
    sentence = se.weakest_sentence("m", se.slice_table(predictions, test, CARD))
    assert sentence == ("m calls REAL birds and cats FAKE most often: 10.0% and 7.5%, against 4.5% of all REAL "
                        "images.")
    predictions, test = _data({"ship": 48, "deer": 2}, {"bird": 30})
    sentence = se.weakest_sentence("m", se.slice_table(predictions, test, CARD))
    assert "REAL ships FAKE most often: 12.0%, against 3.1% of all REAL images" in sentence
    assert "misses FAKE birds most often: 7.5%, against 1.9% of all FAKE images" in sentence


def test_the_sentence_names_content_classes_before_property_bins_and_bins_when_no_class_qualifies():
    predictions, test = _data({"bird": 40, "cat": 30}, {})
    called_fake = predictions.set_index("path")["prob_fake"].to_numpy() > 0.5
    test["brightness"] = np.where(called_fake & (test["label"] == 0), 0.01, 0.5 + test["brightness"])  # errors dark
    table = se.slice_table(predictions, test, CARD)
    assert se.weak_slices(table, "REAL").iloc[0]["by"] == "brightness"  # the worst slice: the darkest quarter
    assert "calls REAL birds and cats FAKE" in se.weakest_sentence("m", table)
    no_content = table[table["by"] != "content"]
    assert "calls REAL images in the lowest quarter of brightness (" in se.weakest_sentence("m", no_content)


def test_the_sentence_claims_nothing_when_no_interval_lies_above_the_overall_rate():
    predictions, test = _data({"bird": 5, "cat": 4, "deer": 5, "ship": 4}, {"bird": 1})
    table = se.slice_table(predictions, test, CARD)
    assert se.weak_slices(table, "REAL").empty
    sentence = se.weakest_sentence("m", table)
    assert sentence.startswith("No slice of m's test images") and not re.search(r"\d\.\d%|birds", sentence)


def test_the_model_threshold_decides_what_counts_as_an_error():
    predictions, test = _data({"bird": 40}, {})
    at_high = se.slice_table(predictions, test, {"decision": {"threshold": 0.95}})
    assert se.overall_rate(at_high, "REAL") == 0.0 and se.overall_rate(at_high, "FAKE") == 1.0


def test_predictions_of_other_images_are_refused_by_name():
    predictions, test = _data({}, {})
    predictions.loc[0, "path"] = "test/REAL/elsewhere.jpg"
    with pytest.raises(ValueError, match="elsewhere.jpg"):
        se.slice_table(predictions, test, CARD)


def test_quantile_values_make_quartiles_and_none_for_a_constant():
    values = pd.Series(np.arange(100, dtype=float))
    bins = se.quantile_values(values)
    assert bins.nunique() == 4 and bins.iloc[0].startswith("Q1 ") and bins.iloc[-1].startswith("Q4 ")
    assert (bins.value_counts() == 25).all()
    assert se.quantile_values(pd.Series([3.0] * 10)) is None


# ---- measured properties ---------------------------------------------------------------------------------------

def _smooth_image(seed: int, size: int = 32) -> np.ndarray:
    """A natural-looking image: low-resolution noise upsampled (JPEG and hashes behave as on photos)."""
    small = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.mark.parametrize("quality", [15, 40, 50, 62, 75, 88, 95])
def test_jpeg_quality_is_read_back_from_the_quantisation_tables(quality):
    assert ia.jpeg_quality(_jpeg(_smooth_image(quality), quality)) == quality


def test_jpeg_quality_is_nan_for_a_png():
    buffer = io.BytesIO()
    Image.fromarray(_smooth_image(0)).save(buffer, "PNG")
    assert np.isnan(ia.jpeg_quality(buffer.getvalue()))


def test_measured_properties_order_images_as_their_definitions_do():
    grey_dark = np.full((1, 32, 32, 3), 40, np.uint8)
    grey_light = np.full((1, 32, 32, 3), 200, np.uint8)
    red = np.zeros((1, 32, 32, 3), np.uint8)
    red[..., 0] = 255
    checker = ((np.indices((32, 32)).sum(axis=0) % 2) * 255).astype(np.uint8)[None, ..., None].repeat(3, axis=3)
    measured = ia.measure(np.concatenate([grey_dark, grey_light, red, checker, _smooth_image(1)[None]]))
    assert measured["brightness"][0] < measured["brightness"][1]
    assert measured["contrast"][0] == pytest.approx(0, abs=1e-12)
    assert measured["contrast"][3] > measured["contrast"][4] > 0
    assert measured["colourfulness"][0] == 0
    assert measured["colourfulness"][2] == pytest.approx(0.3 * np.hypot(255, 127.5))  # flat red: 0.3 x mean only
    assert measured["high_freq"][3] == pytest.approx(1.0) and measured["high_freq"][4] < 0.2
    assert measured["high_freq"][0] == 0.0


# ---- duplicates -------------------------------------------------------------------------------------------------

def _decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_a_shifted_resaved_copy_is_a_near_duplicate_and_an_unrelated_image_is_not():
    original = _smooth_image(7)
    shifted = np.roll(original, (1, 1), axis=(0, 1))
    copy = _decoded(_jpeg(shifted, 70))
    others = [_smooth_image(seed) for seed in range(100, 140)]
    images = np.stack([original, copy, *others])
    hashes = ia.perceptual_hash(images)
    assert (0, 1) not in {tuple(pair) for pair in ia.near_pairs(hashes).tolist()}  # the plain hash misses a shift
    pairs = {tuple(pair) for pair in ia.near_pairs(hashes, ia.shifted_hashes(images)).tolist()}
    assert (0, 1) in pairs
    assert not {pair for pair in pairs if 0 in pair or 1 in pair} - {(0, 1)}


def test_near_pairs_finds_exactly_what_a_brute_force_comparison_finds():
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2**63, 60, dtype=np.int64)
    flips = rng.integers(0, 64, (60, 6))
    variants = np.array([int(h) ^ int(sum(1 << int(b) for b in set(f[: i % 7]))) for i, (h, f) in
                         enumerate(zip(base, flips, strict=True))], dtype=np.uint64).view(np.int64)
    hashes = np.concatenate([base, variants])
    values = hashes.view(np.uint64)
    distance = np.bitwise_count(values[:, None] ^ values[None, :])
    expected = {(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(distance <= ia.NEAR_BITS, 1)), strict=True)}
    assert {tuple(pair) for pair in ia.near_pairs(hashes).tolist()} == expected
    assert len(expected) >= 30
    shifted = np.stack([np.roll(hashes, 1), np.roll(hashes, 2)], axis=1)  # stand-ins for the shifted hashes
    also = set()
    for v in range(2):
        d = np.bitwise_count(shifted[:, v].view(np.uint64)[:, None] ^ values[None, :])
        also |= {(min(int(i), int(j)), max(int(i), int(j))) for i, j in zip(*np.nonzero(d <= ia.NEAR_BITS), strict=True)
                 if i != j}
    assert {tuple(pair) for pair in ia.near_pairs(hashes, shifted).tolist()} == expected | also


def test_duplicate_columns_and_facts_count_copies_within_and_across_splits():
    split = np.array(["train", "train", "train", "test", "test", "test"])
    label = np.array([1, 1, 0, 1, 1, 0])
    sha1 = np.array(["a", "a", "b", "a", "c", "d"])
    phash = np.array([0, 0, -1, 0, 0b1111, -1 ^ 1], dtype=np.int64)  # 0 and 15 are 4 bits apart: near
    table = pd.DataFrame({"split": split, "label": label, "sha1": sha1})
    columns = ia.duplicate_columns(split, label, sha1, phash)
    assert columns["exact_copies"].tolist() == [1, 1, 0, 0, 0, 0]
    assert columns["exact_other_split"].tolist() == [True, True, False, True, False, False]
    assert columns["near_copies"].tolist() == [1, 1, 0, 1, 1, 0]
    assert columns["near_other_split"].all() and not columns["near_other_label"].any()
    label[5] = 1  # now near a REAL train image with the other label
    assert ia.duplicate_columns(split, label, sha1, phash)["near_other_label"].tolist() == [0, 0, 1, 0, 0, 1]
    facts = ia.duplicate_facts(pd.concat([table, columns], axis=1))
    assert facts["train/FAKE extra copies"] == 1 and facts["test/FAKE in train"] == 1 and facts["test/REAL in train"] == 0


# ---- content classes ---------------------------------------------------------------------------------------------

def test_cifake_content_follows_the_file_name_convention():
    assert ia.cifake_content("test/FAKE/0 (10).jpg") == "truck"
    assert ia.cifake_content("train/REAL/1234 (3).jpg") == "bird"
    assert ia.cifake_content("test/REAL/0001.jpg") == "airplane"


def test_folder_content_is_the_sub_folder_between_split_and_class_folders():
    classes, splits = {"0_real", "1_fake", "real", "fake"}, {"train", "test"}
    assert ia.folder_content("progan/train/car/0_real/x.png", classes, splits) == "car"
    assert ia.folder_content("car/1_fake/x.png", classes, splits) == "car"
    assert ia.folder_content("test/REAL/x.png", classes, splits) == ""
    assert ia.folder_content("REAL/x.png", classes, splits) == ""
    assert ia.informative(["data", "data", ""]) == ["", "", ""]
    assert ia.informative(["car", "cat"]) == ["car", "cat"]


# ---- the dashboard's functions ---------------------------------------------------------------------------------

def test_the_model_pages_table_and_chart_show_each_slices_rate_and_interval():
    from dashboard import slice_figures as sf

    predictions, test = _data({"bird": 40, "cat": 30}, {"ship": 12})
    table = se.slice_table(predictions, test, CARD)
    rows = sf.slice_rows(table, "content")
    assert rows.iloc[0, 0] == "all test images" and list(rows.iloc[1:, 0]) == ["bird", "cat", "deer", "ship"]
    assert rows.iloc[1]["REAL called FAKE (95% interval)"].startswith("10.0% (")
    assert rows.iloc[4]["FAKE missed (95% interval)"].startswith("3.0% (") and rows.iloc[4]["FAKE images"] == 400
    figure = sf.slice_figure(table, "content")
    real = next(trace for trace in figure.data if trace.name == "REAL called FAKE")
    assert list(real.x) == ["bird", "cat", "deer", "ship"] and real.y[0] == pytest.approx(0.1)
    bird = table[(table["by"] == "content") & (table["value"] == "bird") & (table["true_class"] == "REAL")].iloc[0]
    assert real.error_y.array[0] == pytest.approx(bird["ci_high"] - 0.1)
    assert real.error_y.arrayminus[0] == pytest.approx(0.1 - bird["ci_low"])
    assert sf.slice_choices(table) == ["content", "brightness", "duplicates"]


def test_the_data_pages_content_balance_and_samples_come_from_the_attributes():
    from dashboard import slice_figures as sf

    attributes = pd.DataFrame({
        "split": ["train"] * 4 + ["test"] * 6, "label": [0, 1, 0, 1, 0, 0, 1, 1, 0, 1],
        "content": ["cat", "cat", "dog", "dog", "cat", "cat", "cat", "dog", "dog", "dog"]})
    balance = sf.content_balance(attributes)
    assert list(balance.columns) == ["train REAL", "train FAKE", "test REAL", "test FAKE"]
    assert balance.loc["cat"].tolist() == [1, 1, 2, 1] and balance.loc["dog"].tolist() == [1, 1, 1, 2]
    samples = sf.content_samples(attributes, "test", 1, count=5)
    assert {k: v.tolist() for k, v in samples.items()} == {"cat": [2], "dog": [3, 5]}  # positions in the test split
    assert sf.content_balance(attributes.assign(content="")).empty


def test_the_duplicate_summary_states_the_facts_it_is_given():
    from dashboard import slice_figures as sf

    text = sf.duplicate_summary({"test/REAL in train": 0, "test/FAKE in train": 378, "train/FAKE extra copies": 920,
                                 "test/FAKE extra copies": 38, "train/REAL extra copies": 0, "test near copies": 5})
    assert "378 test FAKE image(s) are byte-identical" in text and "920 extra exact copies in train/FAKE" in text
    assert "train/REAL" not in text and "5 test images have a near copy" in text
