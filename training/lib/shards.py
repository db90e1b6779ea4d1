"""`--shard auto`: which slice of the files this worker scans, read from the scheduler that started it.

Kubernetes Indexed Job: the index is JOB_COMPLETION_INDEX (set by Kubernetes in every pod of a
Job with `completionMode: Indexed`). Kubernetes does not tell a pod how many completions its Job
has, so the manifest sets JOB_COMPLETIONS to the same number as `spec.completions`
(deploy/k8s-indexed-job.yaml does).

Slurm job array: the index is SLURM_ARRAY_TASK_ID counted from SLURM_ARRAY_TASK_MIN in steps of
SLURM_ARRAY_TASK_STEP, the count SLURM_ARRAY_TASK_COUNT; so `--array=0-7`, `--array=1-8` and
`--array=0-14:2` all give shards 0..7 of 8. Arrays with uneven indices (`--array=1,4,9`) are
refused: their task ids do not map onto 0..n-1 without the whole list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

KUBERNETES_INDEX = "JOB_COMPLETION_INDEX"
KUBERNETES_COUNT = "JOB_COMPLETIONS"  # ours, not Kubernetes': the manifest sets it to spec.completions
SLURM_ID, SLURM_COUNT = "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"
SLURM_MIN, SLURM_MAX, SLURM_STEP = "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP"


class ShardError(ValueError):
    """The scheduler's variables are missing or do not describe one shard of n."""


@dataclass(frozen=True)
class Shard:
    index: int
    count: int
    source: str  # where index and count came from, for the log line


def _int(env: Mapping[str, str], name: str) -> int:
    value = env[name]
    try:
        return int(value)
    except ValueError:
        raise ShardError(f"--shard auto: {name}={value!r} is not a whole number") from None


def _kubernetes(env: Mapping[str, str]) -> Shard:
    index = _int(env, KUBERNETES_INDEX)
    if KUBERNETES_COUNT not in env:
        raise ShardError(
            f"--shard auto: {KUBERNETES_INDEX} is set but {KUBERNETES_COUNT} is not. Kubernetes does not tell a pod "
            f"how many completions its Job has: add `- name: {KUBERNETES_COUNT}` with `value: \"<spec.completions>\"` "
            "to the container's env (see deploy/k8s-indexed-job.yaml)")
    count = _int(env, KUBERNETES_COUNT)
    if count < 1 or not 0 <= index < count:
        raise ShardError(f"--shard auto: {KUBERNETES_INDEX}={index} is not in 0..{KUBERNETES_COUNT}-1 "
                         f"({KUBERNETES_COUNT}={count}); set {KUBERNETES_COUNT} to the Job's spec.completions")
    return Shard(index, count, f"Kubernetes Indexed Job ({KUBERNETES_INDEX}={index}, {KUBERNETES_COUNT}={count})")


def _slurm(env: Mapping[str, str]) -> Shard:
    task = _int(env, SLURM_ID)
    if SLURM_COUNT not in env:
        raise ShardError(f"--shard auto: {SLURM_ID} is set but {SLURM_COUNT} is not; submit with sbatch --array")
    count = _int(env, SLURM_COUNT)
    low = _int(env, SLURM_MIN) if SLURM_MIN in env else 0
    step = _int(env, SLURM_STEP) if SLURM_STEP in env else 1
    offset = task - low
    uneven = (
        count < 1 or step < 1 or offset % step != 0 or not 0 <= offset // step < count
        or (SLURM_MAX in env and _int(env, SLURM_MAX) != low + (count - 1) * step)
    )
    if uneven:
        raise ShardError(f"--shard auto: Slurm array task {task} of {count} (min {low}, step {step}) does not map onto "
                         "shards 0..n-1; use evenly spaced indices such as --array=0-7, --array=1-8 or --array=0-14:2")
    index = offset // step
    return Shard(index, count, f"Slurm array ({SLURM_ID}={task}, {SLURM_COUNT}={count}, {SLURM_MIN}={low})")


def shard_from_environment(env: Mapping[str, str] | None = None) -> Shard:
    """This worker's shard from a Kubernetes Indexed Job's or a Slurm array's variables; ShardError if neither fits."""
    env = os.environ if env is None else env
    kubernetes, slurm = KUBERNETES_INDEX in env, SLURM_ID in env
    if kubernetes and slurm:
        raise ShardError(f"--shard auto: both {KUBERNETES_INDEX} (Kubernetes) and {SLURM_ID} (Slurm) are set; "
                         "give --shard i/n explicitly")
    if kubernetes:
        return _kubernetes(env)
    if slurm:
        return _slurm(env)
    raise ShardError(f"--shard auto needs a scheduler: a Kubernetes Indexed Job ({KUBERNETES_INDEX} and "
                     f"{KUBERNETES_COUNT}) or a Slurm array ({SLURM_ID} and {SLURM_COUNT}); elsewhere give --shard i/n")
