"""Measure each model's single-image latency and batch throughput; record both in its card (the "latency" block).

    python -m training.latency [NAME ...] [--repeats 30] [--zoo DIR]

Without names every usable entry is measured. The models are loaded together and timed
round-robin (one call of each per round, after a warm-up), so load from other programs
slows all of them alike and their figures compare; rerun it for all entries after adding
one. Latency is one image's wait (an upload); throughput, images per second in batches of
256 (a folder scan), is what bulk work gets. The leaderboard's Pareto front and `--model fastest`
(model_zoo.tradeoff) read this block; why it is not evaluation.images_per_second is said there.
"""

from __future__ import annotations

import argparse
import sys

from model_zoo import ZooError, load_usable_models
from training.lib.cli import exit_on_user_error, read_named_entries, warn_skipped
from training.lib.latency_timing import THROUGHPUT_BATCH, latency_block, measure_latencies, measure_throughput, record_latency


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help="zoo entries (default: all)")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per model (default 30)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    args = parser.parse_args(argv)
    # Named or all, every model that loads is timed; one that will not is skipped with its reason.
    loaded, unusable = load_usable_models(read_named_entries(args.names or ["all"], args.zoo))
    warn_skipped(unusable)
    if not loaded:
        raise ZooError("no usable models to time")
    print(f"timing {len(loaded)} model(s): single images, then batches of {THROUGHPUT_BATCH}", flush=True)
    times = measure_latencies(list(loaded.values()), max(1, args.repeats))
    throughput = measure_throughput(list(loaded.values()))
    for name, values in times.items():
        block = latency_block(values, throughput[name])
        record_latency(name, block, args.zoo)
        print(f"{name}: {block['ms_per_image']:.2f} ms per image (median of {block['repeats']}, "
              f"p90 {block['p90_ms']:.2f} ms); {block['images_per_second']:,.0f} images/s in batches of "
              f"{THROUGHPUT_BATCH}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

