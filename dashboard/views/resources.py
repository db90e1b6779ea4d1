"""Streamlit-side caching and the few widgets every page shares.

Models load once per process (st.cache_resource, keyed by the model file's
path and modification time, so retraining an entry is picked up without a
restart); the dataset loads once per path. Everything else lives in plain modules.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from dashboard.server_settings import PATH_EDIT_ENV, effective_data_path, path_edit_allowed, server_data_path
from model_zoo import (
    LoadedModel,
    ZooEntry,
    ZooProblem,
    list_entries,
    load_model,
    load_usable_models,
    read_entry,
    zoo_dir,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from model_zoo.judge import JudgedImage
    from training.lib.data import Dataset

DATA_KEY = "cifake_path"
PAGES = {
    "home": "dashboard/pages/home_page.py",
    "leaderboard": "dashboard/pages/leaderboard_page.py",
    "generalisation": "dashboard/pages/generalisation_page.py",
    "model": "dashboard/pages/model_page.py",
    "errors": "dashboard/pages/errors_page.py",
    "inspect": "dashboard/pages/inspect_image_page.py",
    "data": "dashboard/pages/data_page.py",
    "studies": "dashboard/pages/studies_page.py",
}
DATA_HELP = (
    "The test-set images come from CIFAKE (Kaggle `birdy654/cifake-real-and-ai-generated-synthetic-images`). "
    "Get it with `python -m training.download` (needs Kaggle credentials) or download the zip from Kaggle, "
    "then start the dashboard with `make run CIFAKE_PATH=/path/to/cifake.zip` (the path is a server setting)."
)


def zoo_entries() -> tuple[list[ZooEntry], list[ZooProblem]]:
    """Valid entries and broken ones; re-read on every run (cards are small) so new models appear."""
    return list_entries()


def show_zoo_problems(problems: list[ZooProblem]) -> None:
    for problem in problems:
        st.warning(f"Zoo entry **{problem.name}** is skipped: {problem.message}", icon=":material/warning:")


def _mtime(entry: ZooEntry) -> int:
    try:
        return entry.model_path.stat().st_mtime_ns
    except OSError:
        return 0


# Keras loads one model at a time: the warm-up thread and a visitor's first page may both be loading.
_LOAD_LOCK = threading.Lock()


@st.cache_resource(show_spinner="Loading model…", max_entries=32)
def _load(name: str, zoo: str, mtime_ns: int):
    with _LOAD_LOCK:
        return load_model(read_entry(name, zoo))


def get_model(entry: ZooEntry):
    """The entry's Keras model, loaded once per process; raises ZooError when it cannot be used."""
    return _load(entry.name, str(entry.path.parent), _mtime(entry))


@st.cache_resource(show_spinner="Measuring latency…", max_entries=64)
def _latency(name: str, zoo: str, mtime_ns: int) -> float:
    from dashboard.verdict_display import measure_latency_ms

    entry = read_entry(name, zoo)
    return measure_latency_ms(_load(name, zoo, mtime_ns), entry.card)


def measured_latency_ms(entries: list[ZooEntry]) -> dict[str, float]:
    """Measured single-image CPU latency per loadable model (cached per process)."""
    usable = loaded_models(entries)
    return {entry.name: round(_latency(entry.name, str(entry.path.parent), _mtime(entry)), 2)
            for entry in entries if entry.name in usable}


def inspect_models(entries: list[ZooEntry], load=None) -> tuple[dict[str, LoadedModel], dict[str, LoadedModel]]:
    """(answering, detectors) on the inspect page: the zoo's consensus first (when it has one), then every detector
    that loads; `load` defaults to loaded_models (which shows a warning per model that will not load)."""
    from model_zoo.roles import detectors
    from model_zoo.zoo import is_consensus

    load = load or loaded_models
    models = load(detectors(entries))
    consensus = load([e for e in entries if is_consensus(e.card)][:1])
    return {**consensus, **models}, models


WARM_UP_THREAD = "inspect-warm-up"
# Set once a visitor's upload waits to be judged: the warm-up then leaves its blank image's evidence and heatmaps to
# that upload (dashboard.warm_start.warm_inspect), instead of sharing the two cores with it.
UPLOAD_WAITING = threading.Event()


def upload_waiting() -> None:
    """The inspect page has an image to judge (the warm-up's blank image can give way to it)."""
    UPLOAD_WAITING.set()


class _QuietWarmUp(logging.Filter):
    """Drops Streamlit's "missing ScriptRunContext" warning from the warm-up thread: it runs outside any page on
    purpose, and each cached model load would otherwise print one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (threading.current_thread().name == WARM_UP_THREAD and "ScriptRunContext" in record.getMessage())


def _warm_up(zoo: str) -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor

    from dashboard.warm_start import compile_as_loaded, warm_inspect, without_cycle_collection

    log = logging.getLogger("dashboard.warm_up")
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_QuietWarmUp())
    try:
        start = time.perf_counter()
        entries, _ = list_entries(zoo)
        with without_cycle_collection(), ThreadPoolExecutor(1, thread_name_prefix="warm-up-first-runs") as first_runs:
            load = compile_as_loaded(get_model, first_runs)
            answering, _ = inspect_models(entries, load=lambda chosen: load_usable_models(chosen, load=load)[0])
        log.info("warm-up: loaded and compiled %d models in %.1f s", len(answering), time.perf_counter() - start)
        explainer = next((name for name, m in answering.items() if getattr(m.model, "combines_members", False)),
                         next(iter(answering), None))
        warm_inspect(answering, explainer, say=log.info, wanted=lambda: not UPLOAD_WAITING.is_set())
    except Exception:  # noqa: BLE001 - a failed warm-up only costs the first visitor time; the page reports errors
        log.exception("warm-up failed")


@st.cache_resource(show_spinner=False)
def start_warm_up(zoo: str) -> threading.Thread:
    """Once per process (per zoo): load and compile the inspect page's models in a background thread, so the first
    upload answers at once and the first page never waits for it."""
    thread = threading.Thread(target=_warm_up, args=(zoo,), name=WARM_UP_THREAD, daemon=True)
    thread.start()
    return thread


def still_warming_up() -> bool:
    """Whether the inspect page's warm-up (begun when the app started) is still loading and compiling."""
    from dashboard.server_settings import warm_up_wanted

    return warm_up_wanted() and start_warm_up(str(zoo_dir())).is_alive()


def loaded_models(entries: list[ZooEntry]) -> dict[str, LoadedModel]:
    """name -> LoadedModel for every entry whose model loads (model_zoo.load_usable_models); the rest are warnings."""
    loaded, problems = load_usable_models(entries, load=get_model)
    for problem in problems:
        st.warning(problem.message)
    return loaded


def require_models(entries: list[ZooEntry]) -> bool:
    """False (with a pointer to the help page) when the zoo is empty."""
    if entries:
        return True
    st.info(f"The model zoo at `{zoo_dir()}` is empty, so there is nothing to show here yet.", icon=":material/info:")
    st.page_link(PAGES["home"], label="How to fill the zoo", icon=":material/arrow_forward:")
    return False


def dataset_sidebar() -> None:
    """The CIFAKE path in the sidebar: read-only ($CIFAKE_PATH, set by the server) unless the server
    allows visitors to edit it (dashboard.server_settings); pages read it via dataset()."""
    if path_edit_allowed():
        if DATA_KEY not in st.session_state:
            st.session_state[DATA_KEY] = server_data_path()
        st.sidebar.text_input("CIFAKE dataset (zip or folder)", key=DATA_KEY, placeholder="/path/to/cifake.zip",
                              help="Needed for test-set images on the errors and Data pages. This server lets "
                                   f"visitors change the path ({PATH_EDIT_ENV}=1). " + DATA_HELP)
    else:
        path = server_data_path()
        st.sidebar.caption(f"Dataset: `{path}`" if path else "Dataset: none configured",
                           help="Set by whoever runs the dashboard (`make run CIFAKE_PATH=...`); visitors "
                                f"cannot change it unless the server is started with {PATH_EDIT_ENV}=1.")
    st.sidebar.caption(f"Zoo: `{zoo_dir()}`")


@st.cache_resource(show_spinner="Loading CIFAKE (decoded once, then cached)…", max_entries=2)
def _dataset(path: str) -> Dataset:
    from training.lib.data import load_cifake

    return load_cifake(path, progress=lambda _: None)


def dataset_path() -> str:
    """The server's $CIFAKE_PATH; a visitor's sidebar entry only where the server allows it."""
    return effective_data_path(st.session_state.get(DATA_KEY))


def dataset() -> Dataset | None:
    """The CIFAKE Dataset for the sidebar path, or None after showing why it is not available."""
    from training.lib.data import DatasetError

    path = dataset_path()
    if not path:
        st.info("No dataset configured. " + DATA_HELP, icon=":material/dataset:")
        return None
    if not Path(path).expanduser().exists():
        st.warning(f"`{path}` does not exist. " + DATA_HELP)
        return None
    try:
        return _dataset(str(Path(path).expanduser()))
    except DatasetError as exc:
        st.warning(f"Cannot use `{path}`: {exc}")
        return None


@st.cache_resource(show_spinner="Measuring image attributes (once per dataset, then cached on disk)…", max_entries=2)
def _attributes(path: str, _data: Dataset):
    from training.lib.data import load_attributes

    return load_attributes(_data, progress=lambda _: None)


def image_attributes(data: Dataset):
    """The dataset's image attributes (training.lib.data.load_attributes: content class, properties, duplicates),
    one row per train and test image, keyed by split and path; measured once per dataset."""
    return _attributes(str(data.source), data)


@st.cache_resource(show_spinner="Measuring the test images' attributes (once per folder)…", max_entries=4)
def _folder_test_attributes(folder: str, paths: tuple[str, ...]):
    from dashboard.misclassified import FolderTestImages

    return FolderTestImages(folder).attributes(paths)


def folder_test_attributes(folder: str, paths: Sequence[str]):
    """The attributes of a labelled folder's test images `paths` (content class from its sub-folders, when it has
    them, and the measured properties), measured once per process (dashboard.misclassified.FolderTestImages)."""
    return _folder_test_attributes(str(Path(folder).expanduser()), tuple(paths))


def test_images_by_path(data: Dataset) -> dict[str, int]:
    """Index of each test image path in the dataset's test split (cached on the dataset object)."""
    index = getattr(data, "_dashboard_test_index", None)
    if index is None:
        index = {path: i for i, path in enumerate(data.test.paths)}
        data._dashboard_test_index = index
    return index


_JUDGED_KEY = "_judged_uploads"


def judged(name: str, data: bytes, models: dict[str, LoadedModel],
           override: float | dict[str, float] | None = None) -> JudgedImage:
    """model_zoo.judge.judge, remembered per session for (file, models, override): widget changes do not re-decode
    or rerun."""
    import hashlib
    from collections import OrderedDict

    from model_zoo.judge import judge

    cache: OrderedDict = st.session_state.setdefault(_JUDGED_KEY, OrderedDict())
    # A recalibrated card (new band or novelty cut-off) must not reuse verdicts made with the old one.
    models_key = tuple((m.name, m.card.created or "", str(m.card.decision),
                        str(m.card.novelty.cutoff if m.card.novelty else None)) for m in models.values())
    override_key = tuple(sorted(override.items())) if isinstance(override, dict) else override  # max-FPR: per model
    key = (name, hashlib.sha1(data).hexdigest(), models_key, override_key)
    if key not in cache:
        cache[key] = judge(data, models.values(), name=name, override=override)
        while len(cache) > 64:
            cache.popitem(last=False)
    return cache[key]


@st.cache_data(max_entries=16, show_spinner=False)
def preview(data: bytes, name: str):
    """The upload as a screen-sized picture (inference.display_image), cached across reruns."""
    from dashboard.verdict_display import display_image

    return display_image(data, name=name)
