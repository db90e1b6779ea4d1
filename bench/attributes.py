"""Time to measure every image's attributes (training.lib.data.load_attributes) and to read them back from the cache.

    nice -n 10 .venv/bin/python -m bench.attributes [--data PATH]

On the real CIFAKE (--data or $CIFAKE_PATH) when given, else on generated data of CIFAKE's size (120,000 images:
the time does not depend on what they show). The measurement goes into a fresh temporary cache, so the data's own
cache is left alone. Prints the seconds to measure all train and test images, to load them again from the cache
(the Data page's first view and `python -m training.slices` pay this), and the duplicate facts found.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from bench.common import cifake_sized_zip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.attributes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("CIFAKE_PATH"), help="CIFAKE zip (default: $CIFAKE_PATH, "
                                                                                "else generated data of its size)")
    args = parser.parse_args(argv)
    from model_zoo.image_attributes import duplicate_facts
    from training.lib.data import load_attributes, load_cifake

    source = args.data or cifake_sized_zip()
    dataset = load_cifake(source, progress=lambda _: None)
    quiet = {"progress": lambda _: None}
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        table = load_attributes(dataset, cache_dir=cache, **quiet)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        load_attributes(dataset, cache_dir=cache, **quiet)
        warm = time.perf_counter() - start
    print(f"{source}: {len(dataset.train):,} train + {len(dataset.test):,} test images")
    print(f"measure attributes: {cold:.1f} s ({len(table) / cold:,.0f} images/s); from the cache: {warm:.1f} s")
    print("duplicates: " + ", ".join(f"{key} {value:,}" for key, value in duplicate_facts(table).items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
