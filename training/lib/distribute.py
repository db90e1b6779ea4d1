"""tf.distribute strategies for training on several GPUs or hosts.

    default      one device (the GPU if there is one, else the CPU)
    mirrored     MirroredStrategy: every GPU on this host (or every logical CPU device
                 when there is no GPU: that is how the tests exercise it)
    multiworker  MultiWorkerMirroredStrategy across hosts; each host sets TF_CONFIG
                 (cluster spec + its own task) and runs the same command
The batch size given on the command line is per replica; the global batch is
that times the number of replicas.
"""

from __future__ import annotations

import json
import os

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(kind: str = "default"):
    import tensorflow as tf

    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if kind == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy '{kind}'; choose one of {', '.join(STRATEGIES)}")


def worker_task() -> tuple[str, int]:
    """(task type, index) from TF_CONFIG; ("chief", 0) when not in a multi-worker cluster."""
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    return task.get("type", "chief"), int(task.get("index", 0))


def is_chief() -> bool:
    """Only the chief (or worker 0 when no chief is named) writes checkpoints and the zoo entry."""
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    task_type, index = worker_task()
    return task_type == "chief" or (task_type == "worker" and index == 0 and "chief" not in cluster)
