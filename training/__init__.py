"""Training side of the project: data loading, architectures, training and evaluation CLIs."""

import model_zoo  # noqa: F401  (quiets TensorFlow's start-up log before any training module imports it)
