"""Time `python -m training.faithfulness all` on the zoo: target 10 minutes for every model on this CPU.

    python -m bench.faithfulness [--data PATH] [--zoo DIR] [NAME ...]

Runs the command exactly as a user would (100-image stratified sample, four methods, deletion and
insertion against random order, the randomisation check, class-mean heatmaps) on a temporary copy
of the zoo, so the entries are not touched. Prints wall-clock and CPU seconds per model and in
total, and the load average: on a shared machine the wall clock grows with other processes' load
while the CPU seconds do not. Uses $CIFAKE_PATH, else generates CIFAKE-sized data once in a temp dir.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import cifake_sized_zip

TARGET_SECONDS = 600.0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faithfulness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="zoo entries (default: every entry)")
    parser.add_argument("--data", help="CIFAKE zip or folder (default: $CIFAKE_PATH, else generated data)")
    parser.add_argument("--zoo", help="zoo folder to copy (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    args = parser.parse_args()

    from model_zoo import list_entries, load_model, zoo_dir
    from training.lib.data import load_cifake
    from training.lib.faithfulness_study import evaluate_faithfulness

    data = args.data or os.environ.get("CIFAKE_PATH") or str(cifake_sized_zip())
    entries, _ = list_entries(zoo_dir(args.zoo))
    entries = [e for e in entries if not args.names or e.name in args.names]
    load_before = os.getloadavg()
    start_wall, start_cpu = time.perf_counter(), _cpu_seconds()
    dataset = load_cifake(data, progress=lambda _: None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for entry in entries:
            shutil.copytree(entry.path, Path(tmp) / entry.name)
            wall, cpu = time.perf_counter(), _cpu_seconds()
            model = load_model(entry)
            evaluate_faithfulness(entry.name, dataset, tmp, model=model)
            rows.append((entry.name, entry.card.params, time.perf_counter() - wall, _cpu_seconds() - cpu))
            print(f"  {entry.name:<16} {rows[-1][1]:>11,} params  {rows[-1][2]:7.1f} s wall  {rows[-1][3]:7.1f} s CPU",
                  flush=True)
    total_wall, total_cpu = time.perf_counter() - start_wall, _cpu_seconds() - start_cpu
    load_after = os.getloadavg()
    command = " ".join(args.names) if args.names else "all"
    print(f"python -m training.faithfulness {command} ({len(rows)} models, data {data}): {total_wall:.0f} s wall, "
          f"{total_cpu:.0f} s CPU (target {TARGET_SECONDS:.0f} s wall: {'met' if total_wall <= TARGET_SECONDS else 'MISSED'})")
    print(f"{os.cpu_count()} CPU cores; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
          "(above the core count, other processes shared the CPU and the wall clock grew accordingly)")


if __name__ == "__main__":
    main()
