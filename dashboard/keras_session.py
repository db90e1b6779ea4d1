"""Keep TensorFlow's compiled functions from one Streamlit rerun to the next.

After every script run, Streamlit calls `keras.backend.clear_session()`
(`streamlit.runtime.scriptrunner.script_runner._clean_problem_modules`), a remedy from TensorFlow 1's graph sessions.
Under Keras 3 that empties TensorFlow's kernel cache, so TensorFlow optimised every model's compiled pass
(model_zoo.forward) again before its next use:
- about 1.3 s more on every upload and every widget change of the inspect page (8 models);
- the warm-up's work (dashboard.warm_start) was lost as soon as the first page had run.

Nothing here needs that clearing: the dashboard loads each model once per process (st.cache_resource) and never
builds one per run. Matplotlib's figures are still closed after each run, as Streamlit does.
"""

from __future__ import annotations

import sys


def _close_figures() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


_close_figures.keeps_keras = True  # says, to whoever finds it in Streamlit (a test), that this is the replacement


def keep_compiled_functions() -> bool:
    """Replace Streamlit's after-run clean-up by one that leaves Keras and TensorFlow alone; False where this Streamlit
    version has no such clean-up (nothing to replace)."""
    from streamlit.runtime.scriptrunner import script_runner

    streamlits_own = getattr(script_runner, "_clean_problem_modules", None)
    if not callable(streamlits_own):
        return False
    if streamlits_own is not _close_figures:
        _close_figures.replaced = streamlits_own  # kept for the tests, which show what it did
        script_runner._clean_problem_modules = _close_figures
    return True
