"""`--shard auto` under Kubernetes Indexed Job and Slurm array variables, and the deploy/ scripts that use it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from training.lib.folder_scan import collect_files, shard
from training.lib.shards import ShardError, shard_from_environment
from training.predict import main, parse_args

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEDULER_VARIABLES = ("JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT",
                       "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP")


def kubernetes(index: int, count: int) -> dict[str, str]:
    return {"JOB_COMPLETION_INDEX": str(index), "JOB_COMPLETIONS": str(count)}


def slurm(task: int, count: int, low: int = 0, step: int = 1) -> dict[str, str]:
    """What Slurm sets for task `task` of `--array=low-high:step`."""
    return {"SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_TASK_COUNT": str(count), "SLURM_ARRAY_TASK_MIN": str(low),
            "SLURM_ARRAY_TASK_MAX": str(low + (count - 1) * step), "SLURM_ARRAY_TASK_STEP": str(step)}


# Every worker of one job: Kubernetes indexes 0..n-1; Slurm arrays 0-4, 1-5 (not starting at 0) and 3-11:2.
JOBS = {
    "kubernetes": [kubernetes(i, 5) for i in range(5)],
    "slurm 0-4": [slurm(i, 5) for i in range(5)],
    "slurm 1-5": [slurm(i, 5, low=1) for i in range(1, 6)],
    "slurm 3-11:2": [slurm(i, 5, low=3, step=2) for i in range(3, 12, 2)],
}


@pytest.fixture
def clean_env(monkeypatch):
    for name in SCHEDULER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def images_dir(synthetic_folder) -> Path:
    return synthetic_folder / "test"  # 40 images in REAL/ and FAKE/


@pytest.mark.parametrize("job", JOBS)
def test_every_worker_of_a_job_gets_a_distinct_shard_and_together_they_cover_every_file(job, clean_env):
    files = [Path(f"photos/img{i:03d}.jpg") for i in range(23)]
    shards = []
    for variables in JOBS[job]:
        for name, value in variables.items():
            clean_env.setenv(name, value)
        args = parse_args(["photos", "--shard", "auto"])  # what the CLI does with the environment
        shards.append(args.shard)
    assert sorted(shards) == [(i, 5) for i in range(5)]
    parts = [shard(files, *one) for one in shards]
    flat = [f for part in parts for f in part]
    assert len(flat) == len(set(flat)) == len(files) and set(flat) == set(files)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize(("env", "message"), [
    ({}, "needs a scheduler"),
    ({"JOB_COMPLETION_INDEX": "2"}, "but JOB_COMPLETIONS is not"),
    (kubernetes(4, 4), "is not in 0..JOB_COMPLETIONS-1"),
    ({"JOB_COMPLETION_INDEX": "two", "JOB_COMPLETIONS": "4"}, "is not a whole number"),
    ({"SLURM_ARRAY_TASK_ID": "3"}, "but SLURM_ARRAY_TASK_COUNT is not"),
    # --array=1,4,9: three tasks whose ids are not evenly spaced
    ({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1",
      "SLURM_ARRAY_TASK_MAX": "9", "SLURM_ARRAY_TASK_STEP": "1"}, "evenly spaced"),
    ({**kubernetes(0, 2), **slurm(0, 2)}, "both"),
])
def test_missing_or_inconsistent_variables_are_refused_with_a_reason(env, message):
    with pytest.raises(ShardError, match=message):
        shard_from_environment(env)


def test_auto_without_a_scheduler_is_a_usage_error(clean_env, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["photos", "--shard", "auto"])
    assert exit_info.value.code == 2
    assert "needs a scheduler" in capsys.readouterr().err


def test_more_shards_than_files_writes_empty_parts(images_dir, trained_zoo, tmp_path, clean_env):
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in sorted((images_dir / "REAL").iterdir())[:2]:
        (photos / source.name).write_bytes(source.read_bytes())
    lines = []
    for index in range(3):
        for name, value in kubernetes(index, 3).items():
            clean_env.setenv(name, value)
        out = tmp_path / f"part-{index}.jsonl"
        assert main([str(photos), "--zoo", str(trained_zoo), "--shard", "auto", "--out", str(out)]) == 0
        lines.append(out.read_text().splitlines())
    assert [len(part) for part in lines] == [1, 1, 0]


# --- the deploy/ files, run as a scheduler would run them -----------------------------------------------

MERGE = 'test "$(ls {results}/part-*.jsonl | wc -l)" -eq {count} && cat {results}/part-*.jsonl > {results}/all.jsonl'


def _merge(results: Path, count: int) -> list[dict]:
    """The README's one-line merge, then the merged records."""
    subprocess.run(["sh", "-c", MERGE.format(results=shlex.quote(str(results)), count=count)], check=True)
    return [json.loads(line) for line in (results / "all.jsonl").read_text().splitlines()]


def _shim(tmp_path: Path, name: str, body: str) -> Path:
    shim = tmp_path / "bin" / name
    shim.parent.mkdir(exist_ok=True)
    shim.write_text(f"#!/bin/sh\n{body}\n")
    shim.chmod(0o755)
    return shim


def _argv_printer(tmp_path: Path) -> Path:
    """A stand-in interpreter that prints the arguments it was given, one per NUL, and exits."""
    return _shim(tmp_path, "print-argv", "printf '%s\\0' \"$@\"")


def _scheduler_free_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCHEDULER_VARIABLES}
    return {**env, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def _scan_arguments(command: list[str], env: dict[str, str]) -> list[str]:
    """The predict arguments a deploy command passes after the shell has expanded it (interpreter replaced)."""
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    argv = done.stdout.split("\0")[:-1]
    assert argv[:2] == ["-m", "training.predict"], argv
    return argv[2:]


def _run_as_worker(argv: list[str], variables: dict[str, str], monkeypatch, capsys) -> str:
    """main(argv) in this process under one worker's scheduler variables; returns its stderr."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 0
    return capsys.readouterr().err


def test_kubernetes_manifest_runs_one_part_per_index_and_the_merge_covers_every_file(
        images_dir, trained_zoo, tmp_path, clean_env, capsys):
    job = yaml.safe_load((DEPLOY / "k8s-indexed-job.yaml").read_text())
    spec = job["spec"]
    assert job["kind"] == "Job" and spec["completionMode"] == "Indexed"
    [container] = spec["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    count = spec["completions"]
    assert env["JOB_COMPLETIONS"] == str(count)  # the count --shard auto reads must be the Job's
    assert {env["PHOTOS"], env["RESULTS"]} <= {m["mountPath"] for m in container["volumeMounts"]}
    results = tmp_path / "results"
    results.mkdir()
    volumes = {"PHOTOS": str(images_dir), "RESULTS": str(results)}  # the mounts, mapped onto temp folders
    command = container["command"] + container["args"]
    # Index 0 runs the container's command for real, with this venv's interpreter as `python`.
    python = _shim(tmp_path, "python", f'exec {shlex.quote(sys.executable)} "$@"')
    pod = {**env, **volumes, "JOB_COMPLETION_INDEX": "0", "MODEL_ZOO_DIR": str(trained_zoo)}
    done = subprocess.run(command, env=_scheduler_free_env(**pod, PATH=f"{python.parent}{os.pathsep}{os.environ['PATH']}"),
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"shard 0/{count} from Kubernetes Indexed Job" in done.stderr
    # The other indexes: the same command expanded by the shell, scanned in this process (one interpreter start).
    clean_env.setenv("MODEL_ZOO_DIR", str(trained_zoo))
    python.write_text(_argv_printer(tmp_path).read_text())
    for index in range(1, count):
        pod = {**env, **volumes, "JOB_COMPLETION_INDEX": str(index)}
        argv = _scan_arguments(command, _scheduler_free_env(**pod, PATH=f"{python.parent}{os.pathsep}{os.environ['PATH']}"))
        assert argv[argv.index("--out") + 1] == str(results / f"part-{index}.jsonl")
        err = _run_as_worker(argv, {"JOB_COMPLETION_INDEX": str(index), "JOB_COMPLETIONS": env["JOB_COMPLETIONS"]},
                             clean_env, capsys)
        assert f"shard {index}/{count} from Kubernetes Indexed Job" in err
    assert sorted(p.name for p in results.iterdir()) == [f"part-{i}.jsonl" for i in range(count)]
    records = _merge(results, count)
    every_file = [str(p) for p in collect_files([images_dir], recursive=True)]
    assert sorted(r["path"] for r in records) == sorted(every_file)  # each file once: disjoint and complete


def test_slurm_script_runs_one_part_per_array_task_and_the_merge_covers_every_file(
        images_dir, trained_zoo, tmp_path, clean_env, capsys):
    script = DEPLOY / "slurm-scan.sbatch"
    assert "#SBATCH --array=" in script.read_text() and "--shard auto" in script.read_text()
    results = tmp_path / "shared" / "results"  # the script creates it
    tasks = range(1, 4)  # sbatch --array=1-3: an array that does not start at 0
    command = ["bash", str(script), str(images_dir), str(results)]
    # Task 1 runs the script for real; tasks 2 and 3 run the arguments it expands to in this process.
    first = _scheduler_free_env(**slurm(1, len(tasks), low=1), SLURM_SUBMIT_DIR=str(ROOT), PYTHON=sys.executable,
                                MODEL_ZOO_DIR=str(trained_zoo))
    done = subprocess.run(command, env=first, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"shard 0/{len(tasks)} from Slurm array" in done.stderr
    clean_env.setenv("MODEL_ZOO_DIR", str(trained_zoo))
    for task in tasks[1:]:
        env = _scheduler_free_env(**slurm(task, len(tasks), low=1), SLURM_SUBMIT_DIR=str(ROOT),
                                  PYTHON=str(_argv_printer(tmp_path)))
        argv = _scan_arguments(command, env)
        err = _run_as_worker(argv, slurm(task, len(tasks), low=1), clean_env, capsys)
        assert f"shard {task - 1}/{len(tasks)} from Slurm array" in err
    assert sorted(p.name for p in results.iterdir()) == [f"part-{task}.jsonl" for task in tasks]
    records = _merge(results, len(tasks))
    every_file = [str(p) for p in collect_files([images_dir], recursive=True)]
    assert sorted(r["path"] for r in records) == sorted(every_file)


def test_merge_refuses_when_a_part_is_missing(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "part-0.jsonl").write_text('{"path": "a.jpg"}\n')
    (results / "part-1.jsonl.partial").write_text('{"path": "b.jpg"}\n')  # still being written
    command = MERGE.format(results=shlex.quote(str(results)), count=2)
    assert subprocess.run(["sh", "-c", command]).returncode != 0
    assert not (results / "all.jsonl").exists()
