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
`--shard auto` takes i and n from a Kubernetes Indexed Job or a Slurm array (training/lib/shards.py;
deploy/ holds a manifest and an sbatch script). A shard with no files writes an empty part.
Decoding runs in a thread pool (Pillow releases the GIL) while the model scores
the previous batch.
"""

from __future__ import annotations

import argparse
import os
import sys

from model_zoo.operating_point import MaxFprError, parse_max_fpr
from model_zoo.selection import CHOICE_HELP, DEFAULT_CHOICE
from training.lib.cli import at_least, exit_on_user_error
from training.lib.folder_scan import FORMATS, parse_shard, run
from training.lib.shards import ShardError, shard_from_environment


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders")
    parser.add_argument("--model", default=DEFAULT_CHOICE, help=CHOICE_HELP)
    parser.add_argument("--max-fpr", type=_max_fpr, metavar="RATE",
                        help="decide each model at the threshold whose false-positive rate on REAL validation images is "
                             "at most RATE (e.g. 0.01), instead of its own threshold and band; the expected test precision "
                             "and recall are printed. Measured on CIFAKE: nothing is guaranteed on other images")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--out", help="output file (.csv, .json or .jsonl); default: stdout")
    parser.add_argument("--format", choices=FORMATS, help="output format (default: from --out's suffix, else csv)")
    parser.add_argument("--recursive", action="store_true", help="also scan subfolders")
    parser.add_argument("--batch-size", type=at_least(1), default=256)
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



@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    try:
        return run(parse_args(argv))
    except BrokenPipeError:  # e.g. `... | head`: the reader has all it wanted
        sys.stdout = open(os.devnull, "w")  # Python flushes stdout again at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())

