"""The explainability dashboard: `streamlit run streamlit_app.py` (or `make run`).

Reads the model zoo ($MODEL_ZOO_DIR, else model_zoo/entries/) and optionally CIFAKE
($CIFAKE_PATH or the sidebar). Each page is a module under dashboard/pages/.
"""

import streamlit as st

from dashboard.keras_session import keep_compiled_functions
from dashboard.server_settings import warm_up_wanted
from dashboard.views.resources import PAGES, dataset_sidebar, show_zoo_problems, start_warm_up, zoo_entries
from model_zoo import zoo_dir

st.set_page_config(page_title="CIFAKE explainability", page_icon=":material/image_search:", layout="wide")
keep_compiled_functions()  # else Streamlit clears Keras after every run, and each model recompiles on the next

entries, problems = zoo_entries()
if entries and warm_up_wanted():  # the inspect page's models load and compile in the background now, not on the first upload
    start_warm_up(str(zoo_dir()))
# url_path: the addresses users bookmark stay put whatever the page files are called
pages = {
    "Models": [
        st.Page(PAGES["leaderboard"], url_path="leaderboard", title="Leaderboard & compare", icon=":material/leaderboard:",
                default=bool(entries)),
        st.Page(PAGES["generalisation"], url_path="generalisation", title="Generalisation", icon=":material/grid_on:"),
        st.Page(PAGES["model"], url_path="model", title="Model", icon=":material/monitoring:"),
        st.Page(PAGES["errors"], url_path="errors", title="Test-set errors", icon=":material/grid_view:"),
        st.Page(PAGES["inspect"], url_path="inspect_image", title="Inspect an image", icon=":material/image_search:"),
    ],
    "Data & studies": [
        st.Page(PAGES["data"], url_path="data", title="Data", icon=":material/dataset:"),
        st.Page(PAGES["studies"], url_path="studies", title="Studies", icon=":material/science:"),
    ],
    "Help": [st.Page(PAGES["home"], url_path="about_the_zoo", title="About the zoo", icon=":material/info:",
                     default=not entries)],
}
navigation = st.navigation(pages)
dataset_sidebar()
show_zoo_problems(problems)
navigation.run()
