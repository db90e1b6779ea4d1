"""Training side of the project: data loading, architectures, training and evaluation CLIs."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) buries our progress output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
