"""Score image files and folders with zoo models: one row per image per model.

    python -m training.predict PATH [PATH ...] [--model NAME|zoo|best|fastest|all|all-including-studies] [--zoo DIR]
                               [--max-fpr RATE]
                               [--out results.csv|.json|.jsonl] [--format csv|json|jsonl]
                               [--recursive] [--batch-size N] [--shard i/n|auto]

Rows hold path, model, label (REAL/FAKE), prob_fake and error; a file that cannot
be decoded gets an error row and the run goes on. prob_fake is the model's
calibrated P(FAKE) and label is FAKE when it reaches the model's own threshold
(fitted on validation, stored in its card; model_zoo.decision). JSON records also
carry that threshold and "predictions" shaped like the Hugging Face
image-classification pipeline, [{"label": "FAKE", "score": 0.97}, {"label": "REAL", "score": 0.03}].
The provenance column (a "provenance" object in JSON) is what the file's metadata says about its
origin (C2PA, IPTC digitalSourceType, generator parameters, EXIF Software; model_zoo.provenance): a
separate signal, never part of prob_fake or label.
decision is REAL, FAKE or UNCERTAIN (P(FAKE) inside the band fitted on validation around the
threshold, where verdicts were right less than 99% of the time); in_distribution is False when the
image had to be resized (the models learnt from 32x32 images) or its features look unlike CIFAKE
(novelty above the validation cut-off), True when neither, empty when unknown (an older entry
without novelty stats). JSON records are the API's verdicts (model_zoo.verdicts.Verdict.as_dict: the
full input check with plain-words messages, model_version, inference_time_ms as this model's time per
image of its batch); every entry point judges through model_zoo.judge.
`--model zoo` (the default) is the zoo's consensus of its detectors (model_zoo.consensus: one row per
file; a zoo without one uses the best single model, with a warning); `best` picks the leaderboard's top
single model (highest test accuracy, then ROC-AUC, fewer parameters, name; validation accuracy when none
was evaluated), the next one when its model will not load; `fastest` the quickest model within one
point of the best test accuracy (recorded latency, model_zoo.tradeoff; latencies within 10% of the quickest
are a tie, won by the more accurate); `all` runs every usable detector, `all-including-studies` the
study arms too (model_zoo.roles). Rows come file by file, one per model. Model choice lives in model_zoo.selection.
`--max-fpr 0.01` decides each model at the threshold whose false-positive rate on its REAL validation
images is at most 1% (model_zoo.operating_point; the expected test precision and recall are printed).
The rate is measured on CIFAKE: on images unlike CIFAKE nothing is guaranteed.

Sharding a big folder across N workers (processes or hosts sharing the folder):
every worker lists the same files, sorts them by path, and keeps those whose
index in the sorted list % N == i, so the shards are disjoint, cover every file
and are balanced to within one file. Give every worker the same PATH arguments:
    worker 0:  python -m training.predict photos/ --recursive --shard 0/2 --out part0.jsonl
    worker 1:  python -m training.predict photos/ --recursive --shard 1/2 --out part1.jsonl
    then:      cat part*.jsonl > all.jsonl     (CSV parts each carry a header row)
`--shard auto` takes i and n from a Kubernetes Indexed Job or a Slurm array (training/shards.py;
deploy/ holds a manifest and an sbatch script). A shard with no files writes an empty part.
Decoding runs in a thread pool (Pillow releases the GIL) while the model scores
the previous batch.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from model_zoo import LoadedModel
from model_zoo.judge import JudgedImage, decode_images, join_decoded, judge_decoded
from model_zoo.operating_point import MaxFprError, operating_points, parse_max_fpr
from model_zoo.selection import CHOICE_HELP, DEFAULT_CHOICE, load_choice
from training.cli import exit_on_user_error
from training.shards import ShardError, shard_from_environment

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
FORMATS = ("csv", "json", "jsonl")
COLUMNS = ("path", "model", "label", "prob_fake", "error", "provenance", "decision", "in_distribution")



def parse_shard(text: str) -> tuple[int, int] | str:
    """'i/n' -> (i, n) with 0 <= i < n; 'auto' stays 'auto' (resolved from the scheduler's variables)."""
    if text == "auto":
        return text
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"--shard {text}: need 0 <= i < n")
    return index, count


def collect_files(paths: Iterable[str | os.PathLike], recursive: bool = False) -> list[Path]:
    """Files named directly (any extension) plus image files inside folders; sorted, without duplicates."""
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = path.rglob("*") if recursive else path.iterdir()
            found.update(p for p in candidates if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                         and not p.name.startswith("."))
        elif path.exists():
            found.add(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return sorted(found, key=str)


def shard(files: list[Path], index: int, count: int) -> list[Path]:
    """The files whose position in the sorted list % count == index."""
    return [f for position, f in enumerate(sorted(files, key=str)) if position % count == index]


# Choosing models (NAME|zoo|best|fastest|all|all-including-studies) has one home: model_zoo.selection.
resolve_models = load_choice


def rows_of(judged: JudgedImage, models: list[LoadedModel]) -> Iterator[dict[str, Any]]:
    """One row per model for a judged file: the CSV columns, and the Verdict itself for JSON (None on an error)."""
    if judged.error:
        for loaded in models:
            yield {"path": judged.name, "model": loaded.name, "label": "", "prob_fake": None, "error": judged.error,
                   "provenance": judged.provenance, "verdict": None}
        return
    for verdict in judged.verdicts:
        yield {"path": judged.name, "model": verdict.model, "label": verdict.label, "prob_fake": verdict.prob_fake,
               "error": "", "decision": verdict.decision, "in_distribution": verdict.in_distribution,
               "provenance": judged.provenance, "verdict": verdict}


def score_files(
    files: list[Path], models: list[LoadedModel], batch_size: int = 256, workers: int | None = None,
    override: dict[str, float] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one row per file per model (rows_of), decoding batches ahead in threads while the models judge one.

    Judging is model_zoo.judge's: decode_images on parts of a batch in the threads, judge_decoded on the whole.
    """
    workers = workers or min(4, os.cpu_count() or 1)
    part = max(1, -(-batch_size // workers))  # ceil: one decode job per worker per batch
    batches = [files[i : i + batch_size] for i in range(0, len(files), batch_size)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[list[Future]] = deque()
        ahead = 2  # batches decoding while the models judge one: keeps them busy, bounds memory
        submitted = 0
        for done in range(len(batches)):
            while submitted < len(batches) and submitted - done <= ahead:
                batch = batches[submitted]
                pending.append([pool.submit(decode_images, batch[i : i + part], models)
                                for i in range(0, len(batch), part)])
                submitted += 1
            decoded = join_decoded([future.result() for future in pending.popleft()])
            for judged in judge_decoded(decoded, models, override):
                yield from rows_of(judged, models)


class RowWriter:
    """Streams rows as CSV, one JSON array, or JSON lines."""

    def __init__(self, stream: IO[str], fmt: str):
        self.stream, self.fmt, self.count = stream, fmt, 0
        if fmt == "csv":
            self.csv = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
            self.csv.writeheader()
        elif fmt == "json":
            stream.write("[")

    @staticmethod
    def record(row: dict[str, Any]) -> dict[str, Any]:
        # Provenance (the file's metadata) rides beside the verdict; it never enters prob_fake or label.
        provenance = {"provenance": row["provenance"].as_dict()} if row.get("provenance") else {}
        if row["error"]:
            return {"path": row["path"], "model": row["model"], "error": row["error"], **provenance}
        return {"path": row["path"], **row["verdict"].as_dict(), **provenance}

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "csv":
            prob = "" if row["prob_fake"] is None else f"{row['prob_fake']:.6f}"
            provenance = row["provenance"].short() if row.get("provenance") else ""
            self.csv.writerow({**row, "prob_fake": prob, "provenance": provenance})
        elif self.fmt == "json":
            self.stream.write(("," if self.count else "") + "\n  " + json.dumps(self.record(row)))
        else:
            self.stream.write(json.dumps(self.record(row)) + "\n")
        self.count += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write("\n]\n" if self.count else "]\n")
        self.stream.flush()


class Progress:
    """One status line on stderr with images/s, redrawn in place on a terminal."""

    def __init__(self, total: int, stream: IO[str] | None = None, every: float = 1.0):
        self.total, self.stream, self.every = total, stream or sys.stderr, every
        self.start = self.last = time.perf_counter()
        self.tty = self.stream.isatty()

    def line(self, done: int) -> str:
        seconds = max(time.perf_counter() - self.start, 1e-9)
        percent = 100 * done // max(self.total, 1)
        return f"scanned {done:,}/{self.total:,} images ({percent}%), {done / seconds:,.0f} images/s"

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            self.stream.write(("\r" if self.tty else "") + self.line(done) + ("" if self.tty else "\n"))
            self.stream.flush()

    def finish(self, done: int, errors: int) -> None:
        note = f"; {errors:,} file(s) could not be read (see the error column)" if errors else ""
        self.stream.write(("\r" if self.tty else "") + self.line(done) + note + "\n")
        self.stream.flush()


def output_format(out: str | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(out).suffix.lower().lstrip(".") if out else ""
    return suffix if suffix in FORMATS else "csv"


def run(args: argparse.Namespace, stdout: IO[str] | None = None) -> int:
    """Scan with parsed arguments; rows go to --out (written atomically) or stdout."""
    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr, flush=True)

    if args.out and not Path(args.out).resolve().parent.is_dir():
        raise FileNotFoundError(f"--out {args.out}: folder {Path(args.out).resolve().parent} does not exist")
    files = collect_files(args.paths, args.recursive)
    if not files:
        raise FileNotFoundError(f"no image files found in {', '.join(map(str, args.paths))}"
                                + ("" if args.recursive else " (use --recursive for subfolders)"))
    if args.shard:
        index, count = args.shard
        files = shard(files, index, count)  # may be empty when there are more shards than files: an empty part
        source = f" from {args.shard_source}" if getattr(args, "shard_source", None) else ""
        print(f"shard {index}/{count}{source}: {len(files):,} file(s)", file=sys.stderr, flush=True)
    models = load_choice(args.model, args.zoo, warn)
    print(f"scoring {len(files):,} file(s) with {', '.join(m.name for m in models)}", file=sys.stderr, flush=True)
    override = None
    if getattr(args, "max_fpr", None) is not None:
        points = operating_points([m.entry for m in models], args.max_fpr)
        for point in points.values():
            print(point.describe(), file=sys.stderr, flush=True)
        override = {name: point.threshold for name, point in points.items()}
    fmt = output_format(args.out, args.format)
    out_path = Path(args.out) if args.out else None
    partial = out_path.with_name(out_path.name + ".partial") if out_path else None
    stream = open(partial, "w", newline="", encoding="utf-8") if partial else (stdout or sys.stdout)
    writer, progress = RowWriter(stream, fmt), Progress(len(files))
    errors, rows_per_file = 0, len(models)
    try:
        for row in score_files(files, models, args.batch_size, override=override):
            writer.write(row)
            errors += bool(row["error"])
            progress.update(writer.count // rows_per_file)
        writer.close()
    finally:
        if partial:
            stream.close()
    if out_path and partial:
        os.replace(partial, out_path)
    progress.finish(len(files), errors // rows_per_file)
    if out_path:
        print(f"wrote {writer.count:,} row(s) to {out_path}", file=sys.stderr)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders")
    parser.add_argument("--model", default=DEFAULT_CHOICE, help=CHOICE_HELP)
    parser.add_argument("--max-fpr", type=_max_fpr, metavar="RATE",
                        help="decide each model at the threshold whose false-positive rate on REAL validation images is "
                             "at most RATE (e.g. 0.01), instead of its own threshold and band; the expected test precision "
                             "and recall are printed. Measured on CIFAKE: nothing is guaranteed on other images")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/)")
    parser.add_argument("--out", help="output file (.csv, .json or .jsonl); default: stdout")
    parser.add_argument("--format", choices=FORMATS, help="output format (default: from --out's suffix, else csv)")
    parser.add_argument("--recursive", action="store_true", help="also scan subfolders")
    parser.add_argument("--batch-size", type=_positive_int, default=256)
    parser.add_argument("--shard", type=parse_shard, metavar="i/n|auto",
                        help="only files whose sorted index %% n == i; auto: i and n from a Kubernetes Indexed Job "
                             "(JOB_COMPLETION_INDEX, JOB_COMPLETIONS) or a Slurm array (SLURM_ARRAY_TASK_ID/_COUNT)")
    args = parser.parse_args(argv)
    if args.shard == "auto":
        try:
            found = shard_from_environment()
        except ShardError as exc:
            parser.error(str(exc))
        args.shard, args.shard_source = (found.index, found.count), found.source
    return args


def _max_fpr(text: str) -> float:
    try:
        return parse_max_fpr(text)
    except MaxFprError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    try:
        return run(parse_args(argv))
    except BrokenPipeError:  # e.g. `... | head`: the reader has all it wanted
        sys.stdout = open(os.devnull, "w")  # Python flushes stdout again at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
