"""Judge files and folders with zoo models, one row per image: the library behind `python -m training.predict`."""

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
from model_zoo.operating_point import operating_points
from model_zoo.selection import load_choice

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

