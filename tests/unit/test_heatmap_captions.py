"""dashboard.views.heatmap_view.verdict_caption: a heatmap's caption never contradicts the decision shown above it."""

from dashboard.views.heatmap_view import verdict_caption


def test_a_decided_verdict_is_named_with_its_probability():
    assert verdict_caption("cnn_maxpool", 0.91234, "FAKE", "FAKE") == "cnn_maxpool: FAKE (P(FAKE) 0.912)"
    assert verdict_caption("cnn_maxpool", 0.1, "REAL") == "cnn_maxpool: REAL (P(FAKE) 0.100)"


def test_an_abstention_says_uncertain_and_which_side_the_map_explains():
    caption = verdict_caption("zoo_consensus", 0.6, "FAKE", "UNCERTAIN")
    assert caption.startswith("zoo_consensus: UNCERTAIN") and "leaning FAKE" in caption
    assert "P(FAKE) 0.600" in caption


def test_without_a_score_only_the_name_is_shown():
    assert verdict_caption("resnet20", None, None, None) == "resnet20"
