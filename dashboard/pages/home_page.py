"""About the zoo: what the dashboard reads and how to fill it (the opening page while the zoo is empty)."""

import streamlit as st

from dashboard.views.resources import DATA_HELP, PAGES, zoo_entries
from model_zoo import zoo_dir

entries, problems = zoo_entries()
st.title("CIFAKE explainability dashboard")
st.markdown(
    "This dashboard compares image classifiers that tell **REAL** photos from **AI-generated (FAKE)** ones, "
    "trained on [CIFAKE](https://www.kaggle.com/datasets/birdy654/cifake-real-and-ai-generated-synthetic-images) "
    "(60,000 real CIFAR-10 images and 60,000 Stable Diffusion images, 32x32 pixels). It shows each model's metrics, "
    "its mistakes on the test set, and heatmaps of where it looks on any image you upload."
)

st.header("The model zoo")
st.markdown(
    f"The dashboard reads trained models from the **model zoo**, a folder with one sub-folder per model "
    f"(`model.keras`, `card.json` describing the model and how to feed it, `history.csv` with one row per epoch, "
    f"and `test_predictions.csv` after evaluation). It is at `{zoo_dir()}`; set `MODEL_ZOO_DIR` to use another one."
)
if entries:
    st.success(f"The zoo holds {len(entries)} model(s): " + ", ".join(f"`{e.name}`" for e in entries))
    st.page_link(PAGES["leaderboard"], label="Open the leaderboard", icon=":material/leaderboard:")
else:
    st.info("The zoo is empty: no model has been trained yet.", icon=":material/inventory_2:")
if problems:
    st.warning(f"{len(problems)} entry folder(s) could not be read; see the warnings above.")

st.header("How to fill it")
st.markdown(
    "1. Get the dataset: `python -m training.download` (Kaggle credentials needed), or download "
    "`birdy654/cifake-real-and-ai-generated-synthetic-images` from Kaggle as a zip.\n"
    "2. Train and evaluate the three custom CNNs (max pooling, average pooling, strided convolutions) into the zoo:"
)
st.code("make zoo CIFAKE_PATH=/path/to/cifake.zip", language="bash")
st.markdown("   or one model at a time:")
st.code(
    "python -m training.train --arch cnn_maxpool --data /path/to/cifake.zip\n"
    "python -m training.evaluate cnn_maxpool --data /path/to/cifake.zip",
    language="bash",
)
st.markdown("3. Reload this page. Point the dashboard at the dataset too (for test-set images):")
st.caption(DATA_HELP)
