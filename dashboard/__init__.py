"""The reading side: the Streamlit dashboard pages and the JSON prediction API over the zoo."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) is noise in a server log.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
