"""The reading side: the Streamlit dashboard pages and the JSON prediction API over the zoo."""

import model_zoo  # noqa: F401  (quiets TensorFlow's start-up log before any dashboard module imports it)
